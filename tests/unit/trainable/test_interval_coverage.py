"""Intervals at their nominal level: simulated coverage of the AUROC interval, the profile-likelihood
calibration slope checked against an independent likelihood-ratio computation. Fast, NumPy and SciPy only."""

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit
from scipy.stats import chi2, norm

from trainable.stats.calibration import calibration
from trainable.stats.intervals import auroc_ci, paired_difference

N_POSITIVE, N_NEGATIVE = 29, 57  # 86 test rows, a third positive


@pytest.mark.parametrize("true_auroc", [0.75, 0.9, 0.99])
def test_the_auroc_interval_covers_at_its_nominal_level(true_auroc):
    # binormal scores (positives N(d, 1), negatives N(0, 1)): AUROC = Phi(d / sqrt 2)
    rng = np.random.default_rng(22)
    draws = 1500
    shift = norm.ppf(true_auroc) * np.sqrt(2)
    y = np.r_[np.ones(N_POSITIVE, int), np.zeros(N_NEGATIVE, int)]
    scores = np.c_[rng.normal(shift, 1, (draws, N_POSITIVE)), rng.normal(0, 1, (draws, N_NEGATIVE))]
    intervals = np.array([auroc_ci(y, expit(s)) for s in scores])
    assert (intervals[:, 0] < intervals[:, 1]).all()  # never a point, at an observed 1.0 either
    coverage = np.mean((intervals[:, 0] <= true_auroc) & (true_auroc <= intervals[:, 1]))
    assert 0.93 <= coverage <= 0.97, coverage


def test_the_auroc_interval_at_one_is_not_degenerate_binary_or_multiclass():
    y = np.r_[np.zeros(57, int), np.ones(29, int)]
    lo, hi = auroc_ci(y, np.r_[np.full(57, 0.2), np.full(29, 0.9)])
    assert hi == 1.0 and 0.9 < lo < 0.97
    y3 = np.repeat([0, 1, 2], 30)
    lo3, hi3 = auroc_ci(y3, np.eye(3)[y3] * 0.8 + 0.2 / 3)  # every class perfectly ranked
    assert hi3 == 1.0 and 0.85 < lo3 < 0.99
    # two models both at 1.0: DeLong's paired variance is 0, MOVER gives an interval around 0
    delta, lo_d, hi_d = paired_difference(
        "val_auroc",
        y,
        np.r_[np.full(57, 0.2), np.full(29, 0.9)],
        np.r_[np.full(57, 0.4), np.full(29, 0.6)],
        n_boot=0,
        seed=0,
    )
    assert delta == 0.0 and lo_d < 0 < hi_d and hi_d - lo_d < 0.2


def _one_misordered_pair():
    y = np.r_[np.zeros(57, int), np.ones(29, int)]
    p = np.r_[np.linspace(0.05, 0.45, 57), np.linspace(0.55, 0.95, 29)]
    p[56], p[57] = 0.56, 0.44  # one negative above one positive: near separation
    return y, p


def test_the_calibration_slope_interval_is_the_likelihood_ratio_interval_near_separation():
    y, p = _one_misordered_pair()
    lp = logit(p)

    def loglik(a, b):
        eta = a + b * lp
        return float(np.sum(y * eta - np.logaddexp(0, eta)))

    def profile(b):  # the intercept maximised out, independently of the code under test
        return -minimize_scalar(
            lambda a: -loglik(a, b), bounds=(-60, 60), method="bounded", options={"xatol": 1e-10}
        ).fun

    top = -minimize(
        lambda ab: -loglik(*ab),
        x0=[0.0, 1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
    ).fun
    out = calibration(y, p)
    slope, (lo, hi) = out["calibration_slope"], out["calibration_slope_ci95"]
    assert profile(slope) == pytest.approx(top, abs=1e-6)
    for bound in (lo, hi):
        assert 2 * (top - profile(bound)) == pytest.approx(chi2.ppf(0.95, 1), abs=1e-3)
    # the likelihood is flat towards separation: the interval reaches further above the estimate than below
    assert lo < slope < hi and hi - slope > 1.5 * (slope - lo)
    lo_a, hi_a = out["calibration_intercept_ci95"]
    assert lo_a < out["calibration_intercept"] < hi_a


def test_the_calibration_slope_interval_covers_near_separation():
    # 30 rows of a sharp, calibrated model (true slope 1); separated draws have no slope and are skipped
    rng = np.random.default_rng(5)
    hits = []
    while len(hits) < 250:
        lp = rng.normal(-1.2, 6, 30)
        y = (rng.random(30) < expit(lp)).astype(int)
        out = calibration(y, expit(lp))
        if out["calibration_slope"] is not None:
            lo, hi = out["calibration_slope_ci95"]
            hits.append(lo <= 1 <= hi)
    assert 0.93 <= np.mean(hits) <= 0.985, np.mean(hits)
