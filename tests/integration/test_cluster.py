"""A real two-node Ray cluster on this machine, started with the docs' own cluster recipe, and a
sweep that joins it with `hpsearch run --address` and keeps Ray Tune's experiment on `--storage`.

The recipe's lines are read from docs/cluster.md and run as they are, with HEAD_IP a loopback address, a free
port for 6379, `uv run` as this environment's own programs, and, appended to `ray start`, the flags
that keep two nodes on one machine apart (`--block`, one CPU each, their own `--temp-dir`, distinct
loopback addresses: 127.0.0.2 (head) and 127.0.0.3 (worker); not 127.0.0.1, which Ray replaces with the
machine's network address). The token lives in a HOME of the test's own. The cluster is stopped,
process by process, even when the test fails.

On the same cluster, a sweep loses its worker node mid-sweep (its raylet SIGKILLed) and still completes
every trial, exactly once, the lost one resumed on the head node from its checkpoint.
"""

from __future__ import annotations

import json
import os
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

from search.sweep.node_loss import NOT_COUNTED

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


CLUSTER_DOC = ROOT / "docs" / "cluster.md"


def readme_recipe() -> dict[str, str]:
    """The cluster recipe's lines (the first bash block under "## Run on a cluster"), by what they do."""
    doc = CLUSTER_DOC.read_text()
    block = doc.split("## Run on a cluster", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in block.splitlines()]
    lines = [line for line in lines if line]

    def one(test) -> str:
        found = [line for line in lines if test(line)]
        assert len(found) == 1, (found, block)
        return found[0]

    return {
        "token": one(lambda line: line.startswith("export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=$(")),
        "head": one(lambda line: "ray start --head" in line),
        "share": one(lambda line: line.startswith("echo ")),
        "join": one(lambda line: "ray start --address=HEAD_IP" in line),
        "run": one(lambda line: "hpsearch run --address HEAD_IP" in line),
    }


def _as_here(line: str, head: str, port: int) -> str:
    """A recipe line for this machine: HEAD_IP and the port, and this environment's programs."""
    ray = str(Path(sys.executable).with_name("ray"))
    return (
        line.replace("HEAD_IP", head)
        .replace("6379", str(port))
        .replace("uv run ray ", f"{ray} ")
        .replace("uv run hpsearch ", " ".join(HPSEARCH) + " ")
    )


@pytest.fixture
def two_node_cluster(tmp_path):
    """(address, the driver's environment, the recipe) of a running 2-node cluster, stopped afterwards."""
    recipe = readme_recipe()
    temp = Path(tempfile.mkdtemp(prefix="hps-ray-", dir="/tmp"))  # short: Ray's unix sockets live in it
    port = _free_port()
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    base["HOME"] = str(home)
    # step 1, the token: the README's line, and the line it prints for the other nodes
    shared = subprocess.run(
        ["bash", "-c", f"{_as_here(recipe['token'], HEAD_IP, port)} && {recipe['share']}"],
        env=base,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert shared.startswith("export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=") and (home / ".ray" / "auth_token").is_file()
    env = dict(base)
    env.update(dict(pair.split("=", 1) for pair in shared.removeprefix("export ").split()))
    common = f" --block --num-cpus=1 --temp-dir={temp} --disable-usage-stats"
    nodes = [
        (
            "head",
            _as_here(recipe["head"], HEAD_IP, port)
            + common
            + f" --node-ip-address={HEAD_IP} --include-dashboard=false --ray-client-server-port={_free_port()}",
        ),
        ("worker", _as_here(recipe["join"], HEAD_IP, port) + common + f" --node-ip-address={WORKER_IP}"),
    ]
    procs: list[subprocess.Popen] = []
    try:
        for name, command in nodes:
            log = temp / f"{name}.log"
            procs.append(
                subprocess.Popen(
                    ["bash", "-c", f"exec {command}"],
                    env=env,
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            _wait_for(log, "Ray runtime started", procs[-1])
        yield f"{HEAD_IP}:{port}", env, recipe
    finally:
        _stop(procs)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_a_sweep_on_a_two_node_cluster_runs_trials_on_both_nodes(two_node_cluster, tmp_path):
    address, env, recipe = two_node_cluster
    config = tmp_path / "cluster.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "search": {
                    "trials": 4,
                    "max_concurrent": 2,
                    "cv": {"folds": 0},
                    "early_stopping": {"enabled": False, "grace_period": 1, "reduction_factor": 2},
                },
                "train": {"max_epochs": 1},
                "export": {"n_boot": 100, "baselines": []},
            }
        )
    )
    results, shared = tmp_path / "results", tmp_path / "shared"
    host, port = address.split(":")
    # step 3: the recipe's driver line as it is, then this test's own config, name and folders
    run = _as_here(recipe["run"], host, int(port)).replace("/shared/hpsearch", str(shared))
    run += f" {config} --name cluster --results-dir {results}"
    done = subprocess.run(["bash", "-c", run], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
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


LOST_NODE_DRIVER = """
import sys
from pathlib import Path
from faults import node_killer
from search.config.load import load_config
from search.sweep.driver import run_sweep

address, storage, results, killed, ip = sys.argv[1:]
cfg = load_config(None, {
    "name": "lostnode",
    "results_dir": results,
    "search.trials": 8,
    "search.pack": 2,
    "search.max_concurrent": 2,
    "search.cv": {"folds": 0},
    "search.time_budget_s": 900,  # checkpoints at every improvement
    "search.max_failures": 0,  # no retry for a trial's own failure: a lost node must cost none
    "search.early_stopping": {"enabled": False, "grace_period": 1, "reduction_factor": 2},
    "train.max_epochs": 4,
    "export.n_boot": 100,
    "export.baselines": [],
})
run_sweep(cfg, address=address, storage=storage, trial=node_killer(ip, 2, Path(killed)))
"""


@pytest.mark.slow
def test_a_trial_whose_node_is_lost_is_retried_on_a_live_node_from_its_checkpoint(two_node_cluster, tmp_path):
    # 8 configurations in 4 packs (Tune trials), 2 at once: one per node. The first trial on the worker node
    # SIGKILLs the worker's raylet (and then itself) right after its epoch-2 report and checkpoint: the node is
    # lost mid-sweep. With no retry for a trial's own failure (max_failures 0: before, the lost trial ended as
    # an error, 7/8), every configuration still completes, exactly once, and the lost trial continues on the
    # head node from its checkpoint, not from epoch 0.
    address, env, _ = two_node_cluster
    results, shared, killed = tmp_path / "results", tmp_path / "shared", tmp_path / "killed"
    killed.mkdir()
    env = {**env, "PYTHONPATH": str(ROOT / "tests" / "integration")}
    args = [address, str(shared), str(results), str(killed), WORKER_IP]
    done = subprocess.run(
        [sys.executable, "-c", LOST_NODE_DRIVER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert (killed / "raylet-killed").is_file()  # the worker node was lost mid-sweep
    out = results / "lostnode"
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str, "pack": str, "node": str})
    assert len(board) == 8 and board["trial_id"].is_unique and set(board["status"]) == {"completed"}
    experiment = Path(json.loads((out / "sweep.json").read_text())["experiment"])
    moved = {
        pack: reports
        for pack, reports in _reports(experiment, board["pack"].unique()).items()
        if len({r["node_ip"] for r in reports}) > 1
    }
    assert len(moved) == 1, moved  # the one trial of the lost node...
    [(pack, reports)] = moved.items()
    on_worker = [r["epoch"] for r in reports if r["node_ip"] == WORKER_IP]
    on_head = [r["epoch"] for r in reports if r["node_ip"] == HEAD_IP]
    assert on_worker == [1, 2] and len(on_worker) + len(on_head) == len(reports)  # ...went on on the head...
    assert on_head[0] >= 2 and on_head == list(range(on_head[0], 5))  # ...from a checkpoint, not from epoch 0...
    assert NOT_COUNTED in (experiment / f"trial_{pack}" / "error.txt").read_text()  # ...with no retry used


def _reports(experiment: Path, packs) -> dict[str, list[dict]]:
    """Each Tune trial's reports (its result.json), by trial id."""
    return {
        pack: [json.loads(line) for line in (experiment / f"trial_{pack}" / "result.json").open()] for pack in packs
    }
