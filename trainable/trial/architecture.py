"""A configuration's architecture: the one builder of its hidden layers, its output layer and its optimizer.

Contract: `Architecture.of(hp)` reads a trial's sampled hyperparameters (the
names of the config's `space:`; one width per hidden layer, `width_key(i)`:
`units_0` .. `units_{n_layers-1}`) into a frozen record; this module is the
only place in `trainable` that reads them. `hidden_layers(x, arch, copies)`
stacks the hidden layers on `x`; `dense(...)` is one fully connected layer;
`arch.optimizer()` is a fresh optimizer. `copies=None` builds one model's
layers (Keras `Dense`, inputs (n, d)); `copies=k` builds k models side by side
that share nothing but their inputs (inputs (n, k, d), `EinsumDense` kernels
of shape (k, d_in, d_out), each (d_in, d_out) slice drawn as a Glorot uniform
kernel, as one model's `Dense` is): the fold-models of a cross-validated
trial. Adding a hyperparameter means a field of the space
(`search.config.space`), its line in the YAML, and its use here. Keras is
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Architecture", "dense", "hidden_layers", "layer_seed", "width_key"]


def width_key(layer: int) -> str:
    """The hyperparameter key of hidden layer `layer`'s width."""
    return f"units_{layer}"


@dataclass(frozen=True)
class Architecture:
    widths: tuple[int, ...]  # one per hidden layer
    activation: str
    dropout: float  # after each hidden layer (0: none)
    l2: float  # weight penalty on each hidden layer's kernel (0: none)
    optimizer_name: str  # adam, adamw, nadam, rmsprop or sgd (momentum 0.9)
    learning_rate: float

    @classmethod
    def of(cls, hp: Mapping[str, Any]) -> Architecture:
        return cls(
            widths=tuple(int(hp[width_key(i)]) for i in range(int(hp["n_layers"]))),
            activation=str(hp["activation"]),
            dropout=float(hp["dropout"]),
            l2=float(hp["l2"]),
            optimizer_name=str(hp["optimizer"]),
            learning_rate=float(hp["learning_rate"]),
        )

    def optimizer(self) -> Any:
        import keras

        factories = {
            "adam": keras.optimizers.Adam,
            "adamw": keras.optimizers.AdamW,
            "nadam": keras.optimizers.Nadam,
            "rmsprop": keras.optimizers.RMSprop,
            "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        }
        return factories[self.optimizer_name](learning_rate=self.learning_rate)


def layer_seed(seed: int | None, layer: int) -> int | None:
    """The initializer (and dropout) seed of a member's layer `layer` (-1: its output layer)."""
    return None if seed is None else seed * 1009 + layer % 1009


def dense(
    copies: int | None,
    fan_in: int,
    width: int,
    activation: str | None,
    l2: float,
    name: str,
    seed: int | None = None,
) -> Any:
    """A fully connected layer: one model's `Dense`, or `copies` of them side by side (see the module
    docstring). `seed` (from `layer_seed`) fixes its initial weights whatever else is built around it."""
    import keras

    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    if copies is None:
        return keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            kernel_regularizer=regularizer,
            name=name,
        )
    # Glorot uniform for each (fan_in, width) slice, stated outright: how Keras counts the
    # fans of a rank-3 einsum kernel has changed between versions.
    limit = float(np.sqrt(6.0 / (fan_in + width)))
    return keras.layers.EinsumDense(
        "nkd,kdu->nku",
        output_shape=(copies, width),
        bias_axes="ku",
        activation=activation,
        kernel_initializer=keras.initializers.RandomUniform(-limit, limit, seed=seed),
        kernel_regularizer=regularizer,
        name=name,
    )


def hidden_layers(x: Any, arch: Architecture, copies: int | None = None, seed: int | None = None) -> Any:
    """`x` through the hidden layers (`hidden_<i>`, each followed by `dropout_<i>` when dropout > 0); with a
    `seed`, each layer's initial weights and dropout masks are its own (`layer_seed`)."""
    import keras

    for i, width in enumerate(arch.widths):
        x = dense(copies, x.shape[-1], width, arch.activation, arch.l2, f"hidden_{i}", layer_seed(seed, i))(x)
        if arch.dropout > 0:
            x = keras.layers.Dropout(arch.dropout, seed=layer_seed(seed, i), name=f"dropout_{i}")(x)
    return x
