"""A real two-node Ray cluster on this machine, started with `ray start`, and a
sweep that joins it with `hpsearch run --address` and keeps Ray Tune's
experiment on `--storage`.

The nodes listen on loopback addresses only: 127.0.0.2 (head) and 127.0.0.3
(worker). Not 127.0.0.1: Ray replaces that address with the machine's network
address. Each node has 1 CPU, so two trials at once run one per node. The
cluster gets its own `--temp-dir` (apart from the test session's local Ray) and
its own token (RAY_AUTH_MODE=token), and is stopped, process by process, even
when the test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import HPSEARCH, ROOT

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"`ray start` exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"`ray start` not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each `ray start --block` (it stops its node), then SIGKILL whatever
    is left in their sessions, by process id. Never `ray stop`: it would stop
    every Ray on the machine."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
    sessions = {proc.pid for proc in procs}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) in sessions:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, IndexError, ValueError):
                pass


@pytest.fixture
def two_node_cluster():
    """(address, env for drivers) of a running 2-node cluster, stopped afterwards."""
    ray = str(Path(sys.executable).with_name("ray"))
    temp = Path(tempfile.mkdtemp(prefix="hps-ray-", dir="/tmp"))  # short: Ray's unix sockets live in it
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    common = ["--block", "--num-cpus=1", f"--temp-dir={temp}", "--disable-usage-stats"]
    nodes = [
        ("head", ["--head", f"--port={port}", f"--node-ip-address={HEAD_IP}", "--include-dashboard=false",
                  f"--ray-client-server-port={_free_port()}"]),
        ("worker", [f"--address={HEAD_IP}:{port}", f"--node-ip-address={WORKER_IP}"]),
    ]
    procs: list[subprocess.Popen] = []
    try:
        for name, args in nodes:
            log = temp / f"{name}.log"
            procs.append(subprocess.Popen([ray, "start", *args, *common], env=env, stdout=log.open("w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
            _wait_for(log, "Ray runtime started", procs[-1])
        yield f"{HEAD_IP}:{port}", env
    finally:
        _stop(procs)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_a_sweep_on_a_two_node_cluster_runs_trials_on_both_nodes(two_node_cluster, tmp_path):
    address, env = two_node_cluster
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump({
        "search": {"trials": 4, "max_concurrent": 2,
                   "early_stopping": {"enabled": False, "grace_period": 1, "reduction_factor": 2}},
        "train": {"max_epochs": 1},
        "export": {"n_boot": 100},
    }))
    results, shared = tmp_path / "results", tmp_path / "shared"
    run = subprocess.run(
        [*HPSEARCH, "run", str(config), "--name", "cluster", "--results-dir", str(results),
         "--address", address, "--storage", str(shared)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = results / "cluster"
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str, "node": str})
    assert len(board) == 4 and set(board["status"]) == {"completed"}
    assert board["node"].nunique() == 2  # both nodes ran trials

    # Ray Tune's experiment is on the shared storage; leaderboard and model stay in the results folder
    experiment = Path(json.loads((out / "sweep.json").read_text())["experiment"])
    assert experiment.parent == shared and (experiment / "tuner.pkl").is_file()
    assert not (out / "tune").exists()
    assert all(Path(c).is_relative_to(experiment) for c in board["checkpoint"])
    assert (out / "best" / "model.keras").is_file()


def test_the_cluster_launcher_file_is_valid_for_ray_up():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "configs" / "cluster.yaml").read_text())
    validate_config(prepare_config(config))  # what `ray up` checks before it touches a machine
    commands = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "ray start --head --port=6379" in commands and "ray start --address=$RAY_HEAD_IP:6379" in commands
