"""Raw rows -> model inputs: what a model's `predict` takes, from rows with the schema's named columns.

Contract: `encode(frame, schema, where)` orders, types and checks the columns
a model was trained on: a float32 matrix (n, d) in the `matrix` input form,
otherwise a dict of one (n, 1) array per column keyed by the column's Keras
input name (`columns`). Missing or unexpected columns, text in a numeric
column, infinite values and missing values a model cannot impute are refused
with one line naming the column. Scaling, imputation and one-hot encoding
happen inside the model, so this does nothing else. `to_model_input(X)` is
`encode`'s output as Keras takes it (text columns as string tensors; imports
TensorFlow then).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trainable.data.schema import ColumnSchema, as_text, input_form
from trainable.errors import HpsearchError

__all__ = ["encode", "to_model_input"]


def _check_columns(frame: pd.DataFrame, schema: list[ColumnSchema], where: str) -> None:
    names = [c.name for c in schema]
    present = {str(c) for c in frame.columns}
    missing = [n for n in names if n not in present]
    if missing:
        raise HpsearchError(f"{where}: missing column(s) the model needs: {', '.join(missing)}")
    extra = [str(c) for c in frame.columns if str(c) not in names]
    if extra:
        raise HpsearchError(f"{where}: unexpected column(s) the model was not trained on: {', '.join(extra)}")
    if len(frame) == 0:
        raise HpsearchError(f"{where}: no rows to predict on")


def _numeric(series: pd.Series, column: ColumnSchema, where: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce")
        bad = series[numbers.isna() & series.notna()]
        if len(bad):
            raise HpsearchError(
                f"{where}: column `{column.name}` must be numeric, got {bad.iloc[0]!r} in row {bad.index[0]}"
            )
        series = numbers
    values = series.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise HpsearchError(f"{where}: column `{column.name}` has {int(np.isinf(values).sum())} infinite value(s)")
    n_nan = int(np.isnan(values).sum())
    if n_nan and column.fill is None:
        raise HpsearchError(
            f"{where}: column `{column.name}` has {n_nan} missing value(s) and the model was trained without imputation"
        )
    return values.astype(np.float32).reshape(-1, 1)


def encode(frame: pd.DataFrame, schema: list[ColumnSchema], where: str = "input") -> Any:
    """Raw rows with the schema's named columns -> the model's input (see the module docstring)."""
    _check_columns(frame, schema, where)
    frame = frame.rename(columns=str)
    out: dict[str, np.ndarray] = {}
    for c in schema:
        series = frame[c.name]
        out[c.input] = _numeric(series, c, where) if c.numeric else as_text(series).reshape(-1, 1)
    if input_form(schema) == "matrix":
        return np.hstack([out[c.input] for c in schema]).astype(np.float32)
    return out


def to_model_input(X: Any) -> Any:
    """`encode`'s output -> what Keras accepts: the matrix as is; a dict as tensors
    (Keras takes text columns only as string tensors). Imports TensorFlow."""
    if not isinstance(X, dict):
        return X
    from trainable.runtime.environment import import_keras

    import_keras()
    import tensorflow as tf

    return {k: tf.constant(v) for k, v in X.items()}
