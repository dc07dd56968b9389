"""Column types, the feature schema, and raw rows -> model inputs.

Contract:
- `infer_kinds(frame, where)` types each feature column `numeric` or
  `categorical` (strings, categories, booleans); a column of numbers with a few
  text values is refused with the column, an example and its row.
- `fit_schema(train, kinds, impute)` learns, on the TRAINING split only, what
  the model's preprocessing needs: mean/variance of numeric columns (after
  imputation), imputation fill values and which columns get a missing-value
  indicator, and each categorical column's vocabulary.
- `encode(frame, schema)` turns raw rows into what the model's `predict`
  takes: a float32 matrix (n, d) when every column is numeric with nothing to
  impute (the "matrix" layout), otherwise a dict of one (n, 1) array per
  column keyed by the column's Keras input name (the "columns" layout).
  Scaling, imputation and one-hot encoding happen inside the model, so this
  only orders, types and checks columns.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from trainable.errors import HpsearchError

__all__ = ["MISSING_TOKEN", "encode", "fit_schema", "infer_kinds", "layout", "to_model_input"]

MISSING_TOKEN = "<missing>"
_TEXTISH_NUMERIC = 0.9  # a column whose non-empty values are >= 90% numbers is numeric


def _input_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "col"
    if base[0].isdigit():
        base = "c_" + base
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def infer_kinds(frame: pd.DataFrame, where: str) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
            kinds[col] = "categorical"
        elif pd.api.types.is_numeric_dtype(series):
            kinds[col] = "numeric"
        else:
            present = series.dropna()
            as_number = pd.to_numeric(present, errors="coerce")
            share = float(as_number.notna().mean()) if len(present) else 0.0
            if share >= _TEXTISH_NUMERIC:
                bad = present[as_number.isna()]
                raise HpsearchError(
                    f"{where}: column `{col}` holds numbers but also text, e.g. {bad.iloc[0]!r} "
                    f"in row {bad.index[0]}; fix or blank those cells"
                )
            kinds[col] = "categorical"
    return kinds


def _as_text(series: pd.Series) -> np.ndarray:
    text = series.astype("object").where(series.notna(), MISSING_TOKEN)
    return np.array([str(v) for v in text], dtype=object)


def fit_schema(train: pd.DataFrame, kinds: dict[str, str], impute: bool) -> list[dict]:
    taken: set[str] = set()
    schema: list[dict] = []
    for col in train.columns:
        entry: dict = {"name": str(col), "input": _input_name(col, taken), "kind": kinds[col]}
        if kinds[col] == "numeric":
            values = train[col].to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            fill = float(np.nanmean(values)) if (~missing).any() else 0.0
            filled = np.where(missing, fill, values)
            entry.update(mean=float(filled.mean()), var=float(filled.var()))
            if impute:
                entry.update(fill=fill, indicator=bool(missing.any()))
        else:
            vocab = sorted(set(_as_text(train[col])))
            entry["vocabulary"] = vocab
        schema.append(entry)
    return schema


def layout(schema: list[dict]) -> str:
    """'matrix' (one float input) or 'columns' (one named input per column)."""
    simple = all(c["kind"] == "numeric" and c.get("fill") is None for c in schema)
    return "matrix" if simple else "columns"


def encode(frame: pd.DataFrame, schema: list[dict], where: str = "input"):
    """Raw rows with the schema's named columns -> the model's input (see module doc)."""
    names = [c["name"] for c in schema]
    present = {str(c) for c in frame.columns}
    missing = [n for n in names if n not in present]
    if missing:
        raise HpsearchError(f"{where}: missing column(s) the model needs: {', '.join(missing)}")
    extra = [str(c) for c in frame.columns if str(c) not in names]
    if extra:
        raise HpsearchError(f"{where}: unexpected column(s) the model was not trained on: {', '.join(extra)}")
    if len(frame) == 0:
        raise HpsearchError(f"{where}: no rows to predict on")
    frame = frame.rename(columns=str)
    out: dict[str, np.ndarray] = {}
    for c in schema:
        series = frame[c["name"]]
        if c["kind"] == "numeric":
            if not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                numbers = pd.to_numeric(series, errors="coerce")
                bad = series[numbers.isna() & series.notna()]
                if len(bad):
                    raise HpsearchError(f"{where}: column `{c['name']}` must be numeric, got {bad.iloc[0]!r} in row {bad.index[0]}")
                series = numbers
            values = series.to_numpy(dtype=np.float64)
            if np.isinf(values).any():
                raise HpsearchError(f"{where}: column `{c['name']}` has {int(np.isinf(values).sum())} infinite value(s)")
            n_nan = int(np.isnan(values).sum())
            if n_nan and c.get("fill") is None:
                raise HpsearchError(
                    f"{where}: column `{c['name']}` has {n_nan} missing value(s) and the model was trained without imputation"
                )
            out[c["input"]] = values.astype(np.float32).reshape(-1, 1)
        else:
            out[c["input"]] = _as_text(series).reshape(-1, 1)
    if layout(schema) == "matrix":
        return np.hstack([out[c["input"]] for c in schema]).astype(np.float32)
    return out


def to_model_input(X):
    """`encode`'s output -> what Keras accepts: the matrix as is; a dict as tensors
    (Keras takes text columns only as string tensors). Imports TensorFlow."""
    if not isinstance(X, dict):
        return X
    from trainable.quiet import import_keras

    import_keras()
    import tensorflow as tf

    return {k: tf.constant(v) for k, v in X.items()}
