"""Tables for people: a leaderboard that fits 80 or 120 columns with whole values only, and its other forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from search.cli.terminal_table import render
from search.review.leaderboard import build_leaderboard, mark_ties, write_leaderboard


def _board(n: int = 8):
    rng = np.random.default_rng(0)
    rows = [
        {
            "trial_id": f"{i:08x}",
            "status": "completed" if i % 3 else "stopped",
            "val_auroc": 0.99 - i * 1e-3,
            "val_accuracy": 0.96,
            "val_loss": 0.0783 + i * 0.0017,
            "epochs": 20 - i % 3 * 8,
            "best_epoch": 11,
            "train_seconds": 3.41,
            "n_params": 12345 + i,
            "node": "e22c00ad0786",
            "n_layers": 4,
            "units": "468-219-53-203",
            "activation": "selu",
            "dropout": float(rng.random() / 2),
            "l2": 1.234567e-5,
            "learning_rate": 0.000452235,
            "batch_size": 16,
            "optimizer": "rmsprop",
            "checkpoint": f"/some/long/path/results/breast_cancer/tune/trial_{i:08x}/checkpoint_000011",
        }
        for i in range(n)
    ]
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


def test_the_leaderboard_command_fits_an_80_column_terminal(cli, tmp_path):
    write_leaderboard(_board(), tmp_path / "leaderboard.csv")
    out = cli("leaderboard", tmp_path, env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.stderr
    assert max(map(len, out.stdout.splitlines())) <= 80 and "…" not in out.stdout


def test_the_leaderboard_command_sorts_cuts_and_formats(cli, tmp_path):
    write_leaderboard(_board(), tmp_path / "leaderboard.csv")
    rows = json.loads(cli("leaderboard", tmp_path, "--format", "json", "--sort", "n_params", "--top", "3").stdout)
    assert [r["n_params"] for r in rows] == [12345, 12346, 12347] and rows[0]["tied_with_best"] is True
    markdown = cli("leaderboard", tmp_path, "--format", "markdown").stdout
    assert markdown.splitlines()[0].startswith("| rank | trial | status | val_loss |")
    assert cli("leaderboard", tmp_path, "--sort", "nope").exit_code == 2
    assert "--format must be one of table, csv, json, markdown" in cli("leaderboard", tmp_path, "--format", "x").stderr
