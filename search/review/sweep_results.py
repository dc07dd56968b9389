"""A sweep's results, read back from its folder: its config, its leaderboard, its trials' files and its data.

Contract: `open_sweep(dir)` reads a sweep folder (`config.yaml`,
`leaderboard.csv`; refused in one line when either is missing) into
`SweepResults`: its ranked trials, a trial's row (`trial(id)`: by default the
best-ranked), its sampled hyperparameters (`trial_config`: Tune's
`params.json`), its Tune files (`trial_file`), its best-epoch checkpoint
(`checkpoint(row)`, `locate_checkpoint`: found again inside the folder if the
sweep was moved), its record (`record()`: `sweep.json`), and its data exactly
as the sweep split it (`data()`: refused when the data file changed since).
Every user mistake raises `HpsearchError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from search.config.load import load_saved_config
from search.config.schema import Config
from search.records.paths import CONFIG_FILE, LEADERBOARD_FILE, MODEL_FILE, TUNE_DIR, TUNE_PARAMS_FILE, trial_dirname
from search.records.sweep_record import SweepRecord, read_record
from search.review.leaderboard import RANKED, Status, ranked, read_leaderboard
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError
from trainable.names import MEMBERS

__all__ = ["SweepResults", "locate_checkpoint", "open_sweep", "sampled_configs"]


def sampled_configs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each configuration's sampled hyperparameters in a pack's config (Tune's `config`), by trial id."""
    return {str(m["id"]): dict(m.get("hp") or {}) for m in config.get(MEMBERS) or []}


def locate_checkpoint(sweep_dir: Path | None, row: pd.Series) -> Path:
    """A trial's best-epoch checkpoint folder (holds model.keras): where the row
    says, or at the same place inside `sweep_dir` if the folder was moved
    (archived as NAME@stamp, copied elsewhere)."""
    recorded = Path(str(row["checkpoint"]))
    candidates = [recorded]
    if sweep_dir is not None:
        sweep_dir = Path(sweep_dir)
        trial = recorded.parent  # a configuration's folder in its pack's checkpoint: trial_x/checkpoint_n/<id>
        member = Path(trial.parent.name) / trial.name / recorded.name
        candidates += [
            sweep_dir / TUNE_DIR / member,
            sweep_dir / member,  # pick/pick_n/checkpoint_n/<id>
            sweep_dir / recorded.parent.name / recorded.name,  # checkpoints/<pack>/<id>
        ]
    for candidate in candidates:
        if (candidate / MODEL_FILE).is_file():
            return candidate
    raise HpsearchError(f"{recorded}: trial {row['trial_id']}'s checkpoint ({MODEL_FILE}) is missing")


@dataclass
class SweepResults:
    """A sweep's results folder, read back."""

    path: Path
    config: Config
    board: pd.DataFrame

    def ranked(self) -> pd.DataFrame:
        """Trials that finished with a checkpoint, best first."""
        return ranked(self.board)

    def record(self) -> SweepRecord | None:
        return read_record(self.path)

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
            raise HpsearchError(
                f"--trial: no trial {trial_id!r} in {self.path / LEADERBOARD_FILE}; trials are: {known}"
            )
        row = rows.iloc[0]
        exportable = (*RANKED, Status.INFEASIBLE)  # infeasible: on request
        if row["status"] not in exportable or pd.isna(row["checkpoint"]):
            raise HpsearchError(f"--trial {wanted}: the trial has no model to export (status {row['status']})")
        return row

    def pack_of(self, trial_id: str) -> str:
        """The Tune trial (pack) that trained configuration `trial_id`."""
        rows = self.board[self.board["trial_id"].astype(str) == str(trial_id)]
        if len(rows) and "pack" in rows and pd.notna(rows.iloc[0]["pack"]):
            return str(rows.iloc[0]["pack"])
        return str(trial_id)

    def trial_file(self, trial_id: str, name: str) -> Path:
        """A file of the Tune folder of the pack that trained `trial_id` (`params.json`, `result.json`):
        under `tune/`, or beside the pack's checkpoint when the sweep ran with `--storage`."""
        default = self.path / TUNE_DIR / trial_dirname(self.pack_of(trial_id)) / name
        if default.is_file():
            return default
        rows = self.board[self.board["trial_id"].astype(str) == str(trial_id)]
        if len(rows) and pd.notna(rows.iloc[0]["checkpoint"]):
            beside = Path(str(rows.iloc[0]["checkpoint"])).parent.parent / name
            if beside.is_file():
                return beside
        return default

    def trial_config(self, trial_id: str) -> dict[str, Any]:
        """The configuration's sampled hyperparameters (its entry in its pack's `params.json`)."""
        path = self.trial_file(trial_id, TUNE_PARAMS_FILE)
        try:
            sampled = sampled_configs(json.loads(path.read_text()))
            if str(trial_id) not in sampled:
                raise HpsearchError(f"{path}: no configuration {trial_id} in its pack")
            return sampled[str(trial_id)]
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
        record = self.record()
        if record is not None:
            record.check_same_data(data, "the splits would not be the sweep's")
        return data


def open_sweep(results_dir: str | Path) -> SweepResults:
    path = Path(results_dir)
    board = read_leaderboard(path)  # refuses a missing folder / leaderboard in one line
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise HpsearchError(f"{config_file}: missing; is {path} a sweep's results folder?")
    return SweepResults(path.resolve(), load_saved_config(config_file), board)
