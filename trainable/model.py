"""Hyperparameters + feature schema -> compiled Keras MLP with preprocessing inside.

Contract: `build_model(hp, schema, n_classes)` returns a compiled `keras.Model`
that takes RAW features in the form `trainable.columns.encode` produces: a
float matrix (n, d) for all-numeric data ("matrix" layout), or a dict of one
(n, 1) array per column ("columns" layout). Inside the model: numeric columns
are imputed (`Impute`, if the schema has fill values) and normalised
(`Normalization` with training-split statistics); categorical columns are
one-hot encoded by `StringLookup` with the training vocabulary (unknown values
go to an out-of-vocabulary slot). Binary tasks get one sigmoid unit
(probability of class 1), multiclass tasks a softmax.

Hyperparameter keys: `n_layers`, one width per layer (`width_key(i)`:
`units_0` .. `units_{n_layers-1}`), `activation`, `dropout`, `l2`,
`learning_rate`, `optimizer`. `load_model(path)` loads a checkpointed or
exported model (custom layers registered); `predict_proba(model, X)` is the
one way hpsearch predicts with a model (checkpoint scoring, export, report,
`hpsearch predict`), so they all see the same numbers. Keras is imported
inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainable.columns import layout, to_model_input

__all__ = ["build_model", "layer_widths", "load_model", "model_inputs", "numeric_block", "optimizer", "predict_proba",
           "width_key"]


def width_key(layer: int) -> str:
    """The hyperparameter key of hidden layer `layer`'s width."""
    return f"units_{layer}"


def layer_widths(hp: dict[str, Any]) -> list[int]:
    return [int(hp[width_key(i)]) for i in range(int(hp["n_layers"]))]


def load_model(path):
    """`keras.models.load_model` with hpsearch's custom layers registered."""
    import trainable.layers  # noqa: F401  (registers hpsearch>Impute)
    from trainable.quiet import import_keras

    return import_keras().models.load_model(path)


PREDICT_ROWS = 32768  # rows per call when predicting


def predict_output(model, X) -> np.ndarray:
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


def predict_proba(model, X) -> np.ndarray:
    """The model's probabilities for `X` (a matrix or a dict of columns), as float64."""
    return np.asarray(predict_output(model, X), dtype=np.float64)


def optimizer(name: str, learning_rate: float):
    import keras

    factories = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "nadam": keras.optimizers.Nadam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
    }
    return factories[name](learning_rate=learning_rate)


def model_inputs(schema: list[dict]):
    """The model's raw inputs: one float matrix ("matrix" layout) or one input per column."""
    import keras

    if layout(schema) == "matrix":
        return keras.Input(shape=(len(schema),), name="features")
    return {c["input"]: keras.Input(shape=(1,), name=c["input"], dtype="float32" if c["kind"] == "numeric" else "string")
            for c in schema}


def numeric_block(inputs, schema: list[dict]):
    """The numeric columns as one (n, d) tensor, or None."""
    import keras

    if not isinstance(inputs, dict):
        return inputs
    block = [inputs[c["input"]] for c in schema if c["kind"] == "numeric"]
    if not block:
        return None
    return keras.layers.Concatenate(name="numeric")(block) if len(block) > 1 else block[0]


def _preprocess(schema: list[dict]):
    """-> (model inputs, encoded float tensor)."""
    import keras

    from trainable.layers import Impute

    numeric = [c for c in schema if c["kind"] == "numeric"]
    mean = np.array([c["mean"] for c in numeric], dtype=np.float32)
    var = np.array([c["var"] for c in numeric], dtype=np.float32)
    inputs = model_inputs(schema)
    x = numeric_block(inputs, schema)
    parts = []
    if x is not None:
        if any(c.get("fill") is not None for c in numeric):
            fill = [c.get("fill") or 0.0 for c in numeric]
            flags = [bool(c.get("indicator")) for c in numeric]
            x = Impute(fill, flags, name="impute")(x)
            n_flags = sum(flags)
            if n_flags:
                mean = np.concatenate([mean, np.zeros(n_flags, np.float32)])
                var = np.concatenate([var, np.ones(n_flags, np.float32)])
        parts.append(keras.layers.Normalization(mean=mean, variance=var, name="scale")(x))
    for c in schema:
        if c["kind"] != "numeric":  # (only in the "columns" layout)
            lookup = keras.layers.StringLookup(
                vocabulary=c["vocabulary"], output_mode="one_hot", num_oov_indices=1, name=f"onehot_{c['input']}"
            )
            parts.append(lookup(inputs[c["input"]]))
    x = keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]
    return inputs, x


def build_model(hp: dict[str, Any], schema: list[dict], n_classes: int, steps_per_execution: int = 1):
    import keras

    inputs, x = _preprocess(schema)
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
        optimizer=optimizer(hp["optimizer"], float(hp["learning_rate"])),
        loss=loss,
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model
