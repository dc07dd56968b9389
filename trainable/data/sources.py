"""Reading a data source: a built-in table, a .npy/.npz array, or a CSV/Parquet table, with its fingerprint.

Contract: `read_source(source, target)` returns `(where, features, labels,
class names or None, sha256)`: the raw feature columns as a DataFrame, the
raw labels, and the file's sha256 (or, for `builtin:NAME`, that of its
arrays), or raises `HpsearchError` with one line naming the file and what is
wrong (missing, empty, corrupt, pickled, header only, no target column, wrong
shape, unknown type). `.npy` is a numeric matrix whose last column is the
label (the article's format), never unpickled; `.npz` holds arrays `X` and
`y`; tables name their label with `target`. `read_rows(path, feature_names)`
reads rows to predict on, with the same checks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from trainable.errors import HpsearchError

__all__ = ["BUILTINS", "read_rows", "read_source"]

BUILTINS = ("breast_cancer", "wine", "iris")
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
_SUFFIXES = (".npy", ".npz", *_TABLE_SUFFIXES)


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
        raise HpsearchError(
            f"{path}: needs at least one feature column and the label column, got {arr.shape[1]} column(s)"
        )
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
        raise HpsearchError(
            f"{path}: array `y` must be 1-D with one label per row of X ({len(X)}), got shape {y.shape}"
        )
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


def _check_file(path: Path, what: str) -> Path:
    if path.suffix.lower() not in _SUFFIXES:
        raise HpsearchError(
            f"{path}: unsupported file type `{path.suffix or '(none)'}`; use one of {', '.join(_SUFFIXES)}"
        )
    if not path.is_file():
        raise HpsearchError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise HpsearchError(f"{path}: the file is empty")
    return path


def read_source(source: str, target: str | None) -> tuple[str, pd.DataFrame, np.ndarray, list[str] | None, str]:
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
