"""The leaderboard: rows, ranks, ties paired on the same rows, and its file. Fast: no Ray, no TensorFlow."""

import json

from conftest import hyperparameters

from search.cli.terminal_table import render
from search.review.leaderboard import COLUMNS, RANKED, Status, build_leaderboard, mark_ties


def _board():
    rows = [
        {
            "trial_id": f"t{i}",
            "status": "completed",
            "val_auroc": 0.9,
            "val_accuracy": 0.9,
            "val_loss": v,
            "epochs": 2,
            "units": "8",
        }
        for i, v in enumerate([0.10, 0.12, 0.30])
    ]
    rows.append({"trial_id": "bad", "status": "error", "epochs": 0, "error": "boom"})
    return build_leaderboard(rows, "val_loss")


def test_ties_are_paired_differences_whose_interval_holds_zero():
    intervals = {"t0": (0.85, 0.95), "t1": (0.84, 0.94), "t2": (0.80, 0.92)}
    deltas = {"t1": (-0.01, 0.05), "t2": (0.1, 0.3)}
    board = mark_ties(_board(), intervals, deltas, "t0")
    assert list(board.columns) == COLUMNS
    assert board.set_index("trial_id")["tied_with_best"].to_dict() == {"t0": True, "t1": True, "t2": False, "bad": None}
    records = json.loads(render(board, "json"))
    assert records[0]["val_auroc_ci95_lo"] == 0.85 and records[2]["tied_with_best"] is False
    assert records[2]["delta_ci95_lo"] == 0.1 and records[0]["delta_ci95_lo"] is None
    assert records[3]["tied_with_best"] is None and records[3]["val_auroc_ci95_lo"] is None
    table = render(board, "table", columns=["rank", "trial_id", "delta_ci95_lo", "delta_ci95_hi", "tied_with_best"])
    assert "[0.1, 0.3]" in table and "tied" in table


def test_leaderboard_survives_a_csv_round_trip_with_numeric_looking_ids(tmp_path):
    from search.review.leaderboard import read_leaderboard, write_leaderboard

    board = mark_ties(
        _board().assign(trial_id=["00012345", "1e100000", "abc", "bad"]), {"00012345": (0.9, 1.0)}, {}, "00012345"
    )
    write_leaderboard(board, tmp_path / "leaderboard.csv")
    back = read_leaderboard(tmp_path)
    assert list(back["trial_id"]) == ["00012345", "1e100000", "abc", "bad"]
    assert back.loc[0, "tied_with_best"] == True  # noqa: E712  (read back from text)


def test_a_trials_row_reads_its_best_epoch_and_its_status():
    from search.review.leaderboard import trial_row

    hp = hyperparameters(n_layers=2, units_0=16, units_1=8)
    metrics = {
        "epoch": 3,
        "best_epoch": 2,
        "best_val_loss": 0.3,
        "best_val_auroc": 0.9,
        "best_val_accuracy": 0.8,
        "val_loss": 0.35,
        "train_seconds": 1.234,
        "n_params": 100,
        "latency_ms": 0.5,
        "node": "n1",
    }
    row = trial_row("t1", hp, metrics, max_epochs=5)
    assert row["status"] == Status.STOPPED and row["status"] in RANKED and row["units"] == "16-8"
    assert (row["val_loss"], row["best_epoch"], row["train_seconds"]) == (0.3, 2, 1.23)  # the best epoch's
    assert trial_row("t1", hp, {**metrics, "epoch": 5}, max_epochs=5)["status"] == "completed"
    assert trial_row("t1", hp, {**metrics, "diverged": True}, max_epochs=5)["status"] == "diverged"
    failed = trial_row("t1", hp, metrics, max_epochs=5, error="Traceback...\nValueError: boom")
    assert failed["status"] == "error" and failed["error"] == "ValueError: boom" and failed["val_loss"] is None
