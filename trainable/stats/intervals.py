"""Uncertainty: 95% intervals of clinical metrics, and paired comparisons of two models on the same rows.

Contract (every interval is (lo, hi) at 95%; NaN where the quantity is undefined;
`groups`, where taken, is a patient id per row (`data.group`): the units the
variance counts or the bootstrap resamples are then whole patients
(`trainable.stats.clusters`); None, the default, makes every row its own):
- `as_class_proba(proba)`: (n,) or (n, 1) probabilities of class 1, or (n, K),
  as (n, K) rows summing to 1 (what every function here takes).
- `auroc_ci(y, proba, groups)`: AUROC (binary, or macro one-vs-rest): logit-transformed
  DeLong (DeLong, DeLong & Clarke-Pearson 1988; the logit transform as in
  Pepe 2003) with the normal quantile. Where DeLong's variance is 0 (an
  observed AUROC of 0 or 1, or every score tied), the score interval that
  inverts the Hanley & McNeil (1982) variance at each candidate AUROC, as
  Wilson's does for a proportion (Newcombe 2006): never a point (an AUROC of
  1.0 on 86 rows gets a lower bound near 0.94). Simulated on 86 rows, a third
  positive, binormal scores: coverage 0.953, 0.950 and 0.946 at a true AUROC
  of 0.75, 0.9 and 0.99 (tests/unit/trainable/test_interval_coverage.py).
  With `groups`, DeLong's variance is Obuchowski's (1997) clustered one, and
  the score interval counts patients.
- `auroc_influence(y, proba)`: each row's DeLong influence on the AUROC
  (structural components), for variances and paired differences.
- `paired_difference(metric, y, proba_a, proba_b, n_boot, seed, groups)`: the
  difference a - b in a validation metric on the same rows (`groups` as
  above: the clustered DeLong variance, the t quantile's degrees of freedom
  counted in patients, or a cluster bootstrap), with its 95%
  interval: DeLong's paired variance, with a t quantile on min(class count) - 1
  degrees of freedom, for `val_auroc` (where that variance is 0, as when both AUROCs are 1, the MOVER
  interval built from the two AUROC intervals: Newcombe 1998, Zou & Donner
  2008); for `val_loss` and
  `val_accuracy`, a BCa bootstrap (Efron 1987) of the mean per-row
  difference, resampling rows (the same rows for both models); above 2,000
  rows, where the mean is normal to within the bootstrap's own noise, the t
  interval (BCa's jackknife alone would take n^2 memory).
- `proportion_ci(p, n)`: Wilson's score interval (Wilson 1927) for a proportion
  `p` observed on `n` units (sensitivity, specificity; AUPRC on the positives,
  after Boyd, Eng & Page 2013). With `groups`, the callers pass the effective
  sample size (`trainable.stats.clusters.effective_n`; for AUPRC, the
  positives' patients).
- `mean_ci(values, n_boot, seed, groups)`: BCa bootstrap interval of a mean of values
  in [0, 1] (the Brier score's per-row squared errors; the t interval above
  2,000 rows, as for the paired differences); when every value is
  0, the exact binomial upper bound of the share of rows (patients) with any
  error (Clopper-Pearson), never a point. With `groups`, the cluster
  bootstrap: whole patients resampled, the statistic their values' total over
  their rows' (Davison & Hinkley 1997, section 3.8).
The calibration slope and intercept are `trainable.stats.calibration`'s.
Only NumPy and SciPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from trainable.names import VAL_ACCURACY, VAL_AUROC, VAL_LOSS
from trainable.stats.clusters import cluster_totals, clustered_variance, count_units, ratio_variance

__all__ = [
    "as_class_proba",
    "auroc_ci",
    "auroc_influence",
    "mean_ci",
    "paired_difference",
    "proportion_ci",
    "row_losses",
]

LEVEL = 0.95


def as_class_proba(proba: np.ndarray) -> np.ndarray:
    """(n,) or (n, 1) probabilities of class 1, or (n, K): returns (n, K) rows summing to 1."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1 or proba.shape[1] == 1:
        p1 = np.clip(proba.reshape(-1), 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])
    return proba / proba.sum(axis=1, keepdims=True)


def _z() -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + LEVEL / 2))


def proportion_ci(p: float, n: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion `p` (may be fractional) out of `n`."""
    if n <= 0 or not np.isfinite(p):
        return float("nan"), float("nan")
    z = _z()
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))
    return float(lo), float(hi)


def _placements(positive_scores: np.ndarray, negative_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: for each positive, the share of negatives it
    outranks (ties count half); for each negative, the share of positives that outrank it."""
    neg_sorted = np.sort(negative_scores)
    pos_sorted = np.sort(positive_scores)
    below = np.searchsorted(neg_sorted, positive_scores, side="left")
    tied = np.searchsorted(neg_sorted, positive_scores, side="right") - below
    v10 = (below + 0.5 * tied) / len(negative_scores)
    above = len(pos_sorted) - np.searchsorted(pos_sorted, negative_scores, side="right")
    tied0 = np.searchsorted(pos_sorted, negative_scores, side="right") - np.searchsorted(
        pos_sorted, negative_scores, side="left"
    )
    v01 = (above + 0.5 * tied0) / len(positive_scores)
    return v10, v01


def _one_vs_rest(y: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
    """AUROC of `scores` for the positives `y` (bool), and each row's influence on it."""
    v10, v01 = _placements(scores[y], scores[~y])
    auc = float(v10.mean())
    influence = np.empty(len(y))
    influence[y] = (v10 - auc) * len(y) / y.sum()
    influence[~y] = (v01 - auc) * len(y) / (~y).sum()
    return auc, influence


def auroc_influence(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, np.ndarray]:
    """(AUROC, per-row influence): binary, or macro one-vs-rest (the mean of the classes' influences)."""
    y = np.asarray(y_true).astype(int)
    full = as_class_proba(proba)
    classes = [1] if full.shape[1] == 2 else range(full.shape[1])
    parts = [_one_vs_rest(y == k, full[:, k]) for k in classes]
    return float(np.mean([a for a, _ in parts])), np.mean([i for _, i in parts], axis=0)


def _variance(y: np.ndarray, influence: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Variance of a statistic with per-row `influence`: the class counts held fixed, or, with
    `groups`, patients as the units (Obuchowski 1997)."""
    if groups is not None:
        return clustered_variance(influence, groups)
    n = len(y)
    return float(sum(np.sum(y == c) * influence[y == c].var(ddof=1) for c in np.unique(y) if np.sum(y == c) > 1)) / n**2


def _score_interval(auc: float, m: int, n: int) -> tuple[float, float]:
    """The Hanley & McNeil variance V(theta) (m positives, n negatives), inverted as a
    score interval: the thetas with |auc - theta| <= z sqrt(V(theta))."""
    from scipy.optimize import brentq

    z = _z()

    def sd(t: float) -> float:
        var = (t * (1 - t) + (m - 1) * (t / (2 - t) - t * t) + (n - 1) * (2 * t * t / (1 + t) - t * t)) / (m * n)
        return np.sqrt(max(var, 0.0))

    lo = 0.0 if auc <= 0 else brentq(lambda t: (auc - t) - z * sd(t), 0.0, auc * (1 - 1e-12))
    hi = 1.0 if auc >= 1 else brentq(lambda t: (t - auc) - z * sd(t), auc + (1 - auc) * 1e-12, 1.0)
    return float(lo), float(hi)


def _class_units(y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per class: its rows, or, with `groups`, the patients with a row of it."""
    if groups is None:
        return np.bincount(y)
    return np.array([count_units(groups[y == c]) if np.any(y == c) else 0 for c in range(y.max() + 1)])


def _t_quantile(y: np.ndarray, groups: np.ndarray | None = None) -> float:
    """The two-sided 95% t quantile on min(class count) - 1 degrees of freedom (counting patients with `groups`)."""
    from scipy.stats import t as student

    counts = _class_units(y, groups)
    return float(student.ppf(0.5 + LEVEL / 2, max(int(counts[counts > 0].min()) - 1, 1)))


def auroc_ci(y_true: np.ndarray, proba: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """95% interval of the AUROC (see the module docstring); NaN without two classes.
    `groups`: a patient id per row, the units of the variance (None: every row its own)."""
    y = np.asarray(y_true).astype(int)
    if (np.bincount(y) > 0).sum() < 2 or not np.isfinite(np.asarray(proba, dtype=float)).all():
        return float("nan"), float("nan")
    auc, influence = auroc_influence(y, proba)
    var = _variance(y, influence, groups)
    if 0 < auc < 1 and var > 0:
        centre, half = np.log(auc / (1 - auc)), _z() * np.sqrt(var) / (auc * (1 - auc))
        return float(1 / (1 + np.exp(half - centre))), float(1 / (1 + np.exp(-centre - half)))
    # DeLong's variance is 0 (AUROC 0 or 1, or every score tied): the score interval.
    # Hanley & McNeil's roles: the positives (binary), or the smallest class against the rest;
    # with `groups`, counted in patients
    counts = _class_units(y, groups)
    c = 1 if as_class_proba(proba).shape[1] == 2 else int(np.flatnonzero(counts == counts[counts > 0].min())[0])
    rest = len(y) - counts[c] if groups is None else count_units(groups[y != c])
    return _score_interval(auc, int(counts[c]), int(rest))


def row_losses(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's log loss (cross-entropy), clipped as scikit-learn's `log_loss`."""
    full = as_class_proba(proba)
    eps = np.finfo(full.dtype).eps
    p = np.clip(full[np.arange(len(full)), np.asarray(y_true).astype(int)], eps, 1 - eps)
    return -np.log(p)


BCA_MAX_ROWS = 2000  # above this, the t interval of a mean (see the module docstring)


def _ratio(sums: np.ndarray, sizes: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean per row of resampled patients: their values' total over their rows'."""
    return np.sum(sums, axis=axis) / np.sum(sizes, axis=axis)


def _bca(values: np.ndarray, n_boot: int, seed: int, groups: np.ndarray | None = None) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of `values` (Efron 1987), resampling rows, or, with
    `groups`, whole patients (the cluster bootstrap: Davison & Hinkley 1997, section 3.8);
    percentile if BCa is undefined; the t interval on more than `BCA_MAX_ROWS` units."""
    from scipy.stats import bootstrap
    from scipy.stats import t as student

    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    statistic: Callable[..., Any]
    samples: tuple[np.ndarray, ...]
    if groups is None:
        samples, statistic, units, sd = (values,), np.mean, len(values), values.std(ddof=1) / np.sqrt(len(values))
    else:
        samples, statistic = cluster_totals(values, groups), _ratio
        units, sd = len(samples[0]), np.sqrt(ratio_variance(values, groups))
    if units > BCA_MAX_ROWS:
        half = float(student.ppf(0.5 + LEVEL / 2, units - 1)) * sd
        return float(values.mean() - half), float(values.mean() + half)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("BCa", "percentile"):
            res = bootstrap(
                samples,
                statistic,
                paired=groups is not None,
                confidence_level=LEVEL,
                n_resamples=n_boot,
                method=method,
                vectorized=True,
                random_state=np.random.default_rng(seed),
            )
            lo, hi = res.confidence_interval
            if np.isfinite(lo) and np.isfinite(hi):
                return float(lo), float(hi)
    return float("nan"), float("nan")


def mean_ci(values: np.ndarray, *, n_boot: int, seed: int, groups: np.ndarray | None = None) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean of per-row `values` in [0, 1] (resampling patients with `groups`)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    if not values.any():  # no row with any error: bound the share of units that could have one
        units = len(values) if groups is None else count_units(groups)
        return 0.0, float(1 - ((1 - LEVEL) / 2) ** (1 / units))
    return _bca(values, n_boot, seed, groups)


def paired_difference(
    metric: str,
    y_true: np.ndarray,
    proba_a: np.ndarray,
    proba_b: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(a - b, lo, hi) in `metric` (`val_loss`, `val_accuracy` or `val_auroc`) on the same rows;
    `groups`: a patient id per row, the units resampled (None: every row its own)."""
    y = np.asarray(y_true).astype(int)
    if metric == VAL_AUROC:
        auc_a, infl_a = auroc_influence(y, proba_a)
        auc_b, infl_b = auroc_influence(y, proba_b)
        delta, sd = auc_a - auc_b, np.sqrt(max(_variance(y, infl_a - infl_b, groups), 0.0))
        if sd > 0:
            q = _t_quantile(y, groups)
            return float(delta), float(delta - q * sd), float(delta + q * sd)
        # DeLong's paired variance is 0 (e.g. both AUROCs are 1): MOVER from the two intervals
        (lo_a, hi_a), (lo_b, hi_b) = auroc_ci(y, proba_a, groups), auroc_ci(y, proba_b, groups)
        return (
            float(delta),
            float(delta - np.hypot(auc_a - lo_a, hi_b - auc_b)),
            float(delta + np.hypot(hi_a - auc_a, auc_b - lo_b)),
        )
    if metric == VAL_LOSS:
        per_row = row_losses(y, proba_a) - row_losses(y, proba_b)
    elif metric == VAL_ACCURACY:
        correct = [as_class_proba(p).argmax(axis=1) == y for p in (proba_a, proba_b)]
        per_row = correct[0].astype(float) - correct[1].astype(float)
    else:
        raise ValueError(f"no paired difference for metric {metric!r}")
    lo, hi = _bca(per_row, n_boot, seed, groups)
    return float(per_row.mean()), lo, hi
