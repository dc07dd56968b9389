"""Clinical metrics, thresholds, intervals and paired differences: fast, no Ray, no TensorFlow."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trainable.stats.calibration import calibration
from trainable.stats.intervals import auroc_ci, auroc_influence, paired_difference
from trainable.stats.metrics import choose_threshold, clinical_metrics


def _scores(n=120, seed=0, shift=1.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    z = np.round(rng.normal(size=n) + shift * y, 1)  # rounded: ties, as with saturated sigmoids
    return y, 1 / (1 + np.exp(-z))


def _brute_delong(y, p):
    """DeLong's variance from its definition, O(n1 n0): the reference for the fast version."""
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(), psi.mean(axis=1).var(ddof=1) / len(pos) + psi.mean(axis=0).var(ddof=1) / len(neg)


def test_delong_auroc_and_variance_match_their_definitions_with_ties():
    from trainable.stats.intervals import _variance

    y, p = _scores()  # rounded: many ties
    auc, influence = auroc_influence(y, p)
    ref_auc, ref_var = _brute_delong(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12) and auc == pytest.approx(ref_auc, abs=1e-12)
    assert _variance(y, influence) == pytest.approx(ref_var, rel=1e-9)
    rng = np.random.default_rng(8)
    yy = rng.integers(0, 3, 90)
    P = rng.dirichlet([1, 1, 1], 90)
    assert auroc_influence(yy, P)[0] == pytest.approx(roc_auc_score(yy, P, multi_class="ovr"), abs=1e-12)


def test_auroc_interval_contains_the_estimate_narrows_with_rows_and_never_collapses():
    y, p = _scores(n=100)
    lo, hi = auroc_ci(y, p)
    assert lo < roc_auc_score(y, p) < hi and lo > 0.5 and hi <= 1.0
    y_big, p_big = _scores(n=2000)
    lo_big, hi_big = auroc_ci(y_big, p_big)
    assert hi_big - lo_big < (hi - lo) / 2
    # perfect separation on 86 rows: AUROC 1.0, but 86 rows cannot give certainty
    lo1, hi1 = auroc_ci(np.r_[np.zeros(57), np.ones(29)], np.r_[np.full(57, 0.2), np.full(29, 0.9)])
    assert hi1 == 1.0 and 0.9 < lo1 < 0.97
    assert auroc_ci(np.r_[np.zeros(57), np.ones(29)], np.r_[np.full(57, 0.9), np.full(29, 0.2)])[0] == 0.0


def test_youden_threshold_maximises_sensitivity_plus_specificity():
    y, p = _scores(n=200, seed=4)
    t = choose_threshold(y, p, method="youden")
    sens = lambda thr: np.mean(p[y == 1] >= thr)
    spec = lambda thr: np.mean(p[y == 0] < thr)
    best = max(sens(c) + spec(c) for c in np.unique(p))
    assert sens(t) + spec(t) == pytest.approx(best)
    assert t not in set(p)  # a midpoint between two observed scores


def test_target_sensitivity_threshold_is_the_highest_that_reaches_the_target():
    y, p = _scores(n=200, seed=5)
    t = choose_threshold(y, p, method="target_sensitivity", target_sensitivity=0.95)
    pos = p[y == 1]
    assert np.mean(pos >= t) >= 0.95
    lowest_called = p[p >= t].min()  # every threshold in (next lower score, lowest_called] calls the same rows
    assert all(np.mean(pos >= c) < 0.95 for c in np.unique(p) if c > lowest_called)


def test_clinical_metrics_match_the_confusion_matrix_and_scikit_learn():
    y, p = _scores(n=300, seed=6)
    t = 0.6
    m = clinical_metrics(y, p, threshold=t, n_boot=300, seed=0)
    call = p >= t
    tp, fp = int(np.sum(call & (y == 1))), int(np.sum(call & (y == 0)))
    tn, fn = int(np.sum(~call & (y == 0))), int(np.sum(~call & (y == 1)))
    assert m["confusion"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert m["sensitivity"] == pytest.approx(tp / (tp + fn)) and m["specificity"] == pytest.approx(tn / (tn + fp))
    assert m["ppv"] == pytest.approx(tp / (tp + fp)) and m["npv"] == pytest.approx(tn / (tn + fn))
    lo, hi = m["sensitivity_ci95"]
    assert lo < m["sensitivity"] < hi
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    json.dumps(m)  # the card's test block must serialise


def test_calibration_slope_and_intercept_detect_overconfidence_and_shift():
    rng = np.random.default_rng(7)
    lp = rng.normal(0, 2, 6000)
    y = (rng.random(6000) < 1 / (1 + np.exp(-lp))).astype(int)
    calibrated = clinical_metrics(y, 1 / (1 + np.exp(-lp)), threshold=0.5, n_boot=100, seed=0)
    overconfident = clinical_metrics(y, 1 / (1 + np.exp(-2 * lp)), threshold=0.5, n_boot=100, seed=0)
    too_high = clinical_metrics(y, 1 / (1 + np.exp(-(lp + 1))), threshold=0.5, n_boot=100, seed=0)
    assert calibrated["calibration_slope"] == pytest.approx(1.0, abs=0.1)
    assert calibrated["calibration_intercept"] == pytest.approx(0.0, abs=0.1)
    assert overconfident["calibration_slope"] == pytest.approx(0.5, abs=0.06)
    assert too_high["calibration_intercept"] == pytest.approx(-1.0, abs=0.15)


def test_undefined_metrics_are_none_not_invented():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    m = clinical_metrics(y, p, threshold=0.95, n_boot=100, seed=0)  # nobody called positive
    assert m["ppv"] is None and m["sensitivity"] == 0.0
    assert m["calibration_slope"] is None and m["calibration_slope_ci95"] is None  # perfect separation
    assert m["auroc"] == 1.0 and m["auroc_ci95"][0] < 1.0  # not the degenerate [1, 1]


def test_the_slope_is_null_under_quasi_complete_separation():
    # the classes meet only at tied scores (0.5): the slope's estimate is infinite, not a big finite number
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.5, 0.5, 0.7, 0.8, 0.9])
    assert calibration(y, p)["calibration_slope"] is None
    overlapping = np.array([0.1, 0.2, 0.6, 0.5, 0.4, 0.7, 0.8, 0.9])
    assert calibration(y, overlapping)["calibration_slope"] is not None


@pytest.mark.parametrize("seed, shift", [(0, 1.5), (1, 0.3), (2, 6.0), (3, 40.0)])
def test_every_interval_has_lo_below_hi_when_both_classes_are_present(seed, shift):
    y, p = _scores(n=86, seed=seed, shift=shift)  # shift 40: perfect separation
    m = clinical_metrics(y, p, threshold=0.5, n_boot=500, seed=0)
    intervals = {k: v for k, v in m.items() if k.endswith("_ci95") and v is not None}
    assert {
        "auroc_ci95",
        "auprc_ci95",
        "brier_ci95",
        "sensitivity_ci95",
        "specificity_ci95",
        "calibration_intercept_ci95",
    } <= set(intervals)
    for key, (lo, hi) in intervals.items():
        assert lo < hi, (key, lo, hi)
        if key[:-5] in m and m[key[:-5]] is not None:
            assert lo <= m[key[:-5]] <= hi, key


def test_a_paired_difference_finds_a_real_difference_that_overlapping_intervals_miss():
    # Two models on the same 86 rows: b is a with a little noise added to every score.
    rng = np.random.default_rng(5)
    y = (rng.random(86) < 1 / 3).astype(int)
    z = rng.normal(size=86) + 2.0 * y
    a = 1 / (1 + np.exp(-z))
    b = 1 / (1 + np.exp(-(z + rng.normal(0, 1.2, 86))))
    for metric in ("val_loss", "val_auroc"):
        delta, lo, hi = paired_difference(metric, y, b, a, n_boot=2000, seed=0)
        worse = delta > 0 if metric == "val_loss" else delta < 0
        assert worse and not lo <= 0 <= hi, (metric, delta, lo, hi)  # a paired non-tie
    lo_a, hi_a = auroc_ci(y, a)
    lo_b, hi_b = auroc_ci(y, b)
    assert lo_a <= hi_b and lo_b <= hi_a  # the two intervals overlap: the old rule would call this a tie
    # a paired tie: the same model, its scores a hair apart
    delta, lo, hi = paired_difference("val_loss", y, a, np.clip(a + rng.normal(0, 1e-4, 86), 0, 1), n_boot=2000, seed=0)
    assert lo < 0 < hi


def test_multiclass_metrics_are_macro_one_vs_rest_per_class():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 90)
    P = rng.dirichlet([1, 1, 1], 90)
    P[np.arange(90), y] += 0.6
    P /= P.sum(axis=1, keepdims=True)
    m = clinical_metrics(y, P, threshold=None, n_boot=200, seed=0)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr"))
    lo, hi = m["auroc_ci95"]
    assert lo < m["auroc"] < hi
    assert len(m["per_class"]) == 3 and m["threshold"] is None
    assert m["per_class"][0]["confusion"]["tp"] == int(np.sum((P.argmax(1) == 0) & (y == 0)))


def test_net_benefit_is_true_positives_minus_weighted_false_positives():
    from trainable.stats.metrics import net_benefit

    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.7, 0.2, 0.1, 0.3, 0.4, 0.05])
    model, treat_all = net_benefit(y, p, np.array([0.25, 0.5]))
    # t = 0.25: called 0.9, 0.6, 0.7, 0.3, 0.4 -> TP 3, FP 2; t = 0.5: 0.9, 0.6, 0.7 -> TP 2, FP 1
    assert model == pytest.approx([3 / 8 - 2 / 8 * (0.25 / 0.75), 2 / 8 - 1 / 8 * 1.0])
    assert treat_all == pytest.approx([3 / 8 - 5 / 8 * (0.25 / 0.75), 3 / 8 - 5 / 8 * 1.0])


def test_multiclass_calibration_is_per_class_one_vs_rest():
    from trainable.stats.metrics import clinical_metrics

    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 300)
    P = rng.dirichlet([1, 1, 1], 300)
    P[np.arange(300), y] += 0.5
    P /= P.sum(axis=1, keepdims=True)
    m = clinical_metrics(y, P, threshold=None, n_boot=200, seed=0)
    for entry in m["per_class"]:
        assert entry["calibration_slope"] is not None and entry["calibration_intercept_ci95"][0] < 0.5
