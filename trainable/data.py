"""Loading, validating, splitting and fingerprinting a tabular dataset.

Contract: `load_dataset(source, target, ...)` returns a `Dataset` holding a
stratified, seeded train/validation/test split of raw features (in the model's
input form, see `trainable.columns`) and integer class labels (0..K-1), or
raises `HpsearchError` with one line naming the file or column and what is
wrong. Sources: `builtin:NAME` (tables shipped inside scikit-learn), `.npy`
(numeric matrix, last column = label, never unpickled), `.npz` (arrays `X`
and `y`), `.csv` and `.parquet` (with a target column). Numeric, categorical
and boolean columns; missing values refused (`missing="error"`) or imputed
inside the model (`missing="impute"`); binary or multiclass targets.

The driver loads the dataset once and hands it to trials through Ray's object
store; trials never re-read the file. Only train and validation reach the
search; the test split is scored once, for the exported model. Every
statistic the model's preprocessing uses comes from the training split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainable.columns import encode, fit_schema, infer_kinds, layout
from trainable.errors import HpsearchError

__all__ = ["BUILTINS", "Dataset", "inputs_from_frame", "load_dataset", "read_rows", "split_dataset"]

BUILTINS = ("breast_cancer", "wine", "iris")
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
_MAX_CLASSES = 20  # more distinct label values than this looks like a continuous outcome
_SUFFIXES = (".npy", ".npz", *_TABLE_SUFFIXES)


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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_arrays(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def _load_builtin(name: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    from sklearn import datasets

    if name not in BUILTINS:
        raise HpsearchError(
            f"data.source: unknown built-in dataset `builtin:{name}`; "
            f"choose one of {', '.join('builtin:' + b for b in BUILTINS)}"
        )
    bunch = getattr(datasets, f"load_{name}")()
    frame = pd.DataFrame(np.asarray(bunch.data, dtype=np.float64), columns=[str(f) for f in bunch.feature_names])
    y = np.asarray(bunch.target, dtype=np.int64)
    classes = [str(c) for c in bunch.target_names]
    if name == "breast_cancer":
        # scikit-learn codes malignant as 0; clinically the positive class is malignant.
        y = 1 - y
        classes = ["benign", "malignant"]
    return frame, y, classes


def _read_npy(path: Path) -> np.ndarray:
    with path.open("rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise HpsearchError(f"{path}: not a readable .npy array (no NumPy header)")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise HpsearchError(f"{path}: holds pickled Python objects; only plain numeric arrays are read") from None
        raise HpsearchError(f"{path}: not a readable .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise HpsearchError(f"{path}: not a readable .npy array ({exc})") from None
    return arr


def _from_matrix(path: Path, arr: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if arr.ndim != 2:
        raise HpsearchError(
            f"{path}: expected a 2-D array (rows x features + label column), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[1] < 2:
        raise HpsearchError(f"{path}: needs at least one feature column and the label column, got {arr.shape[1]} column(s)")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        raise HpsearchError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    X = arr[:, :-1].astype(np.float64)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), arr[:, -1]


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("X", "y") if k not in npz.files]
            if missing:
                raise HpsearchError(f"{path}: needs arrays `X` and `y`, found {npz.files}")
            X, y = npz["X"], npz["y"]
    except HpsearchError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise HpsearchError(f"{path}: holds pickled Python objects; only plain numeric arrays are read") from None
        raise HpsearchError(f"{path}: not a readable .npz archive ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError
        raise HpsearchError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if X.ndim != 2:
        raise HpsearchError(f"{path}: array `X` must be 2-D (rows x features), got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise HpsearchError(f"{path}: array `y` must be 1-D with one label per row of X ({len(X)}), got shape {y.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise HpsearchError(f"{path}: array `X` must be numeric, got dtype {X.dtype}")
    return X.astype(np.float64), y


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise HpsearchError(f"{path}: the file is empty") from None
    except Exception as exc:  # parser, arrow and unicode errors all mean "unreadable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HpsearchError(f"{path}: cannot read the file ({first})") from None
    if frame.empty:
        raise HpsearchError(f"{path}: has a header but no data rows")
    return frame


def _from_table(path: Path, frame: pd.DataFrame, target: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    if not target:
        raise HpsearchError(f"{path}: a table needs a label column: set data.target (or --target COL)")
    if target not in frame.columns:
        raise HpsearchError(
            f"{path}: target column `{target}` not found; columns are: {', '.join(map(str, frame.columns))}"
        )
    y = frame[target]
    if y.isna().any():
        raise HpsearchError(f"{path}: target column `{target}` has {int(y.isna().sum())} missing value(s)")
    return frame.drop(columns=[target]), y.to_numpy()


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


def _check_file(path: Path, what: str) -> Path:
    if path.suffix.lower() not in _SUFFIXES:
        raise HpsearchError(f"{path}: unsupported file type `{path.suffix or '(none)'}`; use one of {', '.join(_SUFFIXES)}")
    if not path.is_file():
        raise HpsearchError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise HpsearchError(f"{path}: the file is empty")
    return path


def _read_source(source: str, target: str | None) -> tuple[str, pd.DataFrame, np.ndarray, list[str] | None, str]:
    """-> (where, features frame, raw labels, class names if known, sha256)."""
    if source.startswith("builtin:"):
        frame, y, classes = _load_builtin(source.removeprefix("builtin:"))
        return source, frame, y, classes, _sha256_arrays(frame.to_numpy(), y)
    path = _check_file(Path(source), "data file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        frame, y = _from_matrix(path, _read_npy(path))
    elif suffix == ".npz":
        X, y = _read_npz(path)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    else:
        frame, y = _from_table(path, _read_table(path), target)
    if len(frame) == 0:
        raise HpsearchError(f"{path}: has no data rows")
    return str(path), frame.reset_index(drop=True), y, None, _sha256_file(path)


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
    where, frame, y_raw, classes, digest = _read_source(source, target)
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


def read_rows(path: str | Path, feature_names: list[str]) -> pd.DataFrame:
    """Read rows to predict on: a table (.csv/.parquet) with named columns, or a
    .npy/.npz matrix whose columns are the features in training order (a trailing
    label column, as in the article's format, is dropped)."""
    path = _check_file(Path(path), "input file")
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        return _read_table(path)
    arr = _read_npy(path) if suffix == ".npy" else _read_npz(path)[0]
    if arr.ndim != 2:
        raise HpsearchError(f"{path}: expected a 2-D array, got shape {arr.shape}")
    n = len(feature_names)
    if arr.shape[1] == n + 1:
        arr = arr[:, :n]
    if arr.shape[1] != n:
        raise HpsearchError(f"{path}: expected {n} feature columns (training order), got {arr.shape[1]}")
    return pd.DataFrame(arr, columns=feature_names)


def inputs_from_frame(frame: pd.DataFrame, schema: list[dict], where: str = "input"):
    """Raw rows (named columns) -> what the exported model's `predict` takes.

    Refuses missing or unexpected columns with one line naming them. `schema` is
    the model card's `data.schema`.
    """
    from trainable.columns import to_model_input

    return to_model_input(encode(frame, schema, where))
