"""k fold-models trained as one Keras model, and the ensemble exported from them.

Contract: `build_fold_model(hp, fold_schemas, n_classes, steps)` returns a
compiled model that takes the same raw inputs as `trainable.trial.model.build_model`
and outputs (n, k, C) logits: fold-model j's in slot j (C = 1 for a binary
task, else K); `probabilities(logits)` turns them into probabilities (sigmoid
or softmax). Fold-model j has its own preprocessing, fitted on its
training rows (`fold_schemas[j]`: normalisation statistics, imputation fill
values and indicators, vocabularies) and its own weights; the k share
nothing but the batches they see. Every layer computes all k at once (the
configuration's layers with `copies=k`: `trainable.trial.architecture`), so a
step costs about what one model's step costs on small tables.
It trains with `trainable.trial.layers.FoldLoss`, whose targets carry each row's
weight per fold-model (0 where the row is held out). `ensemble(model)` is the
model to export: the same inputs, the k fold-models' probabilities (layer
`proba`, (n, k, C)) averaged, shape (n, 1) or (n, K) like a single model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainable.data.schema import ColumnSchema
from trainable.trial.architecture import Architecture, dense, hidden_layers, layer_seed
from trainable.trial.model import model_inputs, numeric_block

__all__ = ["build_fold_model", "ensemble", "fold_encoder", "fold_head", "probabilities"]


def _numeric(inputs: Any, schemas: list[list[ColumnSchema]]) -> Any:
    """The numeric columns, imputed and normalised per fold: (n, k, d'), or None."""
    import keras

    from trainable.trial.layers import FoldImpute

    k, first = len(schemas), schemas[0]
    x = numeric_block(inputs, first)
    if x is None:
        return None
    numeric = [[c for c in schema if c.numeric] for schema in schemas]
    mean = np.array([[c.mean for c in cols] for cols in numeric], dtype=np.float32)
    var = np.array([[c.var for c in cols] for cols in numeric], dtype=np.float32)
    if any(c.fill is not None for c in numeric[0]):
        impute = FoldImpute(
            [[c.fill or 0.0 for c in cols] for cols in numeric],
            [[bool(c.indicator) for c in cols] for cols in numeric],
            name="impute",
        )
        x = impute(x)
        n_flags = len(impute.flagged)  # indicators pass unscaled, as in a single model
        mean = np.concatenate([mean, np.zeros((k, n_flags), np.float32)], axis=1)
        var = np.concatenate([var, np.ones((k, n_flags), np.float32)], axis=1)
    else:
        x = keras.layers.RepeatVector(k, name="folds")(x)
    return keras.layers.Normalization(axis=(1, 2), mean=mean, variance=var, name="scale")(x)


def _categorical(inputs: Any, schemas: list[list[ColumnSchema]]) -> list[Any]:
    """Each categorical column one-hot encoded per fold: (n, k, V + 1) each."""
    import keras

    from trainable.trial.layers import FoldVocabulary

    parts = []
    for i, column in enumerate(schemas[0]):
        if column.numeric:
            continue
        vocabularies = [set(schema[i].vocabulary or ()) for schema in schemas]
        union = sorted(set().union(*vocabularies))
        lookup = keras.layers.StringLookup(
            vocabulary=union, output_mode="one_hot", num_oov_indices=1, name=f"onehot_{column.input}"
        )
        known = [[True, *(value in vocabulary for value in union)] for vocabulary in vocabularies]
        parts.append(FoldVocabulary(known, name=f"folds_{column.input}")(lookup(inputs[column.input])))
    return parts


def fold_encoder(fold_schemas: list[list[ColumnSchema]]) -> Any:
    """The raw inputs -> each fold's encoded features (n, k, d): what every member of a pack shares."""
    import keras

    inputs = model_inputs(fold_schemas[0])
    parts = [p for p in [_numeric(inputs, fold_schemas), *_categorical(inputs, fold_schemas)] if p is not None]
    x = keras.layers.Concatenate(axis=2, name="encoded")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, x, name="encoder")


def fold_head(hp: dict[str, Any], k: int, width: int, n_classes: int, seed: int | None, name: str) -> Any:
    """One configuration's k fold-models on the encoded folds (n, k, `width`) -> (n, k, C) logits."""
    import keras

    x = inputs = keras.Input(shape=(k, width), name=f"{name}_encoded")
    x = hidden_layers(x, Architecture.of(hp), copies=k, seed=seed)
    out = dense(k, x.shape[-1], 1 if n_classes == 2 else n_classes, None, 0.0, "logits", seed=layer_seed(seed, -1))
    return keras.Model(inputs, out(x), name=name)


def build_fold_model(
    hp: dict[str, Any], fold_schemas: list[list[ColumnSchema]], n_classes: int, steps_per_execution: int
) -> Any:
    import keras

    from trainable.trial.layers import FoldLoss

    k, arch = len(fold_schemas), Architecture.of(hp)
    inputs = model_inputs(fold_schemas[0])
    parts = [p for p in [_numeric(inputs, fold_schemas), *_categorical(inputs, fold_schemas)] if p is not None]
    x = keras.layers.Concatenate(axis=2, name="encoded")(parts) if len(parts) > 1 else parts[0]
    x = hidden_layers(x, arch, copies=k)
    outputs = dense(k, x.shape[-1], 1 if n_classes == 2 else n_classes, None, 0.0, "logits")(x)
    model = keras.Model(inputs, outputs, name="hpsearch_folds")
    model.compile(optimizer=arch.optimizer(), loss=FoldLoss(n_classes), steps_per_execution=steps_per_execution)
    return model


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, k, C) logits -> probabilities: sigmoid for C = 1, softmax over C otherwise."""
    from scipy.special import expit, softmax

    logits = np.asarray(logits, dtype=np.float64)
    return expit(logits) if logits.shape[-1] == 1 else softmax(logits, axis=-1)


def ensemble(model: Any) -> Any:
    """The fold-models' probabilities averaged: one model, the same raw inputs."""
    import keras

    binary = model.output.shape[-1] == 1
    proba = keras.layers.Activation("sigmoid" if binary else "softmax", name="proba")(model.output)
    mean = keras.layers.GlobalAveragePooling1D(name="ensemble")(proba)
    return keras.Model(model.input, mean, name="hpsearch_ensemble")
