"""Classification metrics on predicted probabilities (scikit-learn underneath), and their directions.

Contract: `METRIC_MODES` is the one table of the validation metrics a sweep
ranks by and their direction (`max` or `min`); `better(metric, a, b)` says
whether value `a` beats `b`, `tiebreak(metric)` names the metric that breaks
ties on it (lower loss, or higher AUROC when ranking by loss), and
`better_epoch(metric, new, old)` compares two epochs' validation metrics with
that tiebreak. `score(y_true, proba)` returns `{"auroc", "accuracy", "loss"}` for
binary (`proba` of shape (n,) or (n, 1): probability of class 1) and
multiclass (`proba` of shape (n, K): macro one-vs-rest AUROC). `loss` is the
log loss (cross-entropy) of the predictions, without regularisation terms.
Used per epoch inside trials and once on the test split at export; it stays
cheap (three scikit-learn calls).

The clinical side, used at export, in the report and for the leaderboard's
ties (never per epoch):
- `choose_threshold(y, p1, method, target_sensitivity)`: the operating
  threshold on P(class 1), chosen on the VALIDATION split: `youden` maximises
  sensitivity + specificity - 1; `target_sensitivity` is the highest threshold
  whose sensitivity reaches the target. The value is the midpoint between the
  chosen score and the next lower one (so it does not sit on a training-time
  score); a row is positive when its probability is >= the threshold.
- `auroc_rows(scores, positive)`: the AUROC of each row of a matrix of scores
  for fixed labels (Mann-Whitney U from ranks, ties averaged), vectorised.
- `auroc_ci(y, proba, n_boot, seed)`: percentile 95% interval of a stratified
  bootstrap (classes resampled separately, as pROC does), seeded; the AUROC
  of each resample is the Mann-Whitney statistic from ranks, vectorised.
  At an AUROC of exactly 1.0 every resample is 1.0 too and the interval
  collapses to [1, 1]: read it as "no misranked pair in this sample".
- `clinical_metrics(y, proba, threshold, n_boot, seed)`: AUROC (+ CI), AUPRC,
  sensitivity / specificity (+ Wilson 95% intervals), PPV, NPV and accuracy at
  the threshold, the confusion counts, Brier score, and the calibration slope
  (logistic regression of the outcome on logit(p)) and intercept
  (calibration-in-the-large: logistic regression with logit(p) as offset),
  following Van Calster et al. 2019. Undefined values (PPV with no positive
  call, a slope under perfect separation) are None, never a made-up number.
  Multiclass: macro one-vs-rest AUROC (+ CI), AUPRC and Brier, and per-class
  sensitivity / specificity / PPV / NPV at the arg-max label.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METRIC_MODES", "VALIDATION_METRICS", "as_class_proba", "auroc_ci", "auroc_rows", "better", "better_epoch",
    "choose_threshold", "clinical_metrics", "score", "tiebreak",
]

METRIC_MODES = {"val_auroc": "max", "val_accuracy": "max", "val_loss": "min"}
VALIDATION_METRICS = tuple(METRIC_MODES)


def better(metric: str, a: float, b: float) -> bool:
    """Is `a` strictly better than `b` on `metric` (in its direction)?"""
    return a > b if METRIC_MODES[metric] == "max" else a < b


def tiebreak(metric: str) -> str:
    """The metric that orders epochs and trials tied on `metric`: an AUROC that
    saturates at 1.0 is still told apart by the loss (and the loss by the AUROC)."""
    return "val_auroc" if metric == "val_loss" else "val_loss"


def better_epoch(metric: str, new: dict[str, float], old: dict[str, float] | None) -> bool:
    """Is the epoch with validation metrics `new` better than the best so far, `old`?"""
    if not np.isfinite(new[metric]):
        return False
    if old is None:
        return True
    if new[metric] != old[metric]:
        return better(metric, new[metric], old[metric])
    other = tiebreak(metric)
    return better(other, new[other], old[other])


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


_CI_LEVEL = 0.95
_BOOT_CELLS = 4_000_000  # resampled scores held in memory at once (chunks of replicates)


def choose_threshold(
    y_true: np.ndarray, p1: np.ndarray, *, method: str, target_sensitivity: float | None = None
) -> float:
    """Operating threshold on P(class 1) from validation labels and probabilities."""
    from sklearn.metrics import roc_curve

    y_true = np.asarray(y_true).astype(int)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1)
    if len(np.unique(y_true)) != 2:
        raise ValueError("choosing a threshold needs both classes in the validation split")
    fpr, tpr, thresholds = roc_curve(y_true, p1, drop_intermediate=False)
    # thresholds[0] is +inf (nobody positive); thresholds[1:] are the distinct scores, decreasing
    if method == "youden":
        i = 1 + int(np.argmax((tpr - fpr)[1:]))
    elif method == "target_sensitivity":
        if target_sensitivity is None or not 0 < target_sensitivity <= 1:
            raise ValueError(f"target_sensitivity must be in (0, 1], got {target_sensitivity!r}")
        i = int(np.argmax(tpr >= target_sensitivity - 1e-12))
    else:
        raise ValueError(f"unknown threshold method {method!r}")
    if i + 1 < len(thresholds):
        return float((thresholds[i] + thresholds[i + 1]) / 2)
    return float(thresholds[i])


def _stratified_indices(y: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n_boot, n) row indices, each class resampled within itself; and the class of each column."""
    groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    idx = np.concatenate([rng.choice(g, size=(n_boot, len(g)), replace=True) for g in groups], axis=1)
    return idx, np.concatenate([y[g] for g in groups])


def auroc_rows(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` (n_boot, n) for the fixed labels `positive` (n,): Mann-Whitney U."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)  # ties get the average rank, as in roc_auc_score
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    return (ranks[:, positive].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _bootstrap_auroc(y: np.ndarray, full: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """AUROC (binary, or macro one-vs-rest) of `n_boot` stratified resamples."""
    rng = np.random.default_rng(seed)
    n = len(y)
    chunk = max(1, _BOOT_CELLS // max(n, 1))
    out = []
    for start in range(0, n_boot, chunk):
        idx, y_rep = _stratified_indices(y, min(chunk, n_boot - start), rng)
        if full.shape[1] == 2:
            out.append(auroc_rows(full[idx, 1], y_rep == 1))
        else:
            per_class = [auroc_rows(full[idx, k], y_rep == k) for k in range(full.shape[1])]
            out.append(np.mean(per_class, axis=0))
    return np.concatenate(out)


def auroc_ci(y_true: np.ndarray, proba: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of the AUROC (stratified bootstrap, seeded)."""
    y = np.asarray(y_true).astype(int)
    full = as_class_proba(proba)
    counts = np.bincount(y, minlength=full.shape[1])
    if (counts == 0).any() or not np.isfinite(full).all():
        return float("nan"), float("nan")
    reps = _bootstrap_auroc(y, full, n_boot, seed)
    tail = (1 - _CI_LEVEL) / 2 * 100
    lo, hi = np.percentile(reps, [tail, 100 - tail])
    return float(lo), float(hi)


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def _wilson(k: int, n: int) -> list[float] | None:
    from scipy.stats import binomtest

    if n == 0:
        return None
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=_CI_LEVEL, method="wilson")
    return [float(ci.low), float(ci.high)]


def _calibration(y: np.ndarray, p1: np.ndarray, auroc: float) -> tuple[float | None, float | None]:
    """(slope, intercept) of logistic recalibration on logit(p); None where not estimable."""
    import warnings

    from scipy.optimize import brentq
    from scipy.special import expit, logit
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return None, None
    lp = logit(np.clip(p1, 1e-7, 1 - 1e-7))
    prevalence = float(y.mean())
    intercept = float(brentq(lambda a: float(np.mean(expit(a + lp))) - prevalence, -60.0, 60.0))
    if auroc >= 1.0:  # complete separation: the slope's maximum-likelihood estimate is infinite
        return None, intercept
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = LogisticRegression(C=np.inf, max_iter=1000).fit(lp.reshape(-1, 1), y)
        except ConvergenceWarning:
            return None, intercept
    return float(fit.coef_[0, 0]), intercept


def _at_threshold(y: np.ndarray, positive_call: np.ndarray) -> dict[str, object]:
    tp = int(np.sum(positive_call & (y == 1)))
    fp = int(np.sum(positive_call & (y == 0)))
    tn = int(np.sum(~positive_call & (y == 0)))
    fn = int(np.sum(~positive_call & (y == 1)))
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "sensitivity_ci95": _wilson(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "specificity_ci95": _wilson(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "accuracy_at_threshold": _ratio(tp + tn, len(y)),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def clinical_metrics(
    y_true: np.ndarray, proba: np.ndarray, *, threshold: float | None, n_boot: int, seed: int
) -> dict[str, object]:
    """The clinical metrics of one model on one split (see the module docstring)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y_true).astype(int)
    full = as_class_proba(proba)
    k = full.shape[1]
    lo, hi = auroc_ci(y, full, n_boot=n_boot, seed=seed)
    out: dict[str, object] = {"n": int(len(y))}
    if k == 2:
        p1 = full[:, 1]
        auroc = float(roc_auc_score(y, p1)) if len(np.unique(y)) == 2 else float("nan")
        slope, intercept = _calibration(y, p1, auroc)
        t = 0.5 if threshold is None else float(threshold)
        out.update(
            n_positive=int(y.sum()),
            prevalence=float(y.mean()),
            auroc=auroc,
            auroc_ci95=[lo, hi],
            auprc=float(average_precision_score(y, p1)),
            threshold=t,
            **_at_threshold(y, p1 >= t),
            brier=float(brier_score_loss(y, p1)),
            calibration_slope=slope,
            calibration_intercept=intercept,
        )
        return out
    onehot = np.eye(k, dtype=int)[y]
    label = full.argmax(axis=1)
    out.update(
        auroc=float(roc_auc_score(y, full, multi_class="ovr", average="macro", labels=np.arange(k))),
        auroc_ci95=[lo, hi],
        auprc=float(average_precision_score(onehot, full, average="macro")),
        threshold=None,
        accuracy_at_threshold=float(np.mean(label == y)),
        brier=float(brier_score_loss(y, full, labels=np.arange(k))),
        calibration_slope=None,
        calibration_intercept=None,
        per_class=[
            {key: v for key, v in _at_threshold((y == c).astype(int), label == c).items() if key != "accuracy_at_threshold"}
            for c in range(k)
        ],
    )
    return out
