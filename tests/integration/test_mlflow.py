"""MLflow round trip against a real local store (SQLite backend in a temporary folder), read back with MlflowClient."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
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
    _served_model_predicts_what_hpsearch_does(uri, out / "best", cfg.load_data(), tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _served_model_predicts_what_hpsearch_does(uri: str, best: Path, data, tmp_path: Path) -> None:
    """`mlflow models serve --env-manager local` on the registered model, in a process where hpsearch cannot be
    imported (a `sitecustomize` on PYTHONPATH blocks `search` and `trainable`): POSTed rows get the same
    probabilities as `hpsearch predict`."""
    from search.export.predict import predict_rows

    rows = pd.DataFrame(data.X_test, columns=data.feature_names)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = predict_rows(best, tmp_path / "rows.csv").frame[["proba_benign", "proba_malignant"]].to_numpy()
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['search'] = sys.modules['trainable'] = None\n")
    port = _free_port()
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # MLflow runs `uvicorn`
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(blocker), "PATH": path}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/risk-model/1"]
    server = subprocess.Popen(
        [*command, "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),  # noqa: SIM115
    )
    try:
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(30)
    served = pd.DataFrame(answer["predictions"])
    assert list(served.columns) == ["proba_benign", "proba_malignant"]
    assert np.abs(served.to_numpy() - expected).max() <= 1e-6
