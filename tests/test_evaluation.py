"""The one test scoring and what it reports: the ledger, decision curves, subgroups, group splits. Fast: no Ray, no TF."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainable.errors import HpsearchError


def test_net_benefit_is_true_positives_minus_weighted_false_positives():
    from trainable.metrics import net_benefit

    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.7, 0.2, 0.1, 0.3, 0.4, 0.05])
    model, treat_all = net_benefit(y, p, np.array([0.25, 0.5]))
    # t = 0.25: called 0.9, 0.6, 0.7, 0.3, 0.4 -> TP 3, FP 2; t = 0.5: 0.9, 0.6, 0.7 -> TP 2, FP 1
    assert model == pytest.approx([3 / 8 - 2 / 8 * (0.25 / 0.75), 2 / 8 - 1 / 8 * 1.0])
    assert treat_all == pytest.approx([3 / 8 - 5 / 8 * (0.25 / 0.75), 3 / 8 - 5 / 8 * 1.0])


def _sweep_folder(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"experiment": "x", "out_dir": str(tmp_path), "finished": None}))
    return tmp_path


def test_the_ledger_refuses_a_second_model_unless_told_and_reuses_the_first(tmp_path):
    from search.ledger import Ledger, model_key

    ledger = Ledger(_sweep_folder(tmp_path))
    first, second = model_key("a1", 0, 7, "youden"), model_key("b2", 0, 3, "youden")
    ledger.allow(first, reuse_test=False)  # nothing scored yet: allowed
    ledger.record(first, "run", {"auroc": 0.9}, {})
    ledger.allow(first, reuse_test=False)  # the same model again: allowed (its metrics are reused)
    assert ledger.previous(first)["test"] == {"auroc": 0.9} and ledger.count() == 1
    with pytest.raises(HpsearchError) as refused:
        ledger.allow(second, reuse_test=False)
    message = str(refused.value)
    assert "--reuse-test" in message and "trial a1" in message and "\n" not in message
    with pytest.raises(HpsearchError, match="--reuse-test"):
        ledger.allow_new(reuse_test=False)  # what `hpsearch pick` asks before it retrains
    ledger.allow(second, reuse_test=True)
    ledger.record(second, "export", {"auroc": 0.8}, {})
    entries = json.loads((tmp_path / "sweep.json").read_text())["test_scorings"]
    assert [e["command"] for e in entries] == ["run", "export"] and all(e["when"] for e in entries)
    assert ledger.count() == 2


def _patients(n_patients=60, visits=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        label, age = int(rng.integers(0, 2)), float(rng.normal(60, 10))
        for _ in range(visits):
            rows.append({"patient": f"p{p}", "age": age + rng.normal(0, 1), "sex": rng.choice(["F", "M"]),
                         "outcome": label})
    return pd.DataFrame(rows)


def test_a_group_column_keeps_each_patient_in_one_split_and_one_fold(tmp_path):
    from trainable.data import load_dataset

    path = tmp_path / "visits.csv"
    frame = _patients()
    frame.to_csv(path, index=False)
    patient_of = dict(zip(frame["age"].astype(np.float32), frame["patient"]))  # every row's age is its own
    for folds in (0, 5):
        d = load_dataset(str(path), "outcome", group="patient", folds=folds, features=["age"],
                         val_fraction=0.2, test_fraction=0.2)
        assert d.feature_names == ["age"]  # the group column is never a feature
        split = {name: {patient_of[a] for a in X[:, 0]} for name, X in
                 (("train", d.X_train), ("val", d.X_val), ("test", d.X_test))}
        assert split["test"] and not split["test"] & (split["train"] | split["val"])
        if folds:
            fold_of: dict[str, int] = {}
            for age, fold in zip(d.X_train[:, 0], d.folds):
                assert fold_of.setdefault(patient_of[age], fold) == fold  # a patient's rows share one fold
            assert len(set(fold_of.values())) == 5
        else:
            assert not split["train"] & split["val"]
        summary = d.summary()
        assert summary["group"] == "patient" and sum(summary["groups"].values()) == 60


@pytest.mark.parametrize("change, expected", [
    (lambda f: f, "data.group names unknown column `visit`"),
    (lambda f: f.assign(patient=f["patient"].where(f.index > 0)), "data.group column `patient` has 1 missing value"),
])
def test_a_bad_group_column_is_refused_in_one_line(tmp_path, change, expected):
    from trainable.data import load_dataset

    path = tmp_path / "visits.csv"
    change(_patients()).to_csv(path, index=False)
    group = "visit" if "visit" in expected else "patient"
    with pytest.raises(HpsearchError, match=expected):
        load_dataset(str(path), "outcome", group=group)


def test_a_grouped_split_left_with_one_class_is_refused(tmp_path):
    from trainable.data import load_dataset

    frame = _patients(n_patients=12)
    frame["outcome"] = (frame["patient"] == "p0").astype(int)  # one positive patient: one split lacks positives
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(HpsearchError, match="split has .* groups and 1 of the 2 classes"):
        load_dataset(str(path), "outcome", group="patient")


def test_subgroups_group_text_by_value_and_numbers_at_training_quartiles(tmp_path):
    from trainable.data import load_dataset

    path = tmp_path / "visits.csv"
    _patients(n_patients=100, visits=2).to_csv(path, index=False)
    d = load_dataset(str(path), "outcome", subgroups=["sex", "age"], drop=["patient"])
    assert set(d.subgroups["sex"]) == {"F", "M"} and len(d.subgroups["sex"]) == len(d.y_test)
    assert sorted(set(d.subgroups["age"]))[0].startswith("Q1: <= ") and len(set(d.subgroups["age"])) == 4
    assert d.without_test().X_test is None and d.without_test().y_test is None  # what trials receive
    with pytest.raises(HpsearchError, match="export.subgroups names unknown column `site`"):
        load_dataset(str(path), "outcome", subgroups=["site"], drop=["patient"])


def test_a_subgroup_too_small_or_of_one_class_gets_null_metrics():
    from types import SimpleNamespace

    from search.evaluation import _subgroups

    y = np.array([0, 1] * 10 + [1, 1, 1])
    p = np.clip(y * 0.6 + np.linspace(0.1, 0.3, len(y)), 0, 1)
    data = SimpleNamespace(y_test=y, subgroups={"site": np.array(["a"] * 20 + ["b"] * 3, dtype=object)})
    rows = {r["group"]: r for r in _subgroups(data, p)}
    assert rows["a"]["n"] == 20 and rows["a"]["events"] == 10 and rows["a"]["auroc"] is not None
    assert rows["a"]["auroc_ci95"][0] < rows["a"]["auroc_ci95"][1]
    assert rows["b"]["n"] == 3 and rows["b"]["auroc"] is None and rows["b"]["auroc_ci95"] is None
    assert rows["b"]["observed_rate"] == 1.0


def test_multiclass_calibration_is_per_class_one_vs_rest():
    from trainable.metrics import clinical_metrics

    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 300)
    P = rng.dirichlet([1, 1, 1], 300)
    P[np.arange(300), y] += 0.5
    P /= P.sum(axis=1, keepdims=True)
    m = clinical_metrics(y, P, threshold=None, n_boot=200, seed=0)
    for entry in m["per_class"]:
        assert entry["calibration_slope"] is not None and entry["calibration_intercept_ci95"][0] < 0.5


def test_an_export_from_before_the_ledger_counts_as_the_sweeps_one_scoring(tmp_path):
    from search.ledger import Ledger, model_key
    from search.results import sweep_finished

    (tmp_path / "best").mkdir()
    card = {"trial_id": "old1", "training_seed": 0, "created": "2026-11-30T10:00:00", "validation": {"epoch": 4},
            "threshold": {"method": "youden"}, "test": {"auroc": 0.91}}
    (tmp_path / "best" / "model_card.json").write_text(json.dumps(card))
    (tmp_path / "leaderboard.csv").write_text("rank,trial_id\n1,old1\n")  # a first-release sweep: no sweep.json
    assert sweep_finished(tmp_path)
    ledger = Ledger(tmp_path)
    assert ledger.count() == 1 and ledger.previous(model_key("old1", 0, 4, "youden"))["test"] == {"auroc": 0.91}
    with pytest.raises(HpsearchError, match="--reuse-test"):
        ledger.allow(model_key("new2", 0, 3, "youden"), reuse_test=False)
    ledger.record(model_key("new2", 0, 3, "youden", weights="abc"), "export", {"auroc": 0.8}, {})
    assert ledger.count() == 2 and sweep_finished(tmp_path)  # still finished: recording never reopens a sweep
    # the same trial retrained (other weights) is another model, not the one scored
    assert ledger.previous(model_key("new2", 0, 3, "youden", weights="abc")) is not None
    assert ledger.previous(model_key("new2", 0, 3, "youden", weights="def")) is None
