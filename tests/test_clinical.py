"""Clinical metrics, thresholds, intervals and ties: fast, no Ray, no TensorFlow."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from search.config import load_config
from search.leaderboard import COLUMNS, build_leaderboard, mark_ties, render
from trainable.errors import HpsearchError
from trainable.metrics import auroc_ci, auroc_rows, choose_threshold, clinical_metrics


def _scores(n=120, seed=0, shift=1.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    z = np.round(rng.normal(size=n) + shift * y, 1)  # rounded: ties, as with saturated sigmoids
    return y, 1 / (1 + np.exp(-z))


def test_vectorised_bootstrap_auroc_equals_scikit_learn_with_ties():
    y, p = _scores()
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(y), size=(20, len(y)))
    idx = np.sort(idx, axis=1)
    for row in idx:
        if len(np.unique(y[row])) < 2:
            continue
        order = np.argsort(y[row], kind="stable")  # auroc_rows takes fixed labels per column
        ours = auroc_rows(p[row][order][None, :], y[row][order] == 1)[0]
        assert ours == pytest.approx(roc_auc_score(y[row], p[row]), abs=1e-12)


def test_auroc_ci_is_seeded_contains_the_estimate_and_narrows_with_more_rows():
    y, p = _scores(n=100)
    lo, hi = auroc_ci(y, p, n_boot=1000, seed=3)
    assert (lo, hi) == auroc_ci(y, p, n_boot=1000, seed=3)
    assert lo < roc_auc_score(y, p) < hi and 0.5 < lo and hi <= 1.0
    y_big, p_big = _scores(n=2000)
    lo_big, hi_big = auroc_ci(y_big, p_big, n_boot=1000, seed=3)
    assert hi_big - lo_big < (hi - lo) / 2
    # perfect separation: every resample is perfect too
    assert auroc_ci(np.r_[np.zeros(10), np.ones(10)], np.r_[np.full(10, 0.2), np.full(10, 0.9)], n_boot=200, seed=0) == (1.0, 1.0)


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
    assert m["calibration_slope"] is None  # perfect separation: no finite slope
    assert m["auroc_ci95"] == [1.0, 1.0]


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
        {"trial_id": f"t{i}", "status": "completed", "val_auroc": v, "val_accuracy": 0.9, "val_loss": 0.1 + i,
         "epochs": 2, "units": "8"}
        for i, v in enumerate([0.99, 0.97, 0.90])
    ]
    rows.append({"trial_id": "bad", "status": "error", "epochs": 0, "error": "boom"})
    return build_leaderboard(rows, "val_auroc")


def test_ties_are_overlapping_intervals_with_the_best_trial():
    board = mark_ties(_board(), {"t0": (0.97, 1.0), "t1": (0.94, 0.985), "t2": (0.85, 0.95)})
    assert list(board.columns) == COLUMNS
    assert board.set_index("trial_id")["tied_with_best"].to_dict() == {"t0": True, "t1": True, "t2": False, "bad": None}
    records = json.loads(render(board, "json"))
    assert records[0]["val_auroc_ci95_lo"] == 0.97 and records[2]["tied_with_best"] is False
    assert records[3]["tied_with_best"] is None and records[3]["val_auroc_ci95_lo"] is None
    table = render(board, "table", columns=["rank", "trial_id", "val_auroc_ci95_lo", "val_auroc_ci95_hi", "tied_with_best"])
    assert "0.970-1.000" in table and "tied" in table


def test_leaderboard_survives_a_csv_round_trip_with_numeric_looking_ids(tmp_path):
    from search.leaderboard import read_leaderboard, write_leaderboard

    board = mark_ties(_board().assign(trial_id=["00012345", "1e100000", "abc", "bad"]), {"00012345": (0.9, 1.0)})
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
