"""Loading, validating, splitting and fingerprinting a tabular dataset.

Contract: `load_dataset(source, target, ...)` returns a `Dataset` holding a
stratified, seeded train/validation/test split of float32 features and integer
class labels (0..K-1), or raises `HpsearchError` with one line naming the file
or column and what is wrong. Sources: `builtin:NAME` (tables shipped inside
scikit-learn), `.npy` (float matrix, last column = label, never unpickled),
`.npz` (arrays `X` and `y`), `.csv` and `.parquet` (with a target column).

The driver loads the dataset once and hands it to trials through Ray's object
store; trials never re-read the file. Only train and validation reach the
search; the test split is scored once, for the exported model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trainable.errors import HpsearchError

__all__ = ["BUILTINS", "Dataset", "inputs_from_frame", "load_dataset", "read_rows", "split_dataset"]

BUILTINS = ("breast_cancer", "wine", "iris")
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
_MAX_CLASSES = 20  # more distinct label values than this looks like a continuous outcome
_SUFFIXES = (".npy", ".npz", *_TABLE_SUFFIXES)


@dataclass(frozen=True)
class Dataset:
    """A split dataset. Features are raw (unscaled); scaling lives in the model."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    source: str
    sha256: str
    feature_mean: np.ndarray = field(repr=False)
    feature_var: np.ndarray = field(repr=False)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

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
            "schema": [{"name": n, "kind": "numeric"} for n in self.feature_names],
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


def _load_builtin(name: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    from sklearn import datasets

    if name not in BUILTINS:
        raise HpsearchError(
            f"data.source: unknown built-in dataset `builtin:{name}`; "
            f"choose one of {', '.join('builtin:' + b for b in BUILTINS)}"
        )
    bunch = getattr(datasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    classes = [str(c) for c in bunch.target_names]
    if name == "breast_cancer":
        # scikit-learn codes malignant as 0; clinically the positive class is malignant.
        y = 1 - y
        classes = ["benign", "malignant"]
    return X, y, [str(f) for f in bunch.feature_names], classes


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


def _from_matrix(path: Path, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if arr.ndim != 2:
        raise HpsearchError(
            f"{path}: expected a 2-D array (rows x features + label column), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[1] < 2:
        raise HpsearchError(f"{path}: needs at least one feature column and the label column, got {arr.shape[1]} column(s)")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        raise HpsearchError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    X = arr[:, :-1].astype(np.float64)
    y = arr[:, -1]
    return X, y, [f"x{i}" for i in range(X.shape[1])]


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


def _from_table(path: Path, frame: pd.DataFrame, target: str | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not target:
        raise HpsearchError(f"{path}: a table needs a label column: set data.target (or --target COL)")
    if target not in frame.columns:
        raise HpsearchError(
            f"{path}: target column `{target}` not found; columns are: {', '.join(map(str, frame.columns))}"
        )
    y = frame[target]
    if y.isna().any():
        raise HpsearchError(f"{path}: target column `{target}` has {int(y.isna().sum())} missing value(s)")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise HpsearchError(f"{path}: no feature columns besides the target `{target}`")
    for col in features.columns:
        series = features[col]
        if series.dtype == bool:
            continue
        if not pd.api.types.is_numeric_dtype(series):
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
            example = bad.iloc[0] if len(bad) else series.iloc[0]
            raise HpsearchError(f"{path}: column `{col}` is not numeric (e.g. {example!r} in row {bad.index[0] if len(bad) else 0})")
        n_missing = int(series.isna().sum())
        if n_missing:
            raise HpsearchError(f"{path}: column `{col}` has {n_missing} missing value(s)")
    X = features.to_numpy(dtype=np.float64)
    return X, y.to_numpy(), [str(c) for c in features.columns]


def _encode_labels(where: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    values = pd.Series(y)
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
            "it looks continuous, not like class labels"
        )
    codes = pd.Categorical(values, categories=classes).codes.astype(np.int64)
    return codes, [str(c) for c in classes]


def _check_features(where: str, X: np.ndarray, names: list[str]) -> None:
    finite = np.isfinite(X)
    if not finite.all():
        col = int(np.argwhere(~finite.all(axis=0))[0][0])
        n_nan = int(np.isnan(X[:, col]).sum())
        n_inf = int(np.isinf(X[:, col]).sum())
        raise HpsearchError(
            f"{where}: column `{names[col]}` has {n_nan} missing and {n_inf} infinite value(s); features must be finite"
        )


def split_dataset(
    X: np.ndarray,
    y: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    where: str = "data",
) -> tuple[np.ndarray, ...]:
    """Stratified, seeded train/val/test split: returns X_tr, y_tr, X_va, y_va, X_te, y_te."""
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
    X_rest, X_te, y_rest, y_te = train_test_split(
        X, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    X_tr, X_va, y_tr, y_va = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest, random_state=seed
    )
    return X_tr, y_tr, X_va, y_va, X_te, y_te


def load_dataset(
    source: str,
    target: str | None = None,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
) -> Dataset:
    """Load `source`, validate it and split it (see the module docstring)."""
    if source.startswith("builtin:"):
        name = source.removeprefix("builtin:")
        X, y_raw, names, class_names = _load_builtin(name)
        y = np.asarray(y_raw, dtype=np.int64)
        digest = _sha256_arrays(X, y)
        where = source
    else:
        path = Path(source)
        where = str(path)
        suffix = path.suffix.lower()
        if suffix not in _SUFFIXES:
            raise HpsearchError(
                f"{path}: unsupported file type `{path.suffix or '(none)'}`; use one of {', '.join(_SUFFIXES)}"
            )
        if not path.is_file():
            raise HpsearchError(f"{path}: data file not found")
        if path.stat().st_size == 0:
            raise HpsearchError(f"{path}: the file is empty")
        if suffix == ".npy":
            X, y_raw, names = _from_matrix(path, _read_npy(path))
        elif suffix == ".npz":
            X, y_raw = _read_npz(path)
            names = [f"x{i}" for i in range(X.shape[1])]
        else:
            X, y_raw, names = _from_table(path, _read_table(path), target)
        if len(X) == 0:
            raise HpsearchError(f"{path}: has no data rows")
        y, class_names = _encode_labels(where, y_raw)
        digest = _sha256_file(path)
    _check_features(where, X, names)
    X_tr, y_tr, X_va, y_va, X_te, y_te = split_dataset(
        X, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, where=where
    )
    f32 = np.float32
    return Dataset(
        X_train=X_tr.astype(f32),
        y_train=y_tr,
        X_val=X_va.astype(f32),
        y_val=y_va,
        X_test=X_te.astype(f32),
        y_test=y_te,
        feature_names=names,
        class_names=class_names,
        source=source,
        sha256=digest,
        feature_mean=X_tr.mean(axis=0).astype(f32),
        feature_var=X_tr.var(axis=0).astype(f32),
    )


def read_rows(path: str | Path, feature_names: list[str]) -> pd.DataFrame:
    """Read rows to predict on: a table (.csv/.parquet) with named columns, or a
    .npy/.npz matrix whose columns are the features in training order (a trailing
    label column, as in the article's format, is dropped)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise HpsearchError(f"{path}: unsupported file type `{path.suffix or '(none)'}`; use one of {', '.join(_SUFFIXES)}")
    if not path.is_file():
        raise HpsearchError(f"{path}: input file not found")
    if path.stat().st_size == 0:
        raise HpsearchError(f"{path}: the file is empty")
    if suffix in _TABLE_SUFFIXES:
        return _read_table(path)
    if suffix == ".npy":
        arr = _read_npy(path)
    else:
        arr = _read_npz(path)[0]
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
    the model card's `data.schema` (list of {"name", "kind", ...}).
    """
    names = [col["name"] for col in schema]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise HpsearchError(f"{where}: missing column(s) the model needs: {', '.join(missing)}")
    extra = [str(c) for c in frame.columns if c not in names]
    if extra:
        raise HpsearchError(f"{where}: unexpected column(s) the model was not trained on: {', '.join(extra)}")
    if len(frame) == 0:
        raise HpsearchError(f"{where}: no rows to predict on")
    for name in names:
        if not pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool:
            raise HpsearchError(f"{where}: column `{name}` must be numeric, got e.g. {frame[name].iloc[0]!r}")
    X = frame[names].to_numpy(dtype=np.float64)
    _check_features(where, X, names)
    return X.astype(np.float32)
