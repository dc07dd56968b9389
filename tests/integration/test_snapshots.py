"""Tune's experiment snapshots within a budget: the sweep folder's snapshot never names a deleted checkpoint.

A real sweep (real training, a checkpoint at every improvement) with no budget for the snapshots trials
ask for: Tune snapshots only every second (`TUNE_GLOBAL_CHECKPOINT_S`) and at the end, while trials
replace their checkpoints in between. A thread reads the sweep folder's snapshot all along, as a resume
would, and looks for every checkpoint it names.
"""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path

import pytest

from search.sweep import snapshots
from search.sweep.driver import run_sweep

pytestmark = pytest.mark.slow


def _named_checkpoints(state: Path) -> list[Path]:
    """The latest checkpoint of each trial in a Tune snapshot (Tune's own file format, read here only)."""
    named = []
    for _, runtime in json.loads(state.read_text())["trial_data"]:
        manager = json.loads(runtime)["checkpoint_manager"]
        result = pickle.loads(bytes.fromhex(manager["value"])).latest_checkpoint_result
        if result is not None and result.checkpoint is not None:
            named.append(Path(result.checkpoint.path))
    return named


class Reader(threading.Thread):
    """Reads the newest snapshot in `folder` every 20 ms: the snapshots seen, the checkpoints checked, and
    those missing while the snapshot naming them was still the folder's newest."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.stop = folder, threading.Event()
        self.seen: set[str] = set()
        self.checked, self.missing = 0, []

    def run(self) -> None:
        while not self.stop.wait(0.02):
            states = sorted(self.folder.glob("experiment_state-*.json"))
            if not states:
                continue
            try:
                before = states[-1].read_bytes()
                named = _named_checkpoints(states[-1])
            except (ValueError, KeyError, OSError, EOFError, pickle.UnpicklingError):
                continue  # being written
            gone = [path for path in named if not path.is_dir()]
            if gone and states[-1].read_bytes() == before:  # not replaced by a newer snapshot meanwhile
                self.missing += gone
            self.checked += len(named)
            self.seen.add(before.decode(errors="replace"))


def test_a_snapshot_in_the_sweep_folder_never_names_a_deleted_checkpoint(ray_session, tiny, monkeypatch):
    monkeypatch.setattr(snapshots, "SHARE", 0.0)  # no snapshot for the trials' checkpoints...
    monkeypatch.setattr(snapshots, "ALLOWANCE_S", 0.0)
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "1")  # ...only Tune's periodic ones, every second
    cfg = tiny(
        name="snapshots",
        **{
            "search.trials": 4,
            "search.pack": 1,
            "search.max_concurrent": 2,
            "search.time_budget_s": 900,  # a checkpoint at every improvement
            "train.max_epochs": 6,
            "export.n_boot": 100,
        },
    )
    reader = Reader(cfg.out_dir / "tune")
    reader.start()
    try:
        outcome = run_sweep(cfg)
    finally:
        reader.stop.set()
        reader.join()
    budget = snapshots.current_budget()
    assert budget is not None and budget.replacements >= 4  # trials replaced checkpoints...
    assert len(reader.seen) >= 3 and reader.checked > 0  # ...while the folder's snapshot changed
    assert reader.missing == []
    assert len(outcome.leaderboard) == 4 and set(outcome.leaderboard["status"]) == {"completed"}
    kept = [len(list(trial.glob("checkpoint_*"))) for trial in (cfg.out_dir / "tune").glob("trial_*")]
    assert kept == [1, 1, 1, 1]  # every replaced checkpoint deleted by the end
