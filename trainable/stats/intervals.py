"""Uncertainty: 95% intervals of clinical metrics, and paired comparisons of two models on the same rows.

Contract (every interval is (lo, hi) at 95%; NaN where the quantity is undefined):
- `as_class_proba(proba)`: (n,) or (n, 1) probabilities of class 1, or (n, K),
  as (n, K) rows summing to 1 (what every function here takes).
- `auroc_ci(y, proba)`: AUROC (binary, or macro one-vs-rest): logit-transformed
  DeLong (DeLong, DeLong & Clarke-Pearson 1988; the logit transform as in
  Pepe 2003) with the normal quantile. Where DeLong's variance is 0 (an
  observed AUROC of 0 or 1, or every score tied), the score interval that
  inverts the Hanley & McNeil (1982) variance at each candidate AUROC, as
  Wilson's does for a proportion (Newcombe 2006): never a point (an AUROC of
  1.0 on 86 rows gets a lower bound near 0.94). Simulated on 86 rows, a third
  positive, binormal scores: coverage 0.953, 0.950 and 0.946 at a true AUROC
  of 0.75, 0.9 and 0.99 (tests/unit/trainable/test_interval_coverage.py).
- `auroc_influence(y, proba)`: each row's DeLong influence on the AUROC
  (structural components), for variances and paired differences.
- `paired_difference(metric, y, proba_a, proba_b, n_boot, seed)`: the
  difference a - b in a validation metric on the same rows, with its 95%
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
  after Boyd, Eng & Page 2013).
- `mean_ci(values, n_boot, seed)`: BCa bootstrap interval of a mean of values
  in [0, 1] (the Brier score's per-row squared errors; the t interval above
  2,000 rows, as for the paired differences); when every value is
  0, the exact binomial upper bound of the share of rows with any error
  (Clopper-Pearson), never a point.
- `calibration(y, p1)`: calibration slope and intercept (Van Calster et al.
  2019) with profile-likelihood intervals (Venzon & Moolgavkar 1988): the
  values whose likelihood-ratio statistic is at most chi2(1)'s 95% quantile,
  the intercept maximised out for the slope. Unlike Wald's, they follow the
  likelihood where it flattens towards separation (one misordered pair on 86
  rows: slope 7.4, profile [3.9, 14.1], Wald [2.7, 12.1]). The slope is None
  when the scores separate the classes completely or quasi-completely (its
  maximum-likelihood estimate is infinite), or are all equal (no slope to fit).
Only NumPy and SciPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from trainable.names import VAL_ACCURACY, VAL_AUROC, VAL_LOSS

__all__ = [
    "as_class_proba",
    "auroc_ci",
    "auroc_influence",
    "calibration",
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


def _variance(y: np.ndarray, influence: np.ndarray) -> float:
    """Variance of a statistic with per-row `influence`, the class counts held fixed."""
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


def _t_quantile(y: np.ndarray) -> float:
    """The two-sided 95% t quantile on min(class count) - 1 degrees of freedom."""
    from scipy.stats import t as student

    counts = np.bincount(y)
    return float(student.ppf(0.5 + LEVEL / 2, max(int(counts[counts > 0].min()) - 1, 1)))


def auroc_ci(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """95% interval of the AUROC (see the module docstring); NaN without two classes."""
    y = np.asarray(y_true).astype(int)
    counts = np.bincount(y)
    if (counts > 0).sum() < 2 or not np.isfinite(np.asarray(proba, dtype=float)).all():
        return float("nan"), float("nan")
    auc, influence = auroc_influence(y, proba)
    var = _variance(y, influence)
    if 0 < auc < 1 and var > 0:
        centre, half = np.log(auc / (1 - auc)), _z() * np.sqrt(var) / (auc * (1 - auc))
        return float(1 / (1 + np.exp(half - centre))), float(1 / (1 + np.exp(-centre - half)))
    # DeLong's variance is 0 (AUROC 0 or 1, or every score tied): the score interval.
    # Hanley & McNeil's roles: the positives (binary), or the smallest class against the rest
    m = int(counts[1]) if as_class_proba(proba).shape[1] == 2 else int(counts[counts > 0].min())
    return _score_interval(auc, m, int(len(y) - m))


def row_losses(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's log loss (cross-entropy), clipped as scikit-learn's `log_loss`."""
    full = as_class_proba(proba)
    eps = np.finfo(full.dtype).eps
    p = np.clip(full[np.arange(len(full)), np.asarray(y_true).astype(int)], eps, 1 - eps)
    return -np.log(p)


BCA_MAX_ROWS = 2000  # above this, the t interval of a mean (see the module docstring)


def _bca(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of `values` (Efron 1987); percentile if BCa is undefined;
    the t interval on more than `BCA_MAX_ROWS` rows."""
    from scipy.stats import bootstrap
    from scipy.stats import t as student

    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    if len(values) > BCA_MAX_ROWS:
        half = float(student.ppf(0.5 + LEVEL / 2, len(values) - 1)) * values.std(ddof=1) / np.sqrt(len(values))
        return float(values.mean() - half), float(values.mean() + half)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("BCa", "percentile"):
            res = bootstrap(
                (values,),
                np.mean,
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


def mean_ci(values: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean of per-row `values` in [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    if not values.any():  # no row with any error: bound the share of rows that could have one
        return 0.0, float(1 - ((1 - LEVEL) / 2) ** (1 / len(values)))
    return _bca(values, n_boot, seed)


def paired_difference(
    metric: str, y_true: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray, *, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """(a - b, lo, hi) in `metric` (`val_loss`, `val_accuracy` or `val_auroc`) on the same rows."""
    y = np.asarray(y_true).astype(int)
    if metric == VAL_AUROC:
        auc_a, infl_a = auroc_influence(y, proba_a)
        auc_b, infl_b = auroc_influence(y, proba_b)
        delta, sd = auc_a - auc_b, np.sqrt(max(_variance(y, infl_a - infl_b), 0.0))
        if sd > 0:
            q = _t_quantile(y)
            return float(delta), float(delta - q * sd), float(delta + q * sd)
        # DeLong's paired variance is 0 (e.g. both AUROCs are 1): MOVER from the two intervals
        (lo_a, hi_a), (lo_b, hi_b) = auroc_ci(y, proba_a), auroc_ci(y, proba_b)
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
    lo, hi = _bca(per_row, n_boot, seed)
    return float(per_row.mean()), lo, hi


def _separated(y: np.ndarray, lp: np.ndarray) -> bool:
    """Do the scores separate the classes completely or quasi-completely (the
    classes meet at most at tied scores)? Then the logistic slope is infinite."""
    pos, neg = lp[y == 1], lp[y == 0]
    return bool(np.ptp(lp) > 0 and (neg.max() <= pos.min() or pos.max() <= neg.min()))


def _log_likelihood(y: np.ndarray, eta: np.ndarray) -> float:
    """The Bernoulli log-likelihood of outcomes `y` at linear predictors `eta`."""
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def _offset_intercept(y: np.ndarray, offset: np.ndarray) -> float:
    """The maximum-likelihood intercept of a logistic model with `offset` (both classes present)."""
    from scipy.optimize import brentq
    from scipy.special import expit

    edge = float(np.abs(offset).max()) + 50.0
    return float(brentq(lambda a: float(np.mean(expit(a + offset))) - float(y.mean()), -edge, edge, xtol=1e-12))


def _slope_profile(y: np.ndarray, lp: np.ndarray, slope: float) -> float:
    """The profile log-likelihood of the calibration slope: the intercept maximised out."""
    return _log_likelihood(y, _offset_intercept(y, slope * lp) + slope * lp)


def _root_beyond(f: Callable[[float], float], start: float, step: float) -> float:
    """The root of `f`, negative at `start` and rising away from it in the direction of
    `step` (the step doubles until it brackets the root)."""
    from scipy.optimize import brentq

    for _ in range(60):
        if f(start + step) > 0:
            return float(brentq(f, start, start + step, xtol=1e-10))
        step *= 2
    return float("inf") if step > 0 else float("-inf")


def _likelihood_interval(loglik: Callable[[float], float], mle: float, step: float) -> list[float]:
    """The 95% profile-likelihood interval (Venzon & Moolgavkar 1988): the values whose
    likelihood-ratio statistic against the maximum at `mle` is at most chi2(1)'s 95% quantile."""
    from scipy.stats import chi2

    top, crit = loglik(mle), float(chi2.ppf(LEVEL, 1))

    def excess(value: float) -> float:
        return 2 * (top - loglik(value)) - crit

    return [_root_beyond(excess, mle, -step), _root_beyond(excess, mle, step)]


def _slope_mle(y: np.ndarray, lp: np.ndarray) -> float:
    """The maximum-likelihood calibration slope: the root of the profile score, which falls
    as the slope rises (the profile log-likelihood is concave); finite when the scores do not separate."""
    from scipy.special import expit

    def score(b: float) -> float:
        return float(np.sum((y - expit(_offset_intercept(y, b * lp) + b * lp)) * lp))

    return _root_beyond(lambda b: -score(b), 0.0, 1.0) if score(0.0) > 0 else _root_beyond(score, 0.0, -1.0)


def calibration(y: np.ndarray, p1: np.ndarray) -> dict[str, object]:
    """Calibration slope (logistic regression of the outcome on logit(p)) and
    intercept (calibration-in-the-large: logit(p) as offset), with profile-likelihood 95% intervals."""
    from scipy.special import expit, logit

    out: dict[str, object] = dict.fromkeys(
        ("calibration_slope", "calibration_slope_ci95", "calibration_intercept", "calibration_intercept_ci95")
    )
    y = np.asarray(y).astype(int)
    if len(np.unique(y)) < 2:
        return out
    lp = logit(np.clip(np.asarray(p1, dtype=np.float64), 1e-7, 1 - 1e-7))
    a = _offset_intercept(y, lp)
    se_a = 1 / np.sqrt(np.sum(expit(a + lp) * (1 - expit(a + lp))))
    out.update(
        calibration_intercept=a,
        calibration_intercept_ci95=_likelihood_interval(lambda t: _log_likelihood(y, t + lp), a, float(se_a)),
    )
    if _separated(y, lp) or np.ptp(lp) == 0:
        return out
    slope = _slope_mle(y, lp)
    w = expit(_offset_intercept(y, slope * lp) + slope * lp)
    X = np.column_stack([np.ones_like(lp), lp])
    se = float(np.sqrt(np.linalg.inv(X.T @ (X * (w * (1 - w))[:, None]))[1, 1]))
    out.update(
        calibration_slope=slope,
        calibration_slope_ci95=_likelihood_interval(lambda b: _slope_profile(y, lp, b), slope, se),
    )
    return out
