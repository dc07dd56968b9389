"""Clinical metrics, thresholds, intervals and ties: fast, no Ray, no TensorFlow."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from search.config import load_config
from search.leaderboard import COLUMNS, build_leaderboard, mark_ties, render
from trainable.errors import HpsearchError
from trainable.metrics import choose_threshold, clinical_metrics
from trainable.stats import auroc_ci, auroc_influence, calibration, paired_difference


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
    from trainable.stats import _variance

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
    assert lo < roc_auc_score(y, p) < hi and 0.5 < lo and hi <= 1.0
    y_big, p_big = _scores(n=2000)
    lo_big, hi_big = auroc_ci(y_big, p_big)
    assert hi_big - lo_big < (hi - lo) / 2
    # perfect separation on 86 rows: AUROC 1.0, but 86 rows cannot give certainty
    lo1, hi1 = auroc_ci(np.r_[np.zeros(57), np.ones(29)], np.r_[np.full(57, 0.2), np.full(29, 0.9)])
    assert hi1 == 1.0 and 0.9 < lo1 < 0.97
    assert auroc_ci(np.r_[np.zeros(57), np.ones(29)], np.r_[np.full(57, 0.9), np.full(29, 0.2)])[0] == 0.0


def test_auroc_interval_keeps_its_coverage_near_one():
    # 86 rows, a third positive, true AUROC 0.99 (binormal scores); 400 draws.
    from scipy.stats import norm
    from scipy.special import expit

    rng = np.random.default_rng(2026)
    shift = norm.ppf(0.99) * np.sqrt(2)
    y = np.r_[np.ones(29, int), np.zeros(57, int)]
    hits = []
    for _ in range(400):
        p = expit(np.r_[rng.normal(shift, 1, 29), rng.normal(0, 1, 57)])
        lo, hi = auroc_ci(y, p)
        assert lo < hi
        hits.append(lo <= 0.99 <= hi)
    assert np.mean(hits) >= 0.93, np.mean(hits)


def test_youden_threshold_maximises_sensitivity_plus_specificity():
    y, p = _scores(n=200, seed=4)
    t = choose_threshold(y, p, method="youden")
    sens = lambda thr: np.mean(p[y == 1] >= thr)  # noqa: E731
    spec = lambda thr: np.mean(p[y == 0] < thr)  # noqa: E731
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
    assert {"auroc_ci95", "auprc_ci95", "brier_ci95", "sensitivity_ci95", "specificity_ci95",
            "calibration_intercept_ci95"} <= set(intervals)
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


def _board():
    rows = [
        {"trial_id": f"t{i}", "status": "completed", "val_auroc": 0.9, "val_accuracy": 0.9, "val_loss": v,
         "epochs": 2, "units": "8"}
        for i, v in enumerate([0.10, 0.12, 0.30])
    ]
    rows.append({"trial_id": "bad", "status": "error", "epochs": 0, "error": "boom"})
    return build_leaderboard(rows, "val_loss")


def test_ties_are_paired_differences_whose_interval_holds_zero():
    intervals = {"t0": (0.85, 0.95), "t1": (0.84, 0.94), "t2": (0.80, 0.92)}
    deltas = {"t1": (-0.01, 0.05), "t2": (0.1, 0.3)}
    board = mark_ties(_board(), intervals, deltas, "t0")
    assert list(board.columns) == COLUMNS
    assert board.set_index("trial_id")["tied_with_best"].to_dict() == {"t0": True, "t1": True, "t2": False, "bad": None}
    records = json.loads(render(board, "json"))
    assert records[0]["val_auroc_ci95_lo"] == 0.85 and records[2]["tied_with_best"] is False
    assert records[2]["delta_ci95_lo"] == 0.1 and records[0]["delta_ci95_lo"] is None
    assert records[3]["tied_with_best"] is None and records[3]["val_auroc_ci95_lo"] is None
    table = render(board, "table", columns=["rank", "trial_id", "delta_ci95_lo", "delta_ci95_hi", "tied_with_best"])
    assert "[0.1, 0.3]" in table and "tied" in table


def test_leaderboard_survives_a_csv_round_trip_with_numeric_looking_ids(tmp_path):
    from search.leaderboard import read_leaderboard, write_leaderboard

    board = mark_ties(_board().assign(trial_id=["00012345", "1e100000", "abc", "bad"]), {"00012345": (0.9, 1.0)},
                      {}, "00012345")
    write_leaderboard(board, tmp_path / "leaderboard.csv")
    back = read_leaderboard(tmp_path)
    assert list(back["trial_id"]) == ["00012345", "1e100000", "abc", "bad"]
    assert back.loc[0, "tied_with_best"] == True  # noqa: E712  (read back from text)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"export.threshold": "target_sensitivity"}, "needs export.target_sensitivity"),
        ({"export.target_sensitivity": 0.9}, "set export.threshold: target_sensitivity"),
        ({"export.threshold": "target_sensitivity", "export.target_sensitivity": 1.5}, "`export.target_sensitivity`"),
        ({"export.threshold": "f1"}, "`export.threshold`"),
        ({"pick.repeats": 0}, "`pick.repeats`"),
    ],
)
def test_export_and_pick_settings_are_validated(overrides, expected):
    with pytest.raises(HpsearchError) as info:
        load_config(None, overrides)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_default_export_settings():
    cfg = load_config()
    assert cfg.export.threshold == "youden" and cfg.export.target_sensitivity is None
    assert cfg.export.n_boot >= 1000 and cfg.pick.top_k == 5 and cfg.pick.repeats == 3
    assert math.isfinite(cfg.export.seed)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["report", "{tmp}/nope"], "results directory not found"),
        (["pick", "{tmp}/nope"], "results directory not found"),
        (["export", "{tmp}/nope", "--out", "{tmp}/out"], "results directory not found"),
        (["predict", "{tmp}/nope", "{tmp}/rows.csv"], "model directory not found"),
        (["predict", "{tmp}", "{tmp}/rows.csv", "--out", "{tmp}/p.txt"], "unsupported output type `.txt`"),
    ],
)
def test_review_commands_refuse_bad_paths_in_one_line(tmp_path, args, expected):
    import subprocess

    from conftest import HPSEARCH, ROOT

    argv = [a.format(tmp=tmp_path) for a in args]
    result = subprocess.run([*HPSEARCH, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("hpsearch: error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
