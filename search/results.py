"""A sweep's results folder: its record (`sweep.json`), its life cycle, and reading a sweep back.

Contract:
- `start_record(out, experiment, data)` writes `sweep.json` as a sweep starts
  (where Ray Tune's experiment lives, the folder, the data's sha256, when it
  started); `mark_finished(out)` adds when it finished. `sweep_finished(out)`
  reads that.
- `prepare_out_dir(out, overwrite)` makes room for a new sweep: an empty or
  missing folder is used as is, a finished sweep is moved aside to
  `<name>@<timestamp>` (returned), an unfinished one is refused unless
  `overwrite` (which deletes it).
- `resumable(out)` returns the config and record of the unfinished sweep in
  `out`, or refuses in one line; `check_same_data(data, record, why)`
  refuses data whose fingerprint (sha256), or whose cross-validation folds,
  differ from what the sweep recorded.
- `open_sweep(dir)` reads a sweep folder (`config.yaml`, `leaderboard.csv`)
  into a `Sweep`: its ranked trials, a trial's row, sampled hyperparameters
  (Tune's `params.json`) and best-epoch checkpoint (`locate_checkpoint`, found
  again inside the folder if the sweep was moved), and its data exactly as
  the sweep split it.
Every user mistake raises `HpsearchError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from search.config import Config, load_saved_config
from search.layout import (
    BEST_DIR, CONFIG_FILE, LEADERBOARD_FILE, MODEL_FILE, SWEEP_FILE, TUNE_DIR, TUNE_PARAMS_FILE, atomic_write_text,
    trial_dirname,
)
from search.leaderboard import Status, ranked, read_leaderboard
from trainable.data import Dataset
from trainable.errors import HpsearchError

__all__ = [
    "Sweep", "check_same_data", "locate_checkpoint", "mark_finished", "now", "open_sweep", "prepare_out_dir",
    "read_record", "resumable", "start_record", "sweep_finished", "write_record",
]


def now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def read_record(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / SWEEP_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise HpsearchError(f"{out / SWEEP_FILE}: unreadable sweep record ({exc})") from None


def write_record(out: Path, record: dict[str, Any]) -> None:
    atomic_write_text(out / SWEEP_FILE, json.dumps(record, indent=2) + "\n")


def start_record(out: Path, experiment: str, data: Dataset, storage: str | None = None) -> None:
    write_record(out, {"experiment": experiment, "out_dir": str(out), "data_sha256": data.sha256,
                       "folds_sha256": data.folds_sha256, "storage": storage, "started": now(), "finished": None})


def mark_finished(out: Path) -> None:
    write_record(out, {**(read_record(out) or {}), "finished": now()})


def sweep_finished(out: str | Path) -> bool:
    """Did the sweep in `out` run to its end (leaderboard final, best model exported if any)?"""
    out = Path(out)
    record = read_record(out)
    if record is None:  # a folder from the first release, which wrote no sweep.json
        return (out / BEST_DIR).is_dir() and (out / LEADERBOARD_FILE).is_file()
    return bool(record.get("finished"))


def prepare_out_dir(out: Path, overwrite: bool) -> Path | None:
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
    if not sweep_finished(out):
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


def resumable(out: Path) -> tuple[Config, dict[str, Any]]:
    """The config and sweep record of the unfinished sweep in `out`, or HpsearchError."""
    if not out.is_dir():
        raise HpsearchError(f"{out}: results directory not found")
    if not (out / CONFIG_FILE).is_file():
        raise HpsearchError(f"{out}: no sweep here ({CONFIG_FILE} is missing)")
    record = read_record(out)
    if record is None:
        raise HpsearchError(
            f"{out}: no sweep record ({SWEEP_FILE} is missing; a sweep from before `resume` existed); "
            f"start it again with `hpsearch run {out / CONFIG_FILE} --overwrite`"
        )
    if record.get("finished"):
        raise HpsearchError(f"{out}: the sweep already finished; nothing to resume")
    if Path(record.get("out_dir", out)) != out:
        raise HpsearchError(
            f"{out}: this sweep ran in {record['out_dir']} and its Ray Tune and Optuna state name "
            "that folder; move it back there to resume it"
        )
    cfg = load_saved_config(out / CONFIG_FILE)
    # results_dir may be relative to wherever the sweep started: pin it to this folder.
    return cfg.model_copy(update={"results_dir": str(out.parent)}), record


def check_same_data(data: Dataset, record: dict[str, Any], why: str) -> None:
    """Refuse `data` when its fingerprint, or its folds', differs from what the sweep `record`ed."""
    expected = record.get("data_sha256")
    if expected and data.sha256 != expected:
        raise HpsearchError(
            f"{data.source}: the data changed since the sweep started (sha256 {data.sha256[:12]}, "
            f"was {expected[:12]}); {why}"
        )
    if "folds_sha256" in record and record["folds_sha256"] != data.folds_sha256:
        raise HpsearchError(f"{data.source}: the cross-validation folds differ from the sweep's "
                            f"(search.cv.folds, data.seed or the library that cuts them changed); {why}")


def locate_checkpoint(sweep_dir: Path | None, row: pd.Series) -> Path:
    """A trial's best-epoch checkpoint folder (holds model.keras): where the row
    says, or at the same place inside `sweep_dir` if the folder was moved
    (archived as NAME@stamp, copied elsewhere)."""
    recorded = Path(str(row["checkpoint"]))
    candidates = [recorded]
    if sweep_dir is not None:
        sweep_dir = Path(sweep_dir)
        candidates += [sweep_dir / TUNE_DIR / recorded.parent.name / recorded.name,  # tune/trial_x/checkpoint_n
                       sweep_dir / recorded.parent.name / recorded.name]  # checkpoints/x, pick/run/checkpoint_n
    for candidate in candidates:
        if (candidate / MODEL_FILE).is_file():
            return candidate
    raise HpsearchError(f"{recorded}: trial {row['trial_id']}'s checkpoint ({MODEL_FILE}) is missing")


@dataclass
class Sweep:
    """A sweep's results folder, read back."""

    path: Path
    config: Config
    board: pd.DataFrame

    def ranked(self) -> pd.DataFrame:
        """Trials that finished with a checkpoint, best first."""
        return ranked(self.board)

    def trial(self, trial_id: str | None) -> pd.Series:
        """The leaderboard row of `trial_id` (default: the best-ranked trial)."""
        if trial_id is None:
            if self.ranked().empty:
                raise HpsearchError(f"{self.path / LEADERBOARD_FILE}: no trial finished with a checkpoint")
            return self.ranked().iloc[0]
        wanted = str(trial_id).removeprefix(trial_dirname(""))  # "trial_<id>" as Tune names it, or the id
        rows = self.board[self.board["trial_id"].astype(str) == wanted]
        if rows.empty:
            known = ", ".join(map(str, self.board["trial_id"].head(12)))
            raise HpsearchError(f"--trial: no trial {trial_id!r} in {self.path / LEADERBOARD_FILE}; trials are: {known}")
        row = rows.iloc[0]
        if row["status"] not in (*Status.RANKED, Status.INFEASIBLE) or pd.isna(row["checkpoint"]):  # infeasible: on request
            raise HpsearchError(f"--trial {wanted}: the trial has no model to export (status {row['status']})")
        return row

    def trial_file(self, trial_id: str, name: str) -> Path:
        """A file of the trial's Tune folder (`params.json`, `result.json`): under
        `tune/`, or beside its checkpoint when the sweep ran with `--storage`."""
        default = self.path / TUNE_DIR / trial_dirname(trial_id) / name
        if default.is_file():
            return default
        rows = self.board[self.board["trial_id"].astype(str) == str(trial_id)]
        if len(rows) and pd.notna(rows.iloc[0]["checkpoint"]):
            beside = Path(str(rows.iloc[0]["checkpoint"])).parent / name
            if beside.is_file():
                return beside
        return default

    def trial_config(self, trial_id: str) -> dict[str, Any]:
        """The trial's sampled hyperparameters."""
        path = self.trial_file(trial_id, TUNE_PARAMS_FILE)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise HpsearchError(f"{path}: the trial's hyperparameters are missing") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise HpsearchError(f"{path}: cannot read the trial's hyperparameters ({exc})") from None

    def checkpoint(self, row: pd.Series) -> Path:
        """The trial's best-epoch checkpoint folder (holds model.keras)."""
        return locate_checkpoint(self.path, row)

    def data(self) -> Dataset:
        """The dataset as this sweep split it; refuses a data file that changed since."""
        data = self.config.load_data()
        check_same_data(data, read_record(self.path) or {}, "the splits would not be the sweep's")
        return data


def open_sweep(results_dir: str | Path) -> Sweep:
    path = Path(results_dir)
    board = read_leaderboard(path)  # refuses a missing folder / leaderboard in one line
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise HpsearchError(f"{config_file}: missing; is {path} a sweep's results folder?")
    return Sweep(path.resolve(), load_saved_config(config_file), board)
