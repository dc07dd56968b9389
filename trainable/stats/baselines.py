"""Baseline models beside the network: fitted on the same rows, encoded the same way, tuned and validated the same way.

Contract: `fit_baselines(data, names, class_weight, seed, max_rows, grids)`
returns `{name: Baseline}` for each of `names`: `logistic_regression`
(scikit-learn's `LogisticRegression`, L2, tuned over `C`) and
`gradient_boosting` (`HistGradientBoostingClassifier`, tuned over
`learning_rate` x `max_leaf_nodes`, with its own early stopping: at most
`BOOSTING_MAX_ITER` iterations, stopped after 10 without improvement of the
log loss on a stratified, seeded 10% of the fit's training rows; with fewer
than `MIN_CLASS_ROWS_TO_STOP` training rows of some class, which that 10%
could not hold, scikit-learn's default 100 iterations). `grids[name]`
maps each knob to the values to try (`export.baseline_grid`); every
combination is a candidate. Each sees the network's encoding of the rows
(`trainable.data.design_matrix.design_matrix`, from the same training-row
schema) and is validated exactly as the trials are:
- one validation split: each candidate fitted on the training split and
  scored on the validation split;
- k folds: each candidate fitted once per fold on the fold's training rows,
  with the fold's own schema, and scored on the pooled out-of-fold
  probabilities.
The candidate kept is the one with the lowest of the network's own
validation loss (`trainable.stats.metrics.score`'s `loss`: the unweighted log
loss of those probabilities, as `val_loss` ranks the trials); ties go to the
first in grid order (in the default grid, the smallest C). `class_weight` weights the fits as it
weights the network's. The kept candidate's fits are the baseline, as an
untuned baseline is fitted: `validation` holds its validation (pooled
out-of-fold) probabilities for `data.y_val`; `test` its probabilities for
`data.y_test` (k folds: the k fold-models' averaged, as the network's exported
model). `chosen` is its setting, `grid` what was searched and `losses` the
validation loss of every candidate (in `grid_points` order).
Probabilities are (n, 1) for a binary task (class 1), else (n, K).
With `max_rows` (an int), a model whose training rows number more is fitted on
a seeded uniform random sample of `max_rows` of them (one gradient boosting
fit costs ~15 s on 700,000 rows here, against ~1.7 s on 100,000, for an AUROC
0.002 lower on the benchmark table; tuning makes one fit per setting):
`fit_rows` and `train_rows` record it, per model (the largest fold's with k
folds), so the card can say so. Validation
and test rows are never sampled. The design matrices are built once per split
or fold and shared by the models and candidates. Linear algebra runs on one
thread (the same bits however many cores; faster at these sizes), gradient
boosting on `openmp_threads` (None: all; its result does not depend on it),
but on one when every fit has fewer than `THREADED_FIT_ROWS` rows: there its
many small parallel steps gain little, and on a busy machine the threads
wait on each other (the default grid on the built-in table, under a load
average of ~10-25: 7.5 s on one thread, 241 s on two).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainable.data.dataset import Dataset
from trainable.data.design_matrix import design_matrix
from trainable.stats.metrics import score

__all__ = [
    "BASELINES",
    "BOOSTING_MAX_ITER",
    "MIN_CLASS_ROWS_TO_STOP",
    "Baseline",
    "Grid",
    "fit_baselines",
    "grid_points",
]

BASELINES = ("logistic_regression", "gradient_boosting")
BOOSTING_MAX_ITER = 500  # gradient boosting's cap on iterations; its early stopping usually ends sooner
MIN_CLASS_ROWS_TO_STOP = 10  # fewer training rows of a class: no early stopping, scikit-learn's 100 iterations
THREADED_FIT_ROWS = 10_000  # fits of fewer rows run gradient boosting on one OpenMP thread, whatever is asked

Grid = Mapping[str, Sequence[float]]  # knob -> values to try


@dataclass(frozen=True)
class Baseline:
    name: str
    validation: np.ndarray
    test: np.ndarray
    fit_rows: int  # training rows the model was fitted on (the largest fold's, with k folds)
    train_rows: int  # training rows there were
    chosen: dict[str, float]  # the kept setting: the grid point of lowest validation loss
    grid: dict[str, list[float]]  # the values searched, per knob
    losses: list[float]  # each grid point's validation loss, in `grid_points(grid)` order


@dataclass(frozen=True)
class _Split:
    """One fit: the design matrix of its training rows, their labels, and its held-out rows (indices into y_val)."""

    X: np.ndarray
    y: np.ndarray
    held_out: np.ndarray
    X_held_out: np.ndarray
    X_test: np.ndarray


def grid_points(grid: Grid) -> list[dict[str, float]]:
    """Every combination of the grid's values, the first knob varying slowest."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _stops_early(y: np.ndarray) -> bool:
    """Whether gradient boosting fitted on labels `y` can hold out its stratified 10% to stop on."""
    return int(np.bincount(np.asarray(y, dtype=np.int64)).min()) >= MIN_CLASS_ROWS_TO_STOP


def _model(name: str, setting: Mapping[str, float], class_weight: str | None, seed: int, stop: bool) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "logistic_regression":
        return LogisticRegression(C=float(setting["C"]), max_iter=2000, class_weight=class_weight)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(
            learning_rate=float(setting["learning_rate"]),
            max_leaf_nodes=int(setting["max_leaf_nodes"]),
            max_iter=BOOSTING_MAX_ITER if stop else 100,
            early_stopping=stop,
            validation_fraction=0.1,
            n_iter_no_change=10,
            scoring="loss",
            class_weight=class_weight,
            random_state=seed,
        )
    raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


def _proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    proba = model.predict_proba(X)
    return proba[:, 1:2] if n_classes == 2 else proba


def _rows(X: Any, rows: np.ndarray) -> Any:
    return {k: v[rows] for k, v in X.items()} if isinstance(X, dict) else X[rows]


def _sample(rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """`rows`, or a seeded uniform random `max_rows` of them (in order) when there are more."""
    if max_rows is None or len(rows) <= max_rows:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))


def _split(data: Dataset, trains: np.ndarray, held_out: np.ndarray, schema: Any) -> _Split:
    return _Split(
        design_matrix(_rows(data.X_train, trains), schema),
        data.y_train[trains],
        held_out,
        design_matrix(_rows(data.X_val, held_out), schema),
        design_matrix(data.X_test, schema),
    )


def _splits(data: Dataset, max_rows: int | None, seed: int) -> tuple[list[_Split], int, int]:
    """The network's validation: (the fits, the most rows a fit used, the most it could have used)."""
    if not data.n_folds:
        rows = _sample(np.arange(len(data.y_train)), max_rows, seed)
        return [_split(data, rows, np.arange(len(data.y_val)), data.schema)], len(rows), len(data.y_train)
    splits, fitted, available = [], 0, 0
    for j, schema in enumerate(data.fold_schemas or ()):
        trains = np.flatnonzero(data.folds != j)
        rows = _sample(trains, max_rows, seed)
        fitted, available = max(fitted, len(rows)), max(available, len(trains))
        splits.append(_split(data, rows, np.flatnonzero(data.folds == j), schema))
    return splits, fitted, available


def _candidate(
    name: str, setting: Mapping[str, float], splits: list[_Split], data: Dataset, class_weight: str | None, seed: int
) -> tuple[float, np.ndarray, list[Any]]:
    """One setting fitted on every split: (its validation loss, its pooled validation probabilities, the models)."""
    K = data.n_classes
    pooled = np.zeros((len(data.y_val), 1 if K == 2 else K))
    models = []
    for split in splits:
        model = _model(name, setting, class_weight, seed, _stops_early(split.y)).fit(split.X, split.y)
        pooled[split.held_out] = _proba(model, split.X_held_out, K)
        models.append(model)
    loss = score(data.y_val, pooled)["loss"]
    return (loss if math.isfinite(loss) else math.inf), pooled, models


def _tuned(
    name: str, grid: Grid, splits: list[_Split], data: Dataset, class_weight: str | None, seed: int
) -> tuple[dict[str, float], list[float], np.ndarray, np.ndarray]:
    """(the setting kept, every candidate's loss, its validation and its test probabilities)."""
    losses: list[float] = []
    best: tuple[dict[str, float], np.ndarray, list[Any]] | None = None
    for setting in grid_points(grid):
        loss, pooled, models = _candidate(name, setting, splits, data, class_weight, seed)
        if best is None or loss < min(losses):
            best = (setting, pooled, models)
        losses.append(loss)
    assert best is not None, f"an empty grid for {name}"
    setting, pooled, models = best
    test = np.mean([_proba(m, s.X_test, data.n_classes) for m, s in zip(models, splits)], axis=0)
    return setting, losses, pooled, test


def fit_baselines(
    data: Dataset,
    names: Sequence[str],
    class_weight: str | None,
    seed: int,
    max_rows: int | None,
    grids: Mapping[str, Grid],
    openmp_threads: int | None = None,
) -> dict[str, Baseline]:
    """Each named baseline, tuned, with its validation and test probabilities (see the module docstring)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
    from threadpoolctl import threadpool_limits

    if not names:
        return {}
    out = {}
    with warnings.catch_warnings(), threadpool_limits(1, "blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # `score`'s AUROC: only its loss is read here
        splits, fitted, available = _splits(data, max_rows, seed)
        with threadpool_limits(1 if fitted < THREADED_FIT_ROWS else openmp_threads, "openmp"):
            for name in names:
                grid = {knob: list(values) for knob, values in grids[name].items()}
                chosen, losses, validation, test = _tuned(name, grid, splits, data, class_weight, seed)
                out[name] = Baseline(name, validation, test, fitted, available, chosen, grid, losses)
    return out
