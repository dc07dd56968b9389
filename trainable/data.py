"""A dataset as a sweep uses it: columns selected and checked, labels encoded, rows split.

Contract: `load_dataset(source, target, ...)` reads the source
(`trainable.sources`) and returns a `Dataset` holding a stratified, seeded
train/validation/test split (`split_dataset`) of raw features (in the model's
input form, see `trainable.columns`) and integer class labels (0..K-1), or
raises `HpsearchError` with one line naming the file or column and what is
wrong. Numeric, categorical and boolean columns; missing values refused
(`missing="error"`) or imputed inside the model (`missing="impute"`); binary
or multiclass targets. `inputs_from_frame(frame, schema)` turns raw rows into
what an exported model takes.

The driver loads the dataset once and hands it to trials through Ray's object
store; trials never re-read the file. Only train and validation reach the
search; the test split is scored once, for the exported model. Every
statistic the model's preprocessing uses comes from the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainable.columns import encode, fit_schema, infer_kinds, layout
from trainable.errors import HpsearchError
from trainable.sources import read_source

__all__ = ["Dataset", "inputs_from_frame", "load_dataset", "split_dataset"]

_MAX_CLASSES = 20  # more distinct label values than this looks like a continuous outcome


@dataclass(frozen=True)
class Dataset:
    """A split dataset. Features are raw (unscaled); scaling lives in the model.

    `X_*` is a float32 matrix for the "matrix" layout, or a dict of (n, 1)
    arrays keyed by Keras input name for the "columns" layout.
    """

    X_train: Any
    y_train: np.ndarray
    X_val: Any
    y_val: np.ndarray
    X_test: Any
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    source: str
    sha256: str
    schema: list[dict] = field(repr=False)
    feature_mean: np.ndarray = field(repr=False)
    feature_var: np.ndarray = field(repr=False)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def layout(self) -> str:
        return layout(self.schema)

    def summary(self) -> dict:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "n_train": int(len(self.y_train)),
            "n_val": int(len(self.y_val)),
            "n_test": int(len(self.y_test)),
            "n_features": self.n_features,
            "feature_names": list(self.feature_names),
            "class_names": list(self.class_names),
            "layout": self.layout,
            "schema": self.schema,
        }


def _select(where: str, frame: pd.DataFrame, features: list[str] | None, drop: list[str]) -> pd.DataFrame:
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for key, names in (("data.features", features or []), ("data.drop", drop)):
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise HpsearchError(
                f"{where}: {key} names unknown column(s) {', '.join(unknown)}; columns are: {', '.join(columns)}"
            )
    if features:
        frame = frame[list(features)]
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    if frame.shape[1] == 0:
        raise HpsearchError(f"{where}: no feature columns left (check data.features / data.drop)")
    return frame


def _encode_labels(where: str, y: np.ndarray, positive: str | int | None) -> tuple[np.ndarray, list[str]]:
    values = pd.Series(y).reset_index(drop=True)
    if pd.api.types.is_float_dtype(values):
        if not np.isfinite(values.to_numpy()).all():
            raise HpsearchError(f"{where}: the label has missing or infinite values")
        if not (values == values.round()).all():
            raise HpsearchError(
                f"{where}: the label looks continuous ({values.nunique()} distinct values, e.g. {values.iloc[0]!r}); "
                "hpsearch trains classifiers: use class labels"
            )
        values = values.astype(np.int64)
    classes = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise HpsearchError(f"{where}: the label has a single class ({classes[0]!r}); need at least 2")
    if len(classes) > _MAX_CLASSES:
        raise HpsearchError(
            f"{where}: the label has {len(classes)} distinct values in {len(values)} rows; "
            f"it looks continuous, not like class labels (at most {_MAX_CLASSES} classes)"
        )
    if positive is not None:
        names = [str(c) for c in classes]
        if len(classes) != 2:
            raise HpsearchError(f"{where}: data.positive is for binary labels; this label has {len(classes)} classes")
        if str(positive) not in names:
            raise HpsearchError(f"{where}: data.positive {positive!r} is not a class; classes are: {', '.join(names)}")
        if names.index(str(positive)) == 0:
            classes = classes[::-1]
    codes = pd.Categorical(values, categories=classes).codes.astype(np.int64)
    return codes, [str(c) for c in classes]


def _check_values(where: str, frame: pd.DataFrame, kinds: dict[str, str], impute: bool) -> None:
    for col, kind in kinds.items():
        if kind == "numeric":
            n_inf = int(np.isinf(frame[col].to_numpy(dtype=np.float64)).sum())
            if n_inf:
                raise HpsearchError(f"{where}: column `{col}` has {n_inf} infinite value(s); features must be finite")
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    if len(counts) and not impute:
        listed = ", ".join(f"{c} ({n})" for c, n in counts.items())
        raise HpsearchError(
            f"{where}: missing values in column(s) {listed}; fix them or set data.missing: impute"
        )
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise HpsearchError(f"{where}: column `{empty[0]}` has no values at all; drop it (data.drop)")


def split_dataset(
    y: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    where: str = "data",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded train/val/test split of row positions: (train, val, test)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    n_classes = len(counts)
    smallest = int(counts.min())
    min_each = 3  # one row per class in each of train, val and test
    n_val = int(np.ceil(val_fraction * len(y)))
    n_test = int(np.ceil(test_fraction * len(y)))
    if smallest < min_each or min(n_val, n_test) < n_classes or len(y) - n_val - n_test < n_classes:
        raise HpsearchError(
            f"{where}: too few rows for a stratified train/val/test split: {len(y)} rows, "
            f"smallest class has {smallest} (need >= {min_each} per class and >= {n_classes} rows in each split)"
        )
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=test_fraction, stratify=y, random_state=seed)
    train, val = train_test_split(
        rest, test_size=val_fraction / (1 - test_fraction), stratify=y[rest], random_state=seed
    )
    return train, val, test


def load_dataset(
    source: str,
    target: str | None = None,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
    features: list[str] | None = None,
    drop: list[str] | None = None,
    missing: str = "error",
    positive: str | int | None = None,
) -> Dataset:
    """Load `source`, validate it and split it (see the module docstring)."""
    where, frame, y_raw, classes, digest = read_source(source, target)
    frame = _select(where, frame, features, drop or [])
    if classes is None:
        y, classes = _encode_labels(where, y_raw, positive)
    else:
        y = np.asarray(y_raw, dtype=np.int64)
    kinds = infer_kinds(frame, where)
    impute = missing == "impute"
    _check_values(where, frame, kinds, impute)
    train, val, test = split_dataset(y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, where=where)
    schema = fit_schema(frame.iloc[train], kinds, impute)
    numeric = [c for c in schema if c["kind"] == "numeric"]
    return Dataset(
        X_train=encode(frame.iloc[train], schema, where),
        y_train=y[train],
        X_val=encode(frame.iloc[val], schema, where),
        y_val=y[val],
        X_test=encode(frame.iloc[test], schema, where),
        y_test=y[test],
        feature_names=[c["name"] for c in schema],
        class_names=classes,
        source=source,
        sha256=digest,
        schema=schema,
        feature_mean=np.array([c["mean"] for c in numeric], dtype=np.float32),
        feature_var=np.array([c["var"] for c in numeric], dtype=np.float32),
    )


def inputs_from_frame(frame: pd.DataFrame, schema: list[dict], where: str = "input"):
    """Raw rows (named columns) -> what the exported model's `predict` takes.

    Refuses missing or unexpected columns with one line naming them. `schema` is
    the model card's `data.schema`.
    """
    from trainable.columns import to_model_input

    return to_model_input(encode(frame, schema, where))
