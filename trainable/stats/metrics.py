"""Classification metrics on predicted probabilities (scikit-learn underneath), and their directions.

Contract: the metrics' names and directions are `trainable.names`'s
(`METRIC_MODES`); `better(metric, a, b)` says
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
- `clinical_metrics(y, proba, threshold, n_boot, seed, groups=None)`: AUROC, AUPRC,
  sensitivity / specificity, PPV, NPV and accuracy at the threshold, the
  confusion counts, the Brier score, and the calibration slope (logistic
  regression of the outcome on logit(p)) and intercept (calibration-in-the-
  large: logit(p) as offset), following Van Calster et al. 2019; each of
  AUROC, AUPRC, sensitivity, specificity, Brier, slope and intercept with a
  95% interval `<metric>_ci95` (methods: `trainable.stats.intervals` and
  `trainable.stats.calibration`; with `groups`, a patient id per row, every
  interval takes patients as its units: `trainable.stats.clusters`). Undefined values
  (PPV with no positive call, the slope under complete or quasi-complete
  separation) are None, never a made-up number. Multiclass: macro
  one-vs-rest AUROC, AUPRC and Brier (with intervals), and per class (one
  vs rest) sensitivity / specificity / PPV / NPV at the arg-max label and
  the calibration slope and intercept.
- `summary_metrics(y, proba, n_boot, seed, groups=None)`: the threshold-free part (AUROC,
  AUPRC, Brier, each with its interval; log loss, accuracy): what the
  baselines are compared on.
- `net_benefit(y, p1, thresholds)`: decision curve analysis (Vickers & Elkin
  2006): at each threshold probability t, the net benefit of treating the
  rows with p1 >= t, TP/n - FP/n * t / (1 - t), and of treating all rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainable.names import METRIC_MODES, VAL_AUROC, VAL_LOSS
from trainable.stats.intervals import as_class_proba

__all__ = [
    "better",
    "better_epoch",
    "choose_threshold",
    "clinical_metrics",
    "net_benefit",
    "operating_point",
    "score",
    "summary_metrics",
    "tiebreak",
]


def better(metric: str, a: float, b: float) -> bool:
    """Is `a` strictly better than `b` on `metric` (in its direction)?"""
    return a > b if METRIC_MODES[metric] == "max" else a < b


def tiebreak(metric: str) -> str:
    """The metric that orders epochs and trials tied on `metric`: an AUROC that
    saturates at 1.0 is still told apart by the loss (and the loss by the AUROC)."""
    return VAL_AUROC if metric == VAL_LOSS else VAL_LOSS


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


def score(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """AUROC, accuracy and log loss. Called for every configuration after every epoch: scikit-learn's
    argument checks (a few ms a call) are skipped, the inputs being checked here."""
    import sklearn

    full = as_class_proba(proba)
    y_true = np.asarray(y_true)
    if not np.isfinite(full).all():
        return {"auroc": float("nan"), "accuracy": float("nan"), "loss": float("nan")}
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        return _score(y_true, full)


def _score(y_true: np.ndarray, full: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    labels = np.arange(full.shape[1])
    if full.shape[1] == 2:
        auroc = roc_auc_score(y_true, full[:, 1]) if len(np.unique(y_true)) == 2 else float("nan")
    else:
        auroc = roc_auc_score(y_true, full, multi_class="ovr", average="macro", labels=labels)
    return {
        "auroc": float(auroc),
        "accuracy": float(accuracy_score(y_true, full.argmax(axis=1))),
        "loss": float(log_loss(y_true, full, labels=labels)),
    }


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


def operating_point(
    y_true: np.ndarray, proba: np.ndarray, *, method: str, target_sensitivity: float | None = None
) -> dict[str, float | None]:
    """Sensitivity and specificity on these (validation) rows at the threshold chosen on them by `method`:
    what a constraint on the operating point (`search.constraints`) bounds. Binary outcomes only."""
    y = np.asarray(y_true).astype(int)
    p1 = as_class_proba(proba)[:, 1]
    if len(np.unique(y)) != 2 or not np.isfinite(p1).all():
        return {"sensitivity": float("nan"), "specificity": float("nan")}
    at = _at_threshold(y, p1 >= choose_threshold(y, p1, method=method, target_sensitivity=target_sensitivity))
    return {"sensitivity": at["sensitivity"], "specificity": at["specificity"]}


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def _wilson(hits: np.ndarray, groups: np.ndarray | None) -> list[float] | None:
    """Wilson's interval of the share of `hits`; with `groups`, on the effective sample size."""
    from trainable.stats.clusters import effective_n
    from trainable.stats.intervals import proportion_ci

    if not len(hits):
        return None
    return list(proportion_ci(float(hits.mean()), len(hits) if groups is None else effective_n(hits, groups)))


def _at_threshold(y: np.ndarray, positive_call: np.ndarray, groups: np.ndarray | None = None) -> dict[str, Any]:
    tp = int(np.sum(positive_call & (y == 1)))
    fp = int(np.sum(positive_call & (y == 0)))
    tn = int(np.sum(~positive_call & (y == 0)))
    fn = int(np.sum(~positive_call & (y == 1)))
    among = {c: (None if groups is None else groups[y == c]) for c in (0, 1)}
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "sensitivity_ci95": _wilson(positive_call[y == 1], among[1]),
        "specificity": _ratio(tn, tn + fp),
        "specificity_ci95": _wilson(~positive_call[y == 0], among[0]),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "accuracy_at_threshold": _ratio(tp + tn, len(y)),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def summary_metrics(
    y_true: np.ndarray, proba: np.ndarray, *, n_boot: int, seed: int, groups: np.ndarray | None = None
) -> dict[str, object]:
    """The threshold-free metrics of one model on one split (see the module docstring)."""
    y = np.asarray(y_true).astype(int)
    return {"n": int(len(y)), **score(y, proba), **_ranking(y, as_class_proba(proba), n_boot, seed, groups)}


def net_benefit(y_true: np.ndarray, p1: np.ndarray, thresholds: np.ndarray) -> tuple[list[float], list[float]]:
    """(the model's net benefit, treat-all's) at each threshold probability (Vickers & Elkin 2006)."""
    y = np.asarray(y_true).astype(int)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1)
    t = np.asarray(thresholds, dtype=np.float64)
    odds = t / (1 - t)
    called = p1[None, :] >= t[:, None]  # (thresholds, rows)
    tp, fp = (called & (y == 1)).sum(axis=1), (called & (y == 0)).sum(axis=1)
    prevalence = y.mean()
    model = tp / len(y) - fp / len(y) * odds
    treat_all = prevalence - (1 - prevalence) * odds
    return [float(v) for v in model], [float(v) for v in treat_all]


def _ranking(y: np.ndarray, full: np.ndarray, n_boot: int, seed: int, groups: np.ndarray | None) -> dict[str, object]:
    """AUROC, AUPRC and the Brier score, with their intervals (binary or macro one-vs-rest)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    from trainable.stats.clusters import count_units
    from trainable.stats.intervals import auroc_ci, mean_ci, proportion_ci

    k = full.shape[1]
    onehot = np.eye(k, dtype=int)[y]
    if k == 2:
        auroc = float(roc_auc_score(y, full[:, 1])) if len(np.unique(y)) == 2 else float("nan")
        auprc, brier = float(average_precision_score(y, full[:, 1])), float(brier_score_loss(y, full[:, 1]))
        per_row = (full[:, 1] - y) ** 2
    else:
        auroc = float(roc_auc_score(y, full, multi_class="ovr", average="macro", labels=np.arange(k)))
        auprc = float(average_precision_score(onehot, full, average="macro"))
        brier = float(brier_score_loss(y, full, labels=np.arange(k)))
        per_row = ((full - onehot) ** 2).sum(axis=1)
    smallest = 1 if k == 2 else int(np.argmin(np.bincount(y, minlength=k)))
    # AUPRC's units: the positives (the smallest class), or, with groups, their patients
    positives = int(np.sum(y == smallest)) if groups is None else count_units(groups[y == smallest])
    return {
        "auroc": auroc,
        "auroc_ci95": list(auroc_ci(y, full, groups)),
        "auprc": auprc,
        "auprc_ci95": list(proportion_ci(auprc, positives)),
        "brier": brier,
        "brier_ci95": list(mean_ci(per_row, n_boot=n_boot, seed=seed, groups=groups)),
    }


def clinical_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float | None,
    n_boot: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict[str, object]:
    """The clinical metrics of one model on one split (see the module docstring); `groups`: a
    patient id per row, the units of every interval (None: every row its own)."""
    from trainable.stats.calibration import calibration

    y = np.asarray(y_true).astype(int)
    full = as_class_proba(proba)
    k = full.shape[1]
    out: dict[str, object] = {"n": int(len(y))}
    ranking = _ranking(y, full, n_boot, seed, groups)
    if k == 2:
        t = 0.5 if threshold is None else float(threshold)
        out.update(
            n_positive=int(y.sum()),
            prevalence=float(y.mean()),
            **ranking,
            threshold=t,
            **_at_threshold(y, full[:, 1] >= t, groups),
            **calibration(y, full[:, 1], groups),
        )
        return out
    label = full.argmax(axis=1)
    out.update(
        **ranking,
        threshold=None,
        accuracy_at_threshold=float(np.mean(label == y)),
        calibration_slope=None,
        calibration_intercept=None,
        per_class=[
            {
                **{
                    key: v
                    for key, v in _at_threshold((y == c).astype(int), label == c, groups).items()
                    if key != "accuracy_at_threshold"
                },
                **calibration((y == c).astype(int), full[:, c], groups),
            }
            for c in range(k)
        ],
    )
    return out
