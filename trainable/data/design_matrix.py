"""Raw rows -> the numeric design matrix a scikit-learn model takes, with the network's own encoding.

Contract: `design_matrix(X, schema)` encodes rows in `trainable.data.encoding.encode`'s
form with exactly what the network's preprocessing layers do, from the same
schema (fitted on the training rows): numeric columns imputed with the
training mean (plus a 0/1 missing indicator where the schema has one) and
standardised with the training mean and variance; categorical columns one-hot
over the training vocabulary, with a first "unknown" column. The baselines
(`trainable.stats.baselines`) use it, so they and the network see the same features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trainable.data.schema import ColumnSchema, input_form

__all__ = ["design_matrix"]


def _numeric(values: np.ndarray, column: ColumnSchema) -> list[np.ndarray]:
    values = values.astype(np.float64).reshape(-1)
    missing = np.isnan(values)
    mean, var = float(column.mean or 0.0), float(column.var or 0.0)  # a numeric column has both
    filled = np.where(missing, column.fill or 0.0, values)
    parts = [(filled - mean) / max(np.sqrt(var), 1e-7)]
    if column.indicator:
        parts.append(missing.astype(np.float64))
    return parts


def _one_hot(values: np.ndarray, column: ColumnSchema) -> np.ndarray:
    vocabulary = column.vocabulary or []
    codes = pd.Categorical(values.reshape(-1).astype(str), categories=vocabulary).codes + 1  # unknown: -1 -> 0
    return np.eye(len(vocabulary) + 1)[codes]


def design_matrix(X: Any, schema: list[ColumnSchema]) -> np.ndarray:
    if input_form(schema) == "matrix":
        columns = {c.input: X[:, i] for i, c in enumerate(schema)}
    else:
        columns = X
    numeric: list[np.ndarray] = []
    indicators: list[np.ndarray] = []
    categorical: list[np.ndarray] = []
    for c in schema:
        if c.numeric:
            scaled, *flag = _numeric(np.asarray(columns[c.input]), c)
            numeric.append(scaled)
            indicators += flag
        else:
            categorical.append(_one_hot(np.asarray(columns[c.input]), c))
    blocks = [np.column_stack(numeric + indicators)] if numeric else []
    if blocks or categorical:
        return np.hstack(blocks + categorical)
    return np.empty((len(next(iter(columns.values()))), 0))
