"""Baseline models beside the network: fitted on the same rows, encoded the same way, validated the same way.

Contract: `fit_baselines(data, names, class_weight, seed, max_rows)` returns
`{name: Baseline}` for each of `names`: `logistic_regression` (scikit-learn's
`LogisticRegression`, L2, C = 1) and `gradient_boosting`
(`HistGradientBoostingClassifier`, defaults). Each sees the network's encoding
of the rows (`trainable.data.design_matrix.design_matrix`, from the same training-row
schema) and is validated exactly as the trials are:
- one validation split: fitted on the training split; `validation` holds its
  probabilities for `data.y_val`, `test` for `data.y_test`;
- k folds: fitted once per fold on the fold's training rows, with the fold's
  own schema; `validation` is the pooled out-of-fold probabilities, `test` the
  k fold-models' probabilities averaged (as the network's exported model).
Probabilities are (n, 1) for a binary task (class 1), else (n, K).
With `max_rows` (an int), a model whose training rows number more is fitted on
a seeded uniform random sample of `max_rows` of them (gradient boosting costs
~15 s on 700,000 rows here, against ~1.7 s on 100,000, for an AUROC 0.002
lower on the benchmark table): `fit_rows` and `train_rows` record it, per
model (the largest fold's with k folds), so the card can say so. Validation
and test rows are never sampled. The design matrices are built once per split
or fold and shared by the models. Linear algebra runs on one thread (the
same bits however many cores; faster at these sizes), gradient boosting on
`openmp_threads` (None: all; its result does not depend on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainable.data.dataset import Dataset
from trainable.data.design_matrix import design_matrix

__all__ = ["BASELINES", "Baseline", "fit_baselines"]

BASELINES = ("logistic_regression", "gradient_boosting")


@dataclass(frozen=True)
class Baseline:
    name: str
    validation: np.ndarray
    test: np.ndarray
    fit_rows: int  # training rows the model was fitted on (the largest fold's, with k folds)
    train_rows: int  # training rows there were


def _model(name: str, class_weight: str | None, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "logistic_regression":
        return LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(class_weight=class_weight, random_state=seed)
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


def _fit_all(
    names: list[str],
    fit: tuple[np.ndarray, np.ndarray],
    scored: list[np.ndarray],
    K: int,
    class_weight: str | None,
    seed: int,
) -> dict[str, list[np.ndarray]]:
    """Each named model fitted on `fit` (X, y) and its probabilities for each matrix of `scored`."""
    X, y = fit
    out: dict[str, list[np.ndarray]] = {}
    for name in names:
        model = _model(name, class_weight, seed).fit(X, y)
        out[name] = [_proba(model, S, K) for S in scored]
    return out


def _one_split(
    data: Dataset, names: list[str], class_weight: str | None, seed: int, max_rows: int | None
) -> dict[str, Baseline]:
    train = _sample(np.arange(len(data.y_train)), max_rows, seed)
    fit = (design_matrix(_rows(data.X_train, train), data.schema), data.y_train[train])
    scored = [design_matrix(data.X_val, data.schema), design_matrix(data.X_test, data.schema)]
    probas = _fit_all(names, fit, scored, data.n_classes, class_weight, seed)
    return {name: Baseline(name, val, test, len(train), len(data.y_train)) for name, (val, test) in probas.items()}


def _k_folds(
    data: Dataset, names: list[str], class_weight: str | None, seed: int, max_rows: int | None
) -> dict[str, Baseline]:
    K = data.n_classes
    pooled = {name: np.zeros((len(data.y_val), 1 if K == 2 else K)) for name in names}
    tests: dict[str, list[np.ndarray]] = {name: [] for name in names}
    fitted = available = 0
    for j, schema in enumerate(data.fold_schemas or ()):
        trains, held_out = np.flatnonzero(data.folds != j), np.flatnonzero(data.folds == j)
        rows = _sample(trains, max_rows, seed)
        fitted, available = max(fitted, len(rows)), max(available, len(trains))
        fit = (design_matrix(_rows(data.X_train, rows), schema), data.y_train[rows])
        scored = [design_matrix(_rows(data.X_val, held_out), schema), design_matrix(data.X_test, schema)]
        for name, (val, test) in _fit_all(names, fit, scored, K, class_weight, seed).items():
            pooled[name][held_out] = val
            tests[name].append(test)
    return {name: Baseline(name, pooled[name], np.mean(tests[name], axis=0), fitted, available) for name in names}


def fit_baselines(
    data: Dataset,
    names: list[str],
    class_weight: str | None,
    seed: int,
    max_rows: int | None,
    openmp_threads: int | None = None,
) -> dict[str, Baseline]:
    """Each named baseline's validation and test probabilities (see the module docstring)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    if not names:
        return {}
    with warnings.catch_warnings(), threadpool_limits(1, "blas"), threadpool_limits(openmp_threads, "openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = _k_folds if data.n_folds else _one_split
        return fit(data, list(names), class_weight, seed, max_rows)
