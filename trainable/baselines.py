"""Baseline models beside the network: fitted on the same rows, encoded the same way, validated the same way.

Contract: `fit_baselines(data, names, class_weight, seed)` returns
`{name: Baseline}` for each of `names`: `logistic_regression` (scikit-learn's
`LogisticRegression`, L2, C = 1) and `gradient_boosting`
(`HistGradientBoostingClassifier`, defaults). Each sees the network's encoding
of the rows (`trainable.design.design_matrix`, from the same training-row
schema) and is validated exactly as the trials are:
- one validation split: fitted on the training split; `validation` holds its
  probabilities for `data.y_val`, `test` for `data.y_test`;
- k folds: fitted once per fold on the fold's training rows, with the fold's
  own schema; `validation` is the pooled out-of-fold probabilities, `test` the
  k fold-models' probabilities averaged (as the network's exported model).
Probabilities are (n, 1) for a binary task (class 1), else (n, K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainable.design import design_matrix

__all__ = ["BASELINES", "Baseline", "fit_baselines"]

BASELINES = ("logistic_regression", "gradient_boosting")


@dataclass(frozen=True)
class Baseline:
    name: str
    validation: np.ndarray
    test: np.ndarray


def _model(name: str, class_weight: str | None, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "logistic_regression":
        return LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(class_weight=class_weight, random_state=seed)
    raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


def _proba(model, X: np.ndarray, n_classes: int) -> np.ndarray:
    proba = model.predict_proba(X)
    return proba[:, 1:2] if n_classes == 2 else proba


def _rows(X, rows: np.ndarray):
    return {k: v[rows] for k, v in X.items()} if isinstance(X, dict) else X[rows]


def _fit(name: str, data, class_weight: str | None, seed: int) -> Baseline:
    K = data.n_classes
    if not data.n_folds:
        model = _model(name, class_weight, seed).fit(design_matrix(data.X_train, data.schema), data.y_train)
        return Baseline(name, _proba(model, design_matrix(data.X_val, data.schema), K),
                        _proba(model, design_matrix(data.X_test, data.schema), K))
    pooled = np.zeros((len(data.y_val), 1 if K == 2 else K))
    test = []
    for j, schema in enumerate(data.fold_schemas):
        trains, held_out = np.flatnonzero(data.folds != j), np.flatnonzero(data.folds == j)
        model = _model(name, class_weight, seed).fit(design_matrix(_rows(data.X_train, trains), schema),
                                                     data.y_train[trains])
        pooled[held_out] = _proba(model, design_matrix(_rows(data.X_val, held_out), schema), K)
        test.append(_proba(model, design_matrix(data.X_test, schema), K))
    return Baseline(name, pooled, np.mean(test, axis=0))


def fit_baselines(data, names: list[str], class_weight: str | None, seed: int) -> dict[str, Baseline]:
    """Each named baseline's validation and test probabilities (see the module docstring)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {name: _fit(name, data, class_weight, seed) for name in names}
