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
    data = SimpleNamespace(y_test=y, subgroups={"site": np.array(["a"] * 20 + ["b"] * 3, dtype=object)})
    rows = {r["group"]: r for r in _subgroups(data, p)}
    assert rows["a"]["n"] == 20 and rows["a"]["events"] == 10 and rows["a"]["auroc"] is not None
    assert rows["a"]["auroc_ci95"][0] < rows["a"]["auroc_ci95"][1]
    assert rows["b"]["n"] == 3 and rows["b"]["auroc"] is None and rows["b"]["auroc_ci95"] is None
    assert rows["b"]["observed_rate"] == 1.0


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
