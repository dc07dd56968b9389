"""Tables for people and one command at a time: a leaderboard that fits 80 or 120 columns with whole
values only, and the lock that keeps a second command off a live sweep. Fast: no Ray, no TensorFlow."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import numpy as np
import pytest

from conftest import HPSEARCH, ROOT
from search.leaderboard import build_leaderboard, mark_ties, render, write_leaderboard
from trainable.errors import HpsearchError


def _board(n: int = 8):
    rng = np.random.default_rng(0)
    rows = [{"trial_id": f"{i:08x}", "status": "completed" if i % 3 else "stopped", "val_auroc": 0.99 - i * 1e-3,
             "val_accuracy": 0.96, "val_loss": 0.0783 + i * 0.0017, "epochs": 20 - i % 3 * 8, "best_epoch": 11,
             "train_seconds": 3.41, "n_params": 12345 + i, "node": "e22c00ad0786", "n_layers": 4,
             "units": "468-219-53-203", "activation": "selu", "dropout": float(rng.random() / 2),
             "l2": 1.234567e-5, "learning_rate": 0.000452235, "batch_size": 16, "optimizer": "rmsprop",
             "checkpoint": f"/some/long/path/results/breast_cancer/tune/trial_{i:08x}/checkpoint_000011"}
            for i in range(n)]
    board = build_leaderboard(rows, "val_loss")
    intervals = {r["trial_id"]: (0.97512, 0.998) for r in rows}
    deltas = {r["trial_id"]: (-0.0136 + i / 100, 0.0104 + i / 100) for i, r in enumerate(rows[1:])}
    return mark_ties(board, intervals, deltas, rows[0]["trial_id"])


@pytest.mark.parametrize("width", [80, 120])
def test_the_table_fits_the_terminal_and_cuts_no_value(width):
    board = _board()
    text = render(board, "table", metric="val_loss", width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), max(map(len, lines))
    assert "…" not in text  # rich's ellipsis: a cut value
    for trial in board["trial_id"]:
        assert trial in text  # whole ids
    header = lines[1]
    assert header.index("rank") < header.index("trial") < header.index("val_loss") < header.index("tied")
    assert "0.0783" in text and "not shown, too wide for this terminal" in text and "--wide" in text
    if width == 120:
        assert "468-219-53-203" in text  # units, whole
    wide = render(board, "table", metric="val_loss", width=width, wide=True)
    assert "not shown" not in wide and "checkpoint_000011" in wide and "…" not in wide


def test_numbers_are_rounded_for_reading_and_units_stay_whole():
    text = render(_board(2), "table", metric="val_loss", width=400)
    assert "0.0004522" in text and "1.235e-05" in text and "468-219-53-203" in text
    assert "12345" in text and "0.000452235" not in text


def test_the_leaderboard_command_fits_an_80_column_terminal(tmp_path):
    write_leaderboard(_board(), tmp_path / "leaderboard.csv")
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run([*HPSEARCH, "leaderboard", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert max(map(len, out.stdout.splitlines())) <= 80 and "…" not in out.stdout


# --- one command at a time ---------------------------------------------------------------------------------


def test_a_live_sweeps_lock_refuses_a_second_command_and_a_stale_one_is_taken_over(tmp_path):
    from search.lock import SweepLock, check_free

    out = tmp_path / "sweep"
    with SweepLock(out):
        holder = json.loads((out / ".lock").read_text())
        assert holder == {"pid": os.getpid(), "host": socket.gethostname()}
        with pytest.raises(HpsearchError, match=f"is running \\(pid {os.getpid()} on {socket.gethostname()}\\)"):
            check_free(out)
    assert not (out / ".lock").exists()  # released
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that is gone
    (out / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with SweepLock(out) as lock:
        assert lock.took_over == {"pid": dead.pid, "host": socket.gethostname()}


def test_a_second_run_with_overwrite_on_a_live_sweep_exits_2_and_deletes_nothing(tmp_path):
    live = subprocess.Popen(["sleep", "60"])
    try:
        from search.config import load_config

        out = tmp_path / "results" / "breast_cancer"
        out.mkdir(parents=True)
        (out / "leaderboard.csv").write_text("rank,trial_id\n")  # a live sweep, as `run` writes it
        (out / "config.yaml").write_text(load_config(None, {"results_dir": str(out.parent)}).to_yaml())
        (out / "sweep.json").write_text(json.dumps({"experiment": str(out / "tune"), "out_dir": str(out),
                                                    "finished": None}))
        (out / ".lock").write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        before = sorted(p.name for p in out.iterdir())
        for args in (["run", "--overwrite", "--results-dir", str(tmp_path / "results")], ["resume", str(out)],
                     ["pick", str(out)]):
            result = subprocess.run([*HPSEARCH, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert result.returncode == 2, (args, result.stderr)
            assert result.stderr.strip().splitlines() == [
                f"hpsearch: error: {out}: is running (pid {live.pid} on {socket.gethostname()})"], result.stderr
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        live.kill()
