"""Subgroups of the test rows (sex, age bands, sites) for performance by subgroup (TRIPOD+AI).

Contract: `subgroup_labels(frame, columns, train_rows, test_rows, where)`
returns `{column: label per test row}`. Text, categorical and boolean
columns, and numeric columns with at most 10 distinct values (0/1 flags,
stages), group rows by their value; other numeric columns are cut at the
training rows' quartiles (`"Q1: <= 51.2"`, `"Q2: 51.2 to 60"`, `"Q3: 60 to
68.4"`, `"Q4: > 68.4"`, so that they sort in order); a missing value is its
own group, `<missing>`. A column the data does not
have is refused in one line naming it. The columns need not be features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainable.data.schema import MISSING_TOKEN
from trainable.errors import HpsearchError

__all__ = ["subgroup_labels"]


_FEW_VALUES = 10  # a numeric column with at most this many distinct values is grouped by value


def _value(v: object) -> str:
    if pd.isna(v):
        return MISSING_TOKEN
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _quartile_labels(values: pd.Series, training: pd.Series) -> np.ndarray:
    cuts = np.unique(np.nanquantile(training.to_numpy(dtype=np.float64), [0.25, 0.5, 0.75]))
    edges = [f"{c:.6g}" for c in cuts]
    names = [f"<= {edges[0]}", *(f"{a} to {b}" for a, b in zip(edges, edges[1:])), f"> {edges[-1]}"]
    names = [f"Q{i + 1}: {name}" for i, name in enumerate(names)]
    x = values.to_numpy(dtype=np.float64)
    labels = np.array(names, dtype=object)[np.searchsorted(cuts, x, side="left")]
    labels[np.isnan(x)] = MISSING_TOKEN
    return labels


def subgroup_labels(
    frame: pd.DataFrame, columns: list[str], train_rows: np.ndarray, test_rows: np.ndarray, where: str
) -> dict[str, np.ndarray]:
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    out: dict[str, np.ndarray] = {}
    for column in columns:
        if column not in frame.columns:
            raise HpsearchError(
                f"{where}: export.subgroups names unknown column `{column}`; columns are: {', '.join(frame.columns)}"
            )
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and series.iloc[train_rows].nunique() > _FEW_VALUES:
            out[column] = _quartile_labels(series.iloc[test_rows], series.iloc[train_rows])
        else:
            out[column] = np.array([_value(v) for v in series.iloc[test_rows]], dtype=object)
    return out
