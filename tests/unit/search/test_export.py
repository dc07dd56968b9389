"""The one test scoring: the ledger that keeps it one, and what the scoring reports. Fast: no Ray, no TF."""

from __future__ import annotations

import json

import numpy as np
import pytest

from search.export.ledger import Ledger, model_key
from search.records.model_card import CardTest, dump
from search.records.sweep_record import SweepRecord, write_record
from trainable.errors import HpsearchError


def _sweep_folder(tmp_path):
    write_record(
        tmp_path,
        SweepRecord(
            experiment="x",
            out_dir=str(tmp_path),
            data_sha256=None,
            folds_sha256=None,
            storage=None,
            started="2026-12-04T10:00:00",
            finished=None,
        ),
    )
    return tmp_path


def _test(auroc: float) -> CardTest:
    return CardTest(n=10, auroc=auroc, accuracy=0.8, loss=0.4)


def test_the_ledger_refuses_a_second_model_unless_told_and_reuses_the_first(tmp_path):
    ledger = Ledger(_sweep_folder(tmp_path))
    first, second = model_key("a1", 0, 7, "youden"), model_key("b2", 0, 3, "youden")
    ledger.allow(first, reuse_test=False)  # nothing scored yet: allowed
    ledger.record(first.model_copy(update={"weights": "w1"}), "run", _test(0.9), {})
    ledger.allow(first, reuse_test=False)  # the same model again: allowed (its metrics are reused)
    assert ledger.previous(first).test.auroc == 0.9 and ledger.count() == 1
    with pytest.raises(HpsearchError) as refused:
        ledger.allow(second, reuse_test=False)
    message = str(refused.value)
    assert "--reuse-test" in message and "trial a1" in message and "\n" not in message
    with pytest.raises(HpsearchError, match="--reuse-test"):
        ledger.allow_new(reuse_test=False)  # what `hpsearch pick` asks before it retrains
    ledger.allow(second, reuse_test=True)
    ledger.record(second, "export", _test(0.8), {})
    entries = json.loads((tmp_path / "sweep.json").read_text())["test_scorings"]
    assert [e["command"] for e in entries] == ["run", "export"] and all(e["when"] for e in entries)
    assert entries[0]["model"] == {
        "trial_id": "a1",
        "training_seed": 0,
        "epoch": 7,
        "threshold": "youden",
        "weights": "w1",
    }
    assert entries[1]["test"] == {"n": 10, "auroc": 0.8, "accuracy": 0.8, "loss": 0.4}
    assert ledger.count() == 2


def test_the_same_trial_retrained_is_another_model(tmp_path):
    ledger = Ledger(_sweep_folder(tmp_path))
    ledger.record(model_key("t1", 0, 3, "youden").model_copy(update={"weights": "abc"}), "run", _test(0.9), {})
    assert ledger.previous(model_key("t1", 0, 3, "youden").model_copy(update={"weights": "abc"})) is not None
    assert ledger.previous(model_key("t1", 0, 3, "youden").model_copy(update={"weights": "def"})) is None
    assert ledger.previous(model_key("t1", 0, 3, "youden")) is not None  # before its weights are known


def test_a_subgroup_too_small_or_of_one_class_gets_null_metrics():
    from types import SimpleNamespace

    from search.export.test_scoring import _subgroups

    y = np.array([0, 1] * 10 + [1, 1, 1])
    p = np.clip(y * 0.6 + np.linspace(0.1, 0.3, len(y)), 0, 1)
    data = SimpleNamespace(
        y_test=y, subgroups={"site": np.array(["a"] * 20 + ["b"] * 3, dtype=object)}, test_groups=None
    )
    rows = {r["group"]: r for r in _subgroups(data, p)}
    assert rows["a"]["n"] == 20 and rows["a"]["events"] == 10 and rows["a"]["auroc"] is not None
    assert rows["a"]["auroc_ci95"][0] < rows["a"]["auroc_ci95"][1]
    assert rows["b"]["n"] == 3 and rows["b"]["auroc"] is None and rows["b"]["auroc_ci95"] is None
    assert rows["b"]["observed_rate"] == 1.0


@pytest.mark.parametrize(
    "interval, expected",
    [
        ([0.01, 0.2], "better"),
        ([-0.05, 0.1], "not_shown_better"),
        ([0.0, 0.1], "not_shown_better"),
        ([-0.3, -0.02], "worse"),
    ],
)
def test_the_verdict_against_the_baseline_comes_from_the_paired_interval(interval, expected):
    from search.records.model_card import VsBaseline, verdict_of
    from search.review.baseline_text import verdict

    assert verdict_of(interval) == expected
    versus = VsBaseline(baseline="logistic_regression", delta_auroc=sum(interval) / 2, delta_auroc_ci95=interval)
    assert versus.outcome == expected  # a card written before the key: its interval decides
    words = verdict(versus)
    assert words.endswith(f"(verdict: {expected})")
    assert ("not shown to be better" in words) == (expected == "not_shown_better")
    assert ("is worse than" in words) == (expected == "worse")


@pytest.mark.parametrize("model_signal, expected", [(3.0, "better"), (1.0, "not_shown_better"), (0.0, "worse")])
def test_the_test_scoring_records_the_verdict_of_the_paired_difference(model_signal, expected):
    from types import SimpleNamespace

    from search.export.test_scoring import _vs_baseline
    from trainable.stats.baselines import Baseline

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 150)
    baseline = 1 / (1 + np.exp(-(1.0 * y + rng.normal(size=len(y))))).reshape(-1, 1)  # AUROC about 0.76
    model = 1 / (1 + np.exp(-(model_signal * y + rng.normal(size=len(y)))))
    fitted = {"logistic_regression": Baseline("logistic_regression", baseline, baseline, 10, 10, {}, {}, [])}
    block = {"logistic_regression": {"validation": {"auroc": 0.8}}}
    data = SimpleNamespace(y_test=y, test_groups=None)
    versus = _vs_baseline(data, model.reshape(-1, 1), fitted, block, n_boot=200, seed=0)
    assert versus is not None and versus["verdict"] == expected
    lo, hi = versus["delta_auroc_ci95"]
    assert {"better": lo > 0, "worse": hi < 0, "not_shown_better": lo <= 0 <= hi}[expected]


def test_the_test_scoring_takes_patients_as_the_units_of_every_interval():
    # every patient seen four times, identically: with data.group each interval is about twice as wide as with
    # the rows taken as independent (the metrics, the baselines, vs_baseline, the subgroups alike)
    from types import SimpleNamespace

    from scipy.special import expit

    from search.config.load import load_config
    from search.export.test_scoring import evaluate
    from trainable.stats.baselines import Baseline

    rng = np.random.default_rng(0)
    n, copies = 60, 4

    def split():
        y = (rng.random(n) < 0.4).astype(int)
        return np.repeat(y, copies), np.repeat(expit(rng.normal(0, 1, n) + 1.2 * y), copies)

    (y_val, p_val), (y_test, p_test) = split(), split()
    other = Baseline(
        "logistic_regression", np.clip(p_val + 0.05, 0, 1), np.repeat(rng.random(n), copies), 10, 10, {}, {}, []
    )
    patients = np.repeat(np.arange(n), copies)
    site = np.repeat(np.array(["a", "b"] * (n // 2), dtype=object), copies)
    settings = load_config().export.model_copy(update={"n_boot": 300})

    def scored(groups):
        data = SimpleNamespace(
            y_val=y_val,
            y_test=y_test,
            class_names=["no", "yes"],
            subgroups={"site": site},
            val_groups=groups,
            test_groups=groups,
        )
        test, block = evaluate(data, p_test, 0.5, settings, {"logistic_regression": other}, None)
        return [
            *(v for k, v in test.model_dump().items() if k.endswith("_ci95") and v is not None),
            test.vs_baseline.delta_auroc_ci95,
            *(entry.auroc_ci95 for entry in test.subgroups),
            *(block["logistic_regression"].model_dump()[s]["auroc_ci95"] for s in ("validation", "test")),
        ]

    pairs = list(zip(scored(None), scored(patients), strict=True))
    assert len(pairs) >= 12  # seven test metrics, vs_baseline, two subgroups, the baseline on two splits
    for rows, grouped in pairs:
        assert grouped[1] - grouped[0] > 1.5 * (rows[1] - rows[0]), (rows, grouped)


def test_the_one_scoring_records_each_baselines_chosen_setting_and_the_grid_searched():
    from threadpoolctl import threadpool_limits

    from search.config.load import load_config
    from search.export.test_scoring import evaluate
    from trainable.stats.baselines import fit_baselines

    grids = {
        "logistic_regression": {"C": [0.001, 1.0]},
        "gradient_boosting": {"learning_rate": [0.1, 0.3], "max_leaf_nodes": [3]},
    }
    cfg = load_config(None, {"export.baseline_grid": grids, "export.n_boot": 200})
    data = cfg.load_data()
    settings = cfg.export
    with threadpool_limits(1):
        fitted = fit_baselines(data, settings.baselines, None, 0, None, settings.baseline_grid.model_dump())
        _, block = evaluate(data, fitted["logistic_regression"].test, 0.5, settings, fitted, None)
    for name, baseline in fitted.items():
        recorded = dump(block[name])
        assert recorded["chosen"] == baseline.chosen and recorded["grid"] == grids[name]
        assert recorded["validation"]["loss"] == pytest.approx(min(baseline.losses))  # the chosen one's
    assert fitted["logistic_regression"].chosen == {"C": 1.0}  # C = 0.001 all but ignores the features
