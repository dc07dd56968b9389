"""Raw rows -> the numeric design matrix a scikit-learn model takes, with the network's own encoding.

Contract: `design_matrix(X, schema)` encodes rows in `trainable.columns.encode`'s
form with exactly what the network's preprocessing layers do, from the same
schema (fitted on the training rows): numeric columns imputed with the
training mean (plus a 0/1 missing indicator where the schema has one) and
standardised with the training mean and variance; categorical columns one-hot
over the training vocabulary, with a first "unknown" column. The baselines
(`trainable.baselines`) use it, so they and the network see the same features.
"""

from __future__ import annotations

import numpy as np

from trainable.columns import layout

__all__ = ["design_matrix"]


def _numeric(values: np.ndarray, column: dict) -> list[np.ndarray]:
    values = values.astype(np.float64).reshape(-1)
    missing = np.isnan(values)
    filled = np.where(missing, column.get("fill") or 0.0, values)
    parts = [(filled - column["mean"]) / max(np.sqrt(column["var"]), 1e-7)]
    if column.get("indicator"):
        parts.append(missing.astype(np.float64))
    return parts


def _one_hot(values: np.ndarray, column: dict) -> np.ndarray:
    import pandas as pd

    vocabulary = column["vocabulary"]
    codes = pd.Categorical(values.reshape(-1).astype(str), categories=vocabulary).codes + 1  # unknown: -1 -> 0
    return np.eye(len(vocabulary) + 1)[codes]


def design_matrix(X, schema: list[dict]) -> np.ndarray:
    if layout(schema) == "matrix":
        columns = {c["input"]: X[:, i] for i, c in enumerate(schema)}
    else:
        columns = X
    numeric, indicators, categorical = [], [], []
    for c in schema:
        if c["kind"] == "numeric":
            scaled, *flag = _numeric(np.asarray(columns[c["input"]]), c)
            numeric.append(scaled)
            indicators += flag
        else:
            categorical.append(_one_hot(np.asarray(columns[c["input"]]), c))
    blocks = [np.column_stack(numeric + indicators)] if numeric else []
    return np.hstack(blocks + categorical) if blocks or categorical else np.empty((len(next(iter(columns.values()))), 0))
