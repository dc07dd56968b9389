"""Hyperparameters -> compiled Keras MLP, with feature scaling inside the model.

Contract: `build_model(hp, n_features, n_classes, mean, variance)` returns a
compiled `keras.Model` taking raw float features of shape (n, n_features).
Scaling is a `Normalization` layer whose statistics were fitted on the training
split only, so the saved model needs no separate preprocessing. Binary tasks
get one sigmoid unit (probability of class 1), multiclass tasks a softmax.

Hyperparameter keys: `n_layers`, `units_0` .. `units_{n_layers-1}`,
`activation`, `dropout`, `l2`, `learning_rate`, `optimizer`. Keras is imported
inside the function so importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["build_model", "layer_widths"]


def layer_widths(hp: dict[str, Any]) -> list[int]:
    return [int(hp[f"units_{i}"]) for i in range(int(hp["n_layers"]))]


def _optimizer(name: str, learning_rate: float):
    import keras

    factories = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "nadam": keras.optimizers.Nadam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
    }
    return factories[name](learning_rate=learning_rate)


def build_model(
    hp: dict[str, Any],
    n_features: int,
    n_classes: int,
    mean: np.ndarray,
    variance: np.ndarray,
):
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    x = keras.layers.Normalization(mean=mean, variance=variance, name="scale")(inputs)
    l2 = float(hp.get("l2", 0.0))
    dropout = float(hp.get("dropout", 0.0))
    for i, width in enumerate(layer_widths(hp)):
        x = keras.layers.Dense(
            width,
            activation=hp["activation"],
            kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
            name=f"hidden_{i}",
        )(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if n_classes == 2:
        outputs = keras.layers.Dense(1, activation="sigmoid", name="proba")(x)
        loss = "binary_crossentropy"
    else:
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="proba")(x)
        loss = "sparse_categorical_crossentropy"
    model = keras.Model(inputs, outputs, name="hpsearch_mlp")
    model.compile(
        optimizer=_optimizer(hp["optimizer"], float(hp["learning_rate"])),
        loss=loss,
        metrics=["accuracy"],
    )
    return model
