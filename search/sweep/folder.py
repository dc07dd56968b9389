"""A sweep folder's life cycle: made room for, started, finished, resumed.

Contract:
- `prepare(out, overwrite)` makes room for a new sweep: an empty or missing
  folder is used as is, a finished sweep is moved aside to
  `<name>@<timestamp>` (returned), an unfinished one is refused unless
  `overwrite` (which deletes it). Neither touches the results folder's test
  ledger (`search.records.test_ledger`): the scorings of a sweep archived or
  deleted still count.
- `start(out, experiment, data, storage, reuse_test)` writes `sweep.json` as a
  sweep starts (where Ray Tune's experiment lives, the folder, the data's,
  its test rows' and the folds' sha256, when it started, and `reuse_test`
  when `run --reuse-test` asked for it); `mark_finished(out)` adds when it
  finished; `finished(out)` reads that.
- `resumable(out)` returns the config and record of the unfinished sweep in
  `out`, or refuses in one line.
Every user mistake raises `HpsearchError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from pathlib import Path

from search.config.load import load_saved_config
from search.config.schema import Config
from search.records.paths import CONFIG_FILE, LEADERBOARD_FILE, SWEEP_FILE
from search.records.sweep_record import SweepRecord, now, read_record, write_record
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError

__all__ = ["finished", "mark_finished", "prepare", "resumable", "start"]


def start(out: Path, experiment: str, data: Dataset, storage: str | None, reuse_test: bool = False) -> SweepRecord:
    record = SweepRecord(
        experiment=experiment,
        out_dir=str(out),
        data_sha256=data.sha256,
        folds_sha256=data.folds_sha256,
        storage=storage,
        started=now(),
        finished=None,
        test_rows_sha256=data.test_rows_sha256,
        **({"reuse_test": True} if reuse_test else {}),
    )
    write_record(out, record)
    return record


def mark_finished(out: Path) -> None:
    record = read_record(out)
    if record is not None:
        write_record(out, record.model_copy(update={"finished": now()}))


def finished(out: str | Path) -> bool:
    """Did the sweep in `out` run to its end (leaderboard final, best model exported if any)?"""
    record = read_record(Path(out))
    return record is not None and bool(record.finished)


def prepare(out: Path, overwrite: bool) -> Path | None:
    """Make room for a new sweep in `out`; returns where an older finished sweep was moved."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise HpsearchError(f"{out}: exists and is not a directory")
    if not any(out.iterdir()):
        return None
    if overwrite:
        shutil.rmtree(out)
        return None
    if not finished(out):
        raise HpsearchError(
            f"{out}: holds an unfinished sweep; continue it with `hpsearch resume {out}`, "
            "or start afresh with --overwrite (deletes it)"
        )
    marker = next((out / f for f in (LEADERBOARD_FILE, SWEEP_FILE) if (out / f).is_file()), out)
    stamp = _dt.datetime.fromtimestamp(marker.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    archived = out.with_name(f"{out.name}@{stamp}")
    n = 1
    while archived.exists():
        n += 1
        archived = out.with_name(f"{out.name}@{stamp}-{n}")
    os.replace(out, archived)
    return archived


def resumable(out: Path) -> tuple[Config, SweepRecord]:
    """The config and sweep record of the unfinished sweep in `out`, or HpsearchError."""
    if not out.is_dir():
        raise HpsearchError(f"{out}: results directory not found")
    if not (out / CONFIG_FILE).is_file():
        raise HpsearchError(f"{out}: no sweep here ({CONFIG_FILE} is missing)")
    record = read_record(out)
    if record is None:
        raise HpsearchError(
            f"{out}: no sweep record ({SWEEP_FILE} is missing); "
            f"start it again with `hpsearch run {out / CONFIG_FILE} --overwrite`"
        )
    if record.finished:
        raise HpsearchError(f"{out}: the sweep already finished; nothing to resume")
    if Path(record.out_dir) != out:
        raise HpsearchError(
            f"{out}: this sweep ran in {record.out_dir} and its Ray Tune and Optuna state name "
            "that folder; move it back there to resume it"
        )
    cfg = load_saved_config(out / CONFIG_FILE)
    # results_dir may be relative to wherever the sweep started: pin it to this folder.
    return cfg.model_copy(update={"results_dir": str(out.parent)}), record
