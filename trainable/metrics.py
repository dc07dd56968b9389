"""Classification metrics on predicted probabilities (scikit-learn underneath).

Contract: `score(y_true, proba)` returns `{"auroc", "accuracy", "loss"}` for
binary (`proba` of shape (n,) or (n, 1): probability of class 1) and
multiclass (`proba` of shape (n, K): macro one-vs-rest AUROC). `loss` is the
log loss (cross-entropy) of the predictions, without regularisation terms.
Used per epoch inside trials and once on the test split at export.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_class_proba", "score"]


def as_class_proba(proba: np.ndarray) -> np.ndarray:
    """(n,) or (n, 1) probabilities of class 1, or (n, K): returns (n, K) rows summing to 1."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1 or proba.shape[1] == 1:
        p1 = np.clip(proba.reshape(-1), 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])
    return proba / proba.sum(axis=1, keepdims=True)


def score(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    full = as_class_proba(proba)
    labels = np.arange(full.shape[1])
    y_true = np.asarray(y_true)
    if not np.isfinite(full).all():
        return {"auroc": float("nan"), "accuracy": float("nan"), "loss": float("nan")}
    if full.shape[1] == 2:
        auroc = roc_auc_score(y_true, full[:, 1]) if len(np.unique(y_true)) == 2 else float("nan")
    else:
        auroc = roc_auc_score(y_true, full, multi_class="ovr", average="macro", labels=labels)
    return {
        "auroc": float(auroc),
        "accuracy": float(accuracy_score(y_true, full.argmax(axis=1))),
        "loss": float(log_loss(y_true, full, labels=labels)),
    }
