"""Faults, with real processes and real signals: trials that raise, a worker
that is SIGKILLed, a configuration that diverges to NaN, a driver that is
SIGKILLed and then resumed, Ctrl-C (SIGINT) on the driver.

Failures are injected with the TEST-ONLY `HPSEARCH_FAULT=KIND[,KIND...]@DIR`
(see `trainable.faults`): the n-th trial attempt to report an epoch
fails as KIND number n, once, whichever worker runs it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import HPSEARCH, ROOT, tiny_overrides
from search.config import load_config
from search.driver import resume_sweep, run_sweep
from trainable.errors import HpsearchError


def _saved_trials(out: Path) -> list[tuple[dict, dict]]:
    """(trial, runtime) of each trial in the experiment state Ray Tune saved last (what a resume starts from).
    The one place that parses Ray Tune's own files."""
    state_file = max((out / "tune").glob("experiment_state-*.json"), key=lambda p: p.stat().st_mtime)
    return [(json.loads(t), json.loads(r)) for t, r in json.loads(state_file.read_text())["trial_data"]]


def _tune_trials(out: Path) -> dict[str, dict]:
    """Per trial id: Tune's saved status and failure count, and its reported epochs and worker pids."""
    trials = {}
    for trial, runtime in _saved_trials(out):
        results = [json.loads(line) for line in (out / "tune" / f"trial_{trial['trial_id']}" / "result.json").open()]
        trials[trial["trial_id"]] = {
            "status": trial["status"],
            "failures": runtime["num_failures"],
            "epochs": [r["epoch"] for r in results],
            "pids": [r["pid"] for r in results],
        }
    return trials


@pytest.mark.slow
def test_failing_trials_are_retried_and_a_trial_out_of_retries_is_kept_as_an_error(ray_session, tmp_path, monkeypatch):
    # 3 trials one at a time (a retry runs before the next trial), 1 retry each.
    # Attempts 1-2 raise: the first trial is out of retries. Attempt 3 is
    # SIGKILLed and its retry (attempt 4) goes through: the second trial
    # finishes. time_budget_s makes trials checkpoint at every improvement, so
    # the retry continues from epoch 1.
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("HPSEARCH_FAULT", f"raise,raise,sigkill,none@{faults}")
    cfg = load_config(None, tiny_overrides(tmp_path, name="faulty", **{
        "search.max_concurrent": 1, "search.max_failures": 1, "search.time_budget_s": 900, "export.n_boot": 100,
    }))
    outcome = run_sweep(cfg)
    out = outcome.out_dir

    assert sorted(p.name for p in faults.iterdir()) == ["fault-1", "fault-2", "fault-3", "fault-4"]
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    assert len(board) == 3  # the sweep went on after the failures
    assert sorted(board["status"]) == ["completed", "completed", "error"]
    failed = board[board["status"] == "error"].iloc[0]
    assert "HPSEARCH_FAULT: injected failure 2 (raise)" in failed["error"]
    assert failed["rank"] == 3 and pd.isna(failed["val_auroc"])  # never ranked above a finished trial
    assert outcome.card is not None and outcome.card["trial_id"] != failed["trial_id"]

    trials = _tune_trials(out)
    assert trials[failed["trial_id"]]["status"] == "ERROR"
    assert trials[failed["trial_id"]]["failures"] == 2  # the exception was retried max_failures (1) times
    killed = [(tid, t) for tid, t in trials.items() if t["failures"] == 1]
    assert len(killed) == 1
    tid, t = killed[0]
    assert t["status"] == "TERMINATED" and board.set_index("trial_id").loc[tid, "status"] == "completed"
    assert t["epochs"] == [1, 2]  # the retry continued from the epoch-1 checkpoint...
    assert t["pids"][0] != t["pids"][1]  # ...in a new worker process
    assert "worker process has died" in (out / "tune" / f"trial_{tid}" / "error.txt").read_text()  # SIGKILL


@pytest.mark.slow
def test_a_diverging_configuration_stops_early_and_the_sweep_goes_on(ray_session, tmp_path):
    # Plain SGD with a huge learning rate really overflows to inf/NaN in its
    # first epoch; the seed trial (the space's lowest rate, 1e-3) does not.
    cfg = load_config(None, tiny_overrides(tmp_path, name="nan", **{
        "train.max_epochs": 2,
        "space.optimizer": ["sgd"],
        "space.learning_rate": {"low": 1.0e-3, "high": 1.0e9, "log": True},
        "export.n_boot": 100,
    }))
    outcome = run_sweep(cfg)
    board = pd.read_csv(outcome.out_dir / "leaderboard.csv", dtype={"trial_id": str})
    assert len(board) == 3  # every trial ran
    assert set(board["status"]) == {"completed", "diverged"}
    diverged = board[board["status"] == "diverged"]
    assert (diverged["learning_rate"] >= 1.0).all() and (diverged["epochs"] < 2).all()
    assert diverged["val_auroc"].isna().all()
    assert board["rank"][board["status"] == "completed"].max() < diverged["rank"].min()
    assert outcome.card is not None and outcome.card["trial_id"] == board.loc[0, "trial_id"]
    assert board.loc[0, "status"] == "completed" and math.isclose(board.loc[0, "learning_rate"], 1e-3)


# --- the driver itself: real CLI processes, real signals -------------------------


def _sweep_config(tmp_path: Path, **search) -> Path:
    """4 trials one at a time, 2 epochs: a sweep that is still running when its first trial finishes."""
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "results_dir": str(tmp_path / "results"),
        "search": {"trials": 4, "max_concurrent": 1,
                   "early_stopping": {"enabled": False, "grace_period": 1, "reduction_factor": 2}, **search},
        "train": {"max_epochs": 2},
        "export": {"n_boot": 100},
    }))
    return path


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    """`hpsearch ARGS` in its own session (a process group, as a shell runs a foreground job)."""
    log = (tmp_path / "driver.log").open("w")
    return subprocess.Popen([*HPSEARCH, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_finished_trials(proc: subprocess.Popen, out: Path, n: int, timeout: float = 300) -> None:
    board = out / "leaderboard.csv"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if board.is_file() and len(board.read_text().splitlines()) > n:
            return
        assert proc.poll() is None, f"the sweep ended early (exit {proc.returncode})"
        time.sleep(0.1)
    raise AssertionError(f"no {n} finished trial(s) after {timeout} s")


def _reap(session: int) -> None:
    """SIGKILL what is left of a driver's session (its local Ray: raylet, agents), by process id."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == session:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, IndexError, ValueError):
                pass


def _saved_statuses(out: Path) -> dict[str, str]:
    """Trial id -> status in the experiment state Ray Tune saved."""
    return {trial["trial_id"]: trial["status"] for trial, _ in _saved_trials(out)}


@pytest.mark.slow
def test_ctrl_c_stops_gracefully_keeps_the_finished_trials_and_says_how_to_resume(tmp_path):
    out = tmp_path / "results" / "stopped"
    proc = _start(tmp_path, "run", str(_sweep_config(tmp_path)), "--name", "stopped")
    try:
        _wait_for_finished_trials(proc, out, 1)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
        assert proc.wait(120) == 130
    finally:
        _reap(proc.pid)
    log = (tmp_path / "driver.log").read_text()
    assert f"interrupted: resume with: hpsearch resume {out}" in log.splitlines()
    assert "Traceback" not in log
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    assert 1 <= len(board) < 4 and set(board["status"]) == {"completed"}
    assert not (out / "best").exists()
    assert json.loads((out / "sweep.json").read_text())["finished"] is None
    # Tune saved its state: the finished trials as finished; a trial in flight as
    # unfinished, for `resume` to run
    saved = _saved_statuses(out)
    assert {t for t, s in saved.items() if s == "TERMINATED"} == set(board["trial_id"])


MULTI = {"objectives": [{"metric": "val_loss", "mode": "min"}, {"metric": "n_params", "mode": "min"}],
         "sampler": "nsga2"}


@pytest.mark.slow
@pytest.mark.parametrize("search", [{}, MULTI], ids=["one-metric", "two-objectives"])
def test_a_killed_driver_is_resumed_without_losing_or_rerunning_finished_trials(tmp_path, search):
    out = tmp_path / "results" / "killed"
    proc = _start(tmp_path, "run", str(_sweep_config(tmp_path, **search)), "--name", "killed")
    try:
        _wait_for_finished_trials(proc, out, 1)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(60) == -signal.SIGKILL
    finally:
        _reap(proc.pid)
    before = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str, "node": str}).set_index("trial_id")
    assert 1 <= len(before) < 4 and not (out / "best").exists()

    resumed = subprocess.run([*HPSEARCH, "resume", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str, "node": str}).set_index("trial_id")
    assert len(after) == 4 and after.index.is_unique  # exactly the configured number of trials
    assert set(after["status"]) == {"completed"}
    for trial_id, row in before.iterrows():  # finished before the kill: kept as they were...
        for col in ("val_auroc", "val_loss", "epochs", "train_seconds", "node"):
            assert after.loc[trial_id, col] == row[col], (trial_id, col)
        reported = [json.loads(line)["epoch"] for line in (out / "tune" / f"trial_{trial_id}" / "result.json").open()]
        assert reported == [1, 2]  # ...and not trained or reported again
    assert (out / "best" / "model.keras").is_file()
    assert json.loads((out / "sweep.json").read_text())["finished"]
    if search:  # the multi-objective study went on where it was: one study, both objectives, every trial told
        import optuna

        study = optuna.load_study(study_name="killed", storage=f"sqlite:///{out / 'study.db'}")
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(study.directions) == 2 and len(complete) == 4
        assert after["pareto_rank"].min() == 1


# --- what resume and run refuse: one line (HpsearchError; exit code 2 at the CLI) ----


def _hpsearch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HPSEARCH, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _sweep_folder(out: Path, **record) -> Path:
    """A sweep folder as `run` starts it: the resolved config and the sweep record."""
    out.mkdir(parents=True)
    (out / "config.yaml").write_text(load_config(None, {"results_dir": str(out.parent), "name": out.name}).to_yaml())
    (out / "sweep.json").write_text(json.dumps({"experiment": str(out / "tune"), "out_dir": str(out),
                                                "finished": None, **record}))
    return out


def test_resume_at_the_command_line_refuses_in_one_line_or_says_there_is_nothing_to_do(tmp_path):
    missing = _hpsearch("resume", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines() == [f"hpsearch: error: {tmp_path / 'nope'}: results directory not found"]

    done = _sweep_folder(tmp_path / "done", finished="2026-01-01T00:00:00")
    before = sorted(p.name for p in done.iterdir())
    result = _hpsearch("resume", str(done))
    assert result.returncode == 0 and "the sweep already finished; nothing to resume" in result.stderr
    assert sorted(p.name for p in done.iterdir()) == before


def test_resume_refuses_what_it_cannot_continue(tmp_path, article_npy):
    with pytest.raises(HpsearchError, match="no sweep here \\(config.yaml is missing\\)"):
        resume_sweep(tmp_path)

    moved = _sweep_folder(tmp_path / "moved", out_dir="/elsewhere")
    with pytest.raises(HpsearchError, match="this sweep ran in /elsewhere .* move it back"):
        resume_sweep(moved)

    early = _sweep_folder(tmp_path / "early")
    (early / "tune").mkdir()
    (early / "tune" / "tuner.pkl").write_bytes(b"")  # Tuner() ran, the first state save did not
    with pytest.raises(HpsearchError, match=f"no saved Ray Tune state.*hpsearch run {early / 'config.yaml'} --overwrite"):
        resume_sweep(early)

    stale = _sweep_folder(tmp_path / "stale")  # its Tune state pickles a class this version does not have
    (stale / "tune").mkdir()
    (stale / "tune" / "tuner.pkl").write_bytes(b"csearch._gone\nLiveLeaderboard\n.")
    (stale / "tune" / "experiment_state-2026-01-01_00-00-00.json").write_text("{}")
    with pytest.raises(HpsearchError, match="cannot load the saved Ray Tune state .*ModuleNotFoundError.*--overwrite"):
        resume_sweep(stale)

    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "config.yaml").write_text(load_config(None, {"data.source": str(article_npy)}).to_yaml())
    (changed / "sweep.json").write_text(json.dumps({"experiment": str(changed / "tune"), "out_dir": str(changed),
                                                    "data_sha256": "0" * 64, "finished": None}))
    with pytest.raises(HpsearchError, match="the data changed since the sweep started"):
        resume_sweep(changed)

    refolded = _sweep_folder(tmp_path / "refolded", folds_sha256="0" * 64)  # recorded folds != these folds
    with pytest.raises(HpsearchError, match="the cross-validation folds differ from the sweep's"):
        resume_sweep(refolded)


def test_run_refuses_an_unfinished_sweep_a_storage_file_and_an_address_without_a_cluster(tmp_path):
    unfinished = _sweep_folder(tmp_path / "results" / "breast_cancer")
    cfg = load_config(None, {"results_dir": str(tmp_path / "results")})
    with pytest.raises(HpsearchError, match=f"holds an unfinished sweep; continue it with `hpsearch resume {unfinished}`"):
        run_sweep(cfg)
    (tmp_path / "file").write_text("")
    other = load_config(None, {"results_dir": str(tmp_path / "other")})
    with pytest.raises(HpsearchError, match="--storage .*: exists and is not a directory"):
        run_sweep(other, storage=str(tmp_path / "file"))
    with pytest.raises(HpsearchError, match="--address 127.0.0.1:1: no Ray cluster answers there"):
        run_sweep(other, address="127.0.0.1:1")  # nothing listens on port 1: refused at once, no waiting
    with pytest.raises(HpsearchError, match="--address head-node: expected HOST:PORT"):
        run_sweep(other, address="head-node")
    assert not (tmp_path / "other").exists()


def test_the_error_column_names_the_exception_or_a_dead_worker(tmp_path):
    import traceback

    import ray.exceptions
    from ray.tune import Result

    from search.trials import error_text

    try:
        raise RuntimeError("HPSEARCH_FAULT: injected failure 1 (raise)")
    except RuntimeError as exc:
        raised = ray.exceptions.RayTaskError("train", traceback.format_exc(), exc)  # as a worker sends it
    died = ray.exceptions.ActorDiedError()  # what Ray raises when a trial's worker is SIGKILLed
    assert error_text(Result({}, None, raised, str(tmp_path))).endswith("RuntimeError: HPSEARCH_FAULT: injected failure 1 (raise)")
    assert error_text(Result({}, None, died, str(tmp_path))) == (
        "ActorDiedError: the trial's worker process died (killed, out of memory, or crashed)"
    )


@pytest.mark.slow
@pytest.mark.timeout(240)  # with the bug back, Tune hangs on the lost trial
def test_no_trial_is_lost_when_a_reused_actor_waits_for_a_lingering_trial(ray_session, tmp_path, monkeypatch):
    # The first trial's thread lingers after its last report, as a big table's last steps do; ASHA stops the
    # trial on that report, and Tune reuses its actor for the next trial: it must wait for the thread.
    # Before, it gave up after 2 s, the next trial was lost, and its row carried another trial's id.
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("HPSEARCH_FAULT", f"linger@{faults}")
    cfg = load_config(None, tiny_overrides(tmp_path, name="linger", **{
        "search.max_concurrent": 1, "search.cv.folds": 0, "train.max_epochs": 1, "export.baselines": [],
        "export.n_boot": 100,
        # ASHA stops a trial at max_t, on its last report, while its thread still runs: then Tune resets the actor
        "search.early_stopping": {"enabled": True, "grace_period": 1, "reduction_factor": 2}}))
    outcome = run_sweep(cfg)
    board = pd.read_csv(outcome.out_dir / "leaderboard.csv", dtype={"trial_id": str})
    assert (faults / "fault-1").exists()  # the first attempt lingered
    assert board["trial_id"].is_unique and set(board["status"]) == {"completed"}
    started = _tune_trials(outcome.out_dir)
    assert set(board["trial_id"]) == set(started) and len(started) == 3  # every trial Tune started, once each
    assert len({t["pids"][0] for t in started.values()}) == 1  # one actor, reused


def test_a_trials_row_is_named_by_its_own_folder_not_by_its_last_metrics(tmp_path):
    from types import SimpleNamespace

    from search.trials import rows_of_results

    # a failed actor reuse: the lost trial's result carries the previous trial's metrics
    results = [SimpleNamespace(metrics={"trial_id": "aaa", "epoch": 1}, path=str(tmp_path / "trial_aaa"), config={},
                               error=None, checkpoint=None),
               SimpleNamespace(metrics={"trial_id": "aaa", "epoch": 1}, path=str(tmp_path / "trial_bbb"), config={},
                               error="RuntimeError: lost", checkpoint=None)]
    rows = rows_of_results(results, max_epochs=1, out=tmp_path)
    assert [r["trial_id"] for r in rows] == ["aaa", "bbb"]
