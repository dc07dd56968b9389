"""Hyperparameters + feature schema -> a compiled Keras MLP with preprocessing inside; loading and predicting.

Contract: `build_model(hp, schema, n_classes, steps_per_execution)` returns a
compiled `keras.Model` that takes RAW features in the form
`trainable.data.encoding.encode` produces: a float matrix (n, d) for
all-numeric data (the "matrix" input form), or a dict of one (n, 1) array per
column ("columns"). Inside the model: numeric columns are imputed (`Impute`,
if the schema has fill values) and normalised (`Normalization` with
training-split statistics); categorical columns are one-hot encoded by
`StringLookup` with the training vocabulary (unknown values go to an
out-of-vocabulary slot); then the hidden layers of the configuration
(`trainable.trial.architecture`). Binary tasks get one sigmoid unit
(probability of class 1), multiclass tasks a softmax. `model_inputs(schema)`
and `numeric_block(inputs, schema)` are the raw inputs every model of a
trial shares. `load_model(path)` loads a checkpointed or exported model
(custom layers registered); `predict_proba(model, X)` is the one way hpsearch
predicts with a model (checkpoint scoring, export, report, `hpsearch
predict`), so they all see the same numbers. Keras is imported inside the
functions so importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainable.data.encoding import to_model_input
from trainable.data.schema import ColumnSchema, input_form
from trainable.trial.architecture import Architecture, dense, hidden_layers, layer_seed

__all__ = [
    "PREDICT_ROWS",
    "build_model",
    "encoder",
    "head",
    "load_model",
    "loss",
    "model_inputs",
    "numeric_block",
    "predict_output",
    "predict_proba",
]

PREDICT_ROWS = 32768  # rows per call when predicting


def load_model(path: Any) -> Any:
    """`keras.models.load_model` with hpsearch's custom layers registered."""
    import trainable.trial.layers  # noqa: F401  (registers hpsearch>Impute)
    from trainable.runtime.environment import import_keras

    return import_keras().models.load_model(path)


def predict_output(model: Any, X: Any) -> np.ndarray:
    """The model's output for `X` (a matrix or a dict of columns), in direct calls of
    `PREDICT_ROWS` rows: no traced predict function (a model compiled with a large
    `steps_per_execution` would unroll that many steps into it)."""
    n = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
    parts = []
    for start in range(0, n, PREDICT_ROWS):
        rows = slice(start, start + PREDICT_ROWS)
        chunk = {k: v[rows] for k, v in X.items()} if isinstance(X, dict) else X[rows]
        parts.append(np.asarray(model(to_model_input(chunk), training=False)))
    return np.concatenate(parts)


def predict_proba(model: Any, X: Any) -> np.ndarray:
    """The model's probabilities for `X` (a matrix or a dict of columns), as float64."""
    return np.asarray(predict_output(model, X), dtype=np.float64)


def model_inputs(schema: list[ColumnSchema]) -> Any:
    """The model's raw inputs: one float matrix ("matrix" form) or one input per column."""
    import keras

    if input_form(schema) == "matrix":
        return keras.Input(shape=(len(schema),), name="features")
    return {c.input: keras.Input(shape=(1,), name=c.input, dtype="float32" if c.numeric else "string") for c in schema}


def numeric_block(inputs: Any, schema: list[ColumnSchema]) -> Any:
    """The numeric columns as one (n, d) tensor, or None."""
    import keras

    if not isinstance(inputs, dict):
        return inputs
    block = [inputs[c.input] for c in schema if c.numeric]
    if not block:
        return None
    return keras.layers.Concatenate(name="numeric")(block) if len(block) > 1 else block[0]


def _preprocess(schema: list[ColumnSchema]) -> tuple[Any, Any]:
    """-> (model inputs, encoded float tensor)."""
    import keras

    from trainable.trial.layers import Impute

    numeric = [c for c in schema if c.numeric]
    mean = np.array([c.mean for c in numeric], dtype=np.float32)
    var = np.array([c.var for c in numeric], dtype=np.float32)
    inputs = model_inputs(schema)
    x = numeric_block(inputs, schema)
    parts = []
    if x is not None:
        if any(c.fill is not None for c in numeric):
            flags = [bool(c.indicator) for c in numeric]
            x = Impute([c.fill or 0.0 for c in numeric], flags, name="impute")(x)
            n_flags = sum(flags)
            if n_flags:
                mean = np.concatenate([mean, np.zeros(n_flags, np.float32)])
                var = np.concatenate([var, np.ones(n_flags, np.float32)])
        parts.append(keras.layers.Normalization(mean=mean, variance=var, name="scale")(x))
    for c in schema:
        if not c.numeric:  # (only in the "columns" form)
            lookup = keras.layers.StringLookup(
                vocabulary=c.vocabulary, output_mode="one_hot", num_oov_indices=1, name=f"onehot_{c.input}"
            )
            parts.append(lookup(inputs[c.input]))
    x = keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]
    return inputs, x


def encoder(schema: list[ColumnSchema]) -> Any:
    """The raw inputs -> the encoded float matrix (n, d): the preprocessing every member of a pack shares."""
    import keras

    inputs, x = _preprocess(schema)
    return keras.Model(inputs, x, name="encoder")


def head(hp: dict[str, Any], width: int, n_classes: int, seed: int | None, name: str) -> Any:
    """One configuration's layers on the encoded matrix (n, `width`) -> its probabilities."""
    import keras

    x = inputs = keras.Input(shape=(width,), name=f"{name}_encoded")
    x = hidden_layers(x, Architecture.of(hp), seed=seed)
    binary = n_classes == 2
    activation = "sigmoid" if binary else "softmax"
    out = dense(None, x.shape[-1], 1 if binary else n_classes, activation, 0.0, "proba", layer_seed(seed, -1))
    return keras.Model(inputs, out(x), name=name)


def loss(n_classes: int) -> Any:
    """A single model's loss: the cross-entropy of its probabilities."""
    import keras

    if n_classes == 2:
        return keras.losses.BinaryCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy()


def build_model(hp: dict[str, Any], schema: list[ColumnSchema], n_classes: int, steps_per_execution: int) -> Any:
    import keras

    arch = Architecture.of(hp)
    inputs, x = _preprocess(schema)
    x = hidden_layers(x, arch)
    binary = n_classes == 2
    outputs = dense(None, x.shape[-1], 1 if binary else n_classes, "sigmoid" if binary else "softmax", 0.0, "proba")(x)
    model = keras.Model(inputs, outputs, name="hpsearch_mlp")
    model.compile(
        optimizer=arch.optimizer(),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model
