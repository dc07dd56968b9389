"""Cutting the rows: the held-out test split, the validation split, cross-validation folds; by row or by group.

Contract: every function returns row positions (or a fold per row), stratified
by the label and seeded, or raises `HpsearchError` with one line.
- `hold_out_test(y, test_fraction, seed, groups=None)`: (development rows,
  test rows), first of all; `split_validation(y, rest, val_fraction,
  test_fraction, seed, groups=None)`: the development rows as (train, val),
  when there are no folds. By row:
  scikit-learn's stratified `train_test_split`, twice (the same rows as ever).
  With `groups` (one id per row, e.g. a patient): every group lands in one
  split only (scikit-learn's `StratifiedGroupKFold`; the test split is one of
  round(1 / test_fraction) group folds, the validation split one of
  round((1 - test_fraction) / val_fraction) folds of the rest), so the
  fractions are approximate. A split left with no rows or one class is refused.
- `resolve_folds(folds, y_dev, groups)`: what `search.cv.folds` means for
  these development rows (`auto`: 5 below 2,000 rows when each class, and the
  number of groups, allows it; else 0).
- `assign_folds(y_dev, k, seed, groups=None)`: each development row's fold,
  stratified; with `groups`, all rows of a group in one fold.
"""

from __future__ import annotations

import numpy as np

from trainable.errors import HpsearchError

__all__ = ["AUTO_FOLDS", "AUTO_MAX_ROWS", "assign_folds", "hold_out_test", "resolve_folds", "split_validation"]

AUTO_FOLDS = 5  # what `folds: auto` means on a small table...
AUTO_MAX_ROWS = 2000  # ...one with fewer development rows than this


def _check_rows(y: np.ndarray, val_fraction: float, test_fraction: float, where: str) -> None:
    counts = np.bincount(y)
    n_classes, smallest, min_each = len(counts), int(counts.min()), 3  # one row per class in each split
    n_val = int(np.ceil(val_fraction * len(y)))
    n_test = int(np.ceil(test_fraction * len(y)))
    if smallest < min_each or min(n_val, n_test) < n_classes or len(y) - n_val - n_test < n_classes:
        raise HpsearchError(
            f"{where}: too few rows for a stratified train/val/test split: {len(y)} rows, "
            f"smallest class has {smallest} (need >= {min_each} per class and >= {n_classes} rows in each split)"
        )


def _group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int, where: str, what: str) -> np.ndarray:
    """A fold (0..k-1) per row: stratified, whole groups only."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise HpsearchError(f"{where}: {what} needs {k} groups of data.group, the data has {n_groups}")
    fold = np.empty(len(y), dtype=np.int64)
    try:
        for j, (_, held_out) in enumerate(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(y, y, groups)):
            fold[held_out] = j
    except ValueError as exc:  # e.g. every class has fewer rows than k
        raise HpsearchError(f"{where}: cannot cut {what} into {k} folds of data.group: {exc}") from None
    return fold


def _check(where: str, y: np.ndarray, n_classes: int, parts: dict[str, np.ndarray], groups: np.ndarray | None) -> None:
    for name, rows in parts.items():
        present = len(np.unique(y[rows]))
        if len(rows) == 0 or present < n_classes:
            described = f"{len(rows)} rows" + (
                f" in {len(np.unique(groups[rows]))} groups" if groups is not None else ""
            )
            raise HpsearchError(
                f"{where}: the {name} split has {described} and {present} of the {n_classes} classes; "
                "there are too few groups (data.group) of each class for these fractions"
            )


def hold_out_test(
    y: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    where: str = "data",
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(development rows, test rows): the test split, held out before anything else."""
    from sklearn.model_selection import train_test_split

    if groups is None:
        _check_rows(y, val_fraction, test_fraction, where)
        return train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=y, random_state=seed)
    test_fold = _group_folds(y, groups, max(2, round(1 / test_fraction)), seed, where, "the test split")
    rest, test = np.flatnonzero(test_fold != 0), np.flatnonzero(test_fold == 0)
    _check(where, y, len(np.bincount(y)), {"test": test, "development": rest}, groups)
    return rest, test


def split_validation(
    y: np.ndarray,
    rest: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    where: str = "data",
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The development rows `rest` as (train, val), for a sweep without folds."""
    from sklearn.model_selection import train_test_split

    if groups is None:
        return tuple(
            train_test_split(rest, test_size=val_fraction / (1 - test_fraction), stratify=y[rest], random_state=seed)
        )
    val_fold = _group_folds(
        y[rest], groups[rest], max(2, round((1 - test_fraction) / val_fraction)), seed, where, "the validation split"
    )
    train, val = rest[val_fold != 0], rest[val_fold == 0]
    _check(where, y, len(np.bincount(y)), {"training": train, "validation": val}, groups)
    return train, val


def resolve_folds(folds: int | str, y_dev: np.ndarray, groups: np.ndarray | None = None) -> int:
    """`auto` -> 5 folds on fewer than 2,000 development rows (with >= 5 of each class, and of groups), else 0."""
    if folds != "auto":
        return int(folds)
    enough = np.bincount(y_dev).min() >= AUTO_FOLDS and (groups is None or len(np.unique(groups)) >= AUTO_FOLDS)
    return AUTO_FOLDS if len(y_dev) < AUTO_MAX_ROWS and enough else 0


def assign_folds(
    y_dev: np.ndarray, k: int, seed: int, where: str = "data", groups: np.ndarray | None = None
) -> np.ndarray:
    """Each development row's fold (0..k-1): stratified, shuffled with `seed`; whole groups with `groups`."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y_dev).min())
    if smallest < k:
        raise HpsearchError(
            f"{where}: too few rows for {k}-fold cross-validation: the smallest class has {smallest} development "
            f"row(s), need >= {k}; lower search.cv.folds (or set it to 0: one validation split)"
        )
    if groups is not None:
        fold = _group_folds(y_dev, groups, k, seed, where, f"{k}-fold cross-validation")
        n_classes = len(np.bincount(y_dev))
        _check(where, y_dev, n_classes, {f"fold {j} training": np.flatnonzero(fold != j) for j in range(k)}, groups)
        _check(where, y_dev, 1, {f"fold {j}": np.flatnonzero(fold == j) for j in range(k)}, groups)
        return fold
    fold = np.empty(len(y_dev), dtype=np.int64)
    for j, (_, held_out) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(y_dev, y_dev)):
        fold[held_out] = j
    return fold
