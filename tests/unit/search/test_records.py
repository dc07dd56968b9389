"""The results folder's records: `sweep.json` and `model_card.json` keep their keys through the typed records,
and the lock keeps a second command off a live sweep."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from search.config.load import load_config
from search.records.lock import SweepLock, check_free
from search.records.model_card import ModelCard, dump, read_card
from search.records.sweep_record import SweepRecord, read_record, write_record
from trainable.errors import HpsearchError

CARD = {
    "trial_id": "abc",
    "metric": "val_loss",
    "training_seed": 0,
    "created": "2026-12-04T10:00:00+00:00",
    "hyperparameters": {
        "n_layers": 1,
        "units": [8],
        "activation": "relu",
        "dropout": 0.0,
        "l2": 1e-5,
        "learning_rate": 1e-3,
        "batch_size": 32,
        "optimizer": "adam",
    },
    "validation": {
        "val_auroc": 0.9,
        "val_accuracy": 0.8,
        "val_loss": 0.4,
        "epoch": 3,
        "folds": 0,
        "n": 50,
        "auroc_ci95": [0.8, 0.95],
        "sensitivity": 0.8,
        "specificity": 0.7,
        "ppv": 0.6,
        "npv": None,
    },
    "threshold": {
        "value": 0.41,
        "method": "youden",
        "target_sensitivity": None,
        "chosen_on": "validation",
        "out_of_fold": False,
        "positive_class": "yes",
        "rule": "predict `yes` when P(yes) >= value",
    },
    "test": {
        "auroc": 0.88,
        "accuracy": 0.8,
        "loss": 0.45,
        "n": 40,
        "n_positive": 12,
        "prevalence": 0.3,
        "auroc_ci95": [0.7, 0.95],
        "threshold": 0.41,
        "sensitivity": 0.75,
        "calibration_slope": None,
        "vs_baseline": None,
        "decision_curve": None,
        "subgroups": [],
        "scorings": 1,
    },
    "data": {
        "source": "x.csv",
        "sha256": "0" * 64,
        "n_train": 100,
        "n_val": 50,
        "n_test": 40,
        "n_dev": 150,
        "folds": 0,
        "group": None,
        "groups": None,
        "n_features": 1,
        "feature_names": ["a"],
        "class_names": ["no", "yes"],
        "layout": "matrix",
        "schema": [{"name": "a", "input": "a", "kind": "numeric", "mean": 0.5, "var": 2.0}],
    },
    "inputs": {"layout": "matrix", "shape": [None, 1], "dtype": "float32", "features": ["a"]},
    "outputs": "probability of class 1 (`data.class_names[1]`), shape (n, 1)",
    "versions": {"python": "3.11.7"},
    "baselines": {},
    "class_weight": None,
}


def test_a_model_card_keeps_exactly_its_keys_and_values_through_the_typed_record(tmp_path):
    card = ModelCard.model_validate(CARD)
    assert dump(card) == CARD  # no key added, none dropped, none renamed (`schema` included)
    assert card.data.columns[0].mean == 0.5 and card.test.vs_baseline is None and card.test.binary
    card.write(tmp_path)
    assert json.loads((tmp_path / "model_card.json").read_text()) == CARD
    assert read_card(tmp_path) == card


def test_a_card_keeps_the_baselines_tuned_settings_and_says_them_in_words(tmp_path):
    from search.review.card_text import card_markdown

    summary = {"n": 50, "auroc": 0.9, "auroc_ci95": [0.8, 0.95], "brier": 0.1, "brier_ci95": [0.08, 0.12]}
    tuned = {
        "logistic_regression": {
            **{"validation": summary, "test": summary, "fit_rows": 100, "train_rows": 100},
            **{"chosen": {"C": 0.1}, "grid": {"C": [0.01, 0.1, 1.0]}},
        },
        "gradient_boosting": {
            **{"validation": summary, "test": summary, "fit_rows": 100, "train_rows": 100},
            **{
                "chosen": {"learning_rate": 0.3, "max_leaf_nodes": 7},
                "grid": {"learning_rate": [0.03, 0.3], "max_leaf_nodes": [7, 31]},
            },
        },
    }
    card = ModelCard.model_validate({**CARD, "baselines": tuned})
    card.write(tmp_path)
    assert json.loads((tmp_path / "model_card.json").read_text())["baselines"] == tuned  # ints stay ints
    text = card_markdown(read_card(tmp_path))
    assert "logistic regression C = 0.1 (of C 0.01, 0.1, 1)" in text
    assert (
        "gradient boosting learning_rate = 0.3, max_leaf_nodes = 7 (of learning_rate 0.03, 0.3; max_leaf_nodes 7, 31)"
        in text
    )
    untuned = {name: {k: v for k, v in b.items() if k not in ("chosen", "grid")} for name, b in tuned.items()}
    assert "Tuned like the network" not in card_markdown(ModelCard.model_validate({**CARD, "baselines": untuned}))


def test_a_broken_model_card_is_refused_in_one_line(tmp_path):
    with pytest.raises(HpsearchError, match="model_card.json: missing"):
        read_card(tmp_path)
    (tmp_path / "model_card.json").write_text(json.dumps({**CARD, "trail_id": "typo"}))
    with pytest.raises(HpsearchError, match="model_card.json: not a readable model card") as info:
        read_card(tmp_path)
    assert "\n" not in str(info.value)


def test_a_sweep_record_keeps_its_keys_and_adds_only_what_is_set(tmp_path):
    record = SweepRecord(
        experiment="e",
        out_dir=str(tmp_path),
        data_sha256="d",
        folds_sha256=None,
        storage=None,
        started="2026-12-04T10:00:00",
        finished=None,
    )
    write_record(tmp_path, record)
    assert set(json.loads((tmp_path / "sweep.json").read_text())) == {
        "experiment",
        "out_dir",
        "data_sha256",
        "folds_sha256",
        "storage",
        "started",
        "finished",
    }
    write_record(tmp_path, record.model_copy(update={"mlflow_run_id": "r1"}))
    assert json.loads((tmp_path / "sweep.json").read_text())["mlflow_run_id"] == "r1"
    assert read_record(tmp_path).mlflow_run_id == "r1" and read_record(tmp_path / "none") is None
    (tmp_path / "sweep.json").write_text("{")
    with pytest.raises(HpsearchError, match="sweep.json: unreadable sweep record"):
        read_record(tmp_path)


def test_a_live_sweeps_lock_refuses_a_second_command_and_a_stale_one_is_taken_over(tmp_path):
    out = tmp_path / "sweep"
    with SweepLock(out):
        holder = json.loads((out / ".lock").read_text())
        assert holder == {"pid": os.getpid(), "host": socket.gethostname()}
        with pytest.raises(HpsearchError, match=f"is running \\(pid {os.getpid()} on {socket.gethostname()}\\)"):
            check_free(out)
    assert not (out / ".lock").exists()  # released
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with SweepLock(out) as lock:  # the holder is gone: taken over, and said
        assert lock.took_over == {"pid": dead.pid, "host": socket.gethostname()}


def test_a_second_command_on_a_live_sweep_exits_2_and_deletes_nothing(cli, tmp_path):
    live = subprocess.Popen(["sleep", "60"])
    try:
        out = tmp_path / "results" / "breast_cancer"
        out.mkdir(parents=True)
        (out / "leaderboard.csv").write_text("rank,trial_id\n")  # a live sweep, as `run` writes it
        (out / "config.yaml").write_text(load_config(None, {"results_dir": str(out.parent)}).to_yaml())
        (out / "sweep.json").write_text(
            json.dumps(
                {
                    "experiment": str(out / "tune"),
                    "out_dir": str(out),
                    "data_sha256": None,
                    "folds_sha256": None,
                    "storage": None,
                    "started": "2026-12-04T10:00:00",
                    "finished": None,
                }
            )
        )
        (out / ".lock").write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        before = sorted(p.name for p in out.iterdir())
        for args in (["run", "--overwrite", "--results-dir", tmp_path / "results"], ["resume", out], ["pick", out]):
            result = cli(*args)
            assert result.exit_code == 2, (args, result.stderr)
            assert result.error_lines() == [
                f"hpsearch: error: {out}: is running (pid {live.pid} on {socket.gethostname()})"
            ]
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        live.kill()


def test_the_card_in_words_says_a_grouped_split_is_by_patient_with_the_patients_per_split():
    from search.review.card_text import card_markdown

    assert "40 test, split by row, stratified, seeded" in card_markdown(ModelCard.model_validate(CARD))
    grouped = {**CARD, "data": {**CARD["data"], "group": "patient", "groups": {"train": 25, "val": 12, "test": 10}}}
    text = card_markdown(ModelCard.model_validate(grouped))
    assert "40 test, split by patient (data.group: patient)" in text
    assert "25 train / 12 validation / 10 test patients" in text and "resamples patients" in text
