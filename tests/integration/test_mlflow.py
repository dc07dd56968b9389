"""MLflow round trip against a real local store (SQLite backend in a temporary folder), read back with MlflowClient."""

import json

import pytest

from search.sweep.driver import run_sweep

pytestmark = pytest.mark.slow


def test_a_sweep_is_a_parent_run_its_trials_child_runs_and_the_export_a_registered_model(
    ray_session, tiny, tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root (./mlruns) lands in the temporary folder
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = tiny(
        name="tracked",
        **{"mlflow.tracking_uri": uri, "mlflow.experiment": "hp", "mlflow.registered_model": "risk-model"},
    )
    outcome = run_sweep(cfg)
    out = outcome.out_dir

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("hp")
    runs = client.search_runs([experiment.experiment_id])
    record = json.loads((out / "sweep.json").read_text())
    parent = client.get_run(record["mlflow_run_id"])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.data.tags["hpsearch.sweep"] == str(out)
    assert len(children) == len(outcome.leaderboard) == 3

    child = children[0]
    assert {"learning_rate", "batch_size"} <= set(child.data.params)
    history = client.get_metric_history(child.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]  # every epoch, not only the last

    card = outcome.card
    assert card is not None and parent.data.tags["hpsearch.trial_id"] == card.trial_id
    assert parent.data.metrics["test_auroc"] == pytest.approx(card.test.auroc)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "best")}
    assert {"best/model_card.json", "best/model_card.md"} <= artifacts
    assert "report.html" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    versions = client.search_model_versions("name='risk-model'")
    assert len(versions) == 1 and versions[0].run_id == parent.info.run_id
