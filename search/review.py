"""Reviewing a sweep's results: reading a results folder, per-trial intervals, exporting any trial.

Contract:
- `open_sweep(results_dir)` reads a sweep folder (`config.yaml`,
  `leaderboard.csv`) into a `Sweep`, or raises `HpsearchError` naming the file.
  `Sweep.trial(trial_id)` finds a ranked trial (a row with a checkpoint),
  `Sweep.trial_config(trial_id)` its sampled hyperparameters (the
  `params.json` of its Tune folder: `tune/trial_<id>/`, or beside the
  checkpoint for `--storage` sweeps), `Sweep.checkpoint(row)` its best-epoch
  checkpoint folder (found again inside the folder if the sweep was moved),
  `Sweep.data()` the dataset exactly as the sweep split it (refused if the
  file changed since: its sha256 is checked against the exported model card).
- `validation_intervals(board, data, settings)` returns the leaderboard with
  each ranked trial's validation AUROC 95% interval and `tied_with_best`.
  HOW: every ranked trial's best-epoch checkpoint is loaded on the driver and
  predicts the validation split once; the interval is the same seeded,
  stratified bootstrap as the model card's (`trainable.metrics.auroc_ci`), with
  the same resamples for every trial. That is honest (non-parametric, uses
  the real predictions, ties included) and cheap (a few dozen small models
  on ~100 rows: well under a second each). Overlapping intervals are a
  conservative reading of "statistically tied" (the trials share one
  validation split), which is what a reviewer needs to see.
- `export_trial(results_dir, trial_id, out_dir, target_sensitivity)` exports
  any ranked trial like `best/`: `model.keras`, `model_card.json`,
  `model_card.md`.
TensorFlow/Keras are imported inside functions only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.config import Config, load_config
from search.leaderboard import RANKED, mark_ties, read_leaderboard
from trainable.errors import HpsearchError

__all__ = ["Sweep", "export_trial", "open_sweep", "validation_intervals"]

_CONFIG_FILE = "config.yaml"
_TUNE_DIR = "tune"
_BEST_DIR = "best"
_CARD_FILE = "model_card.json"
_MODEL_FILE = "model.keras"


@dataclass
class Sweep:
    """A sweep's results folder, read back."""

    path: Path
    config: Config
    board: pd.DataFrame

    def ranked(self) -> pd.DataFrame:
        """Trials that finished with a checkpoint, best first."""
        return self.board[self.board["status"].isin(RANKED) & self.board["checkpoint"].notna()]

    def trial(self, trial_id: str | None) -> pd.Series:
        """The leaderboard row of `trial_id` (default: the best-ranked trial)."""
        ranked = self.ranked()
        if trial_id is None:
            if ranked.empty:
                raise HpsearchError(f"{self.path / 'leaderboard.csv'}: no trial finished with a checkpoint")
            return ranked.iloc[0]
        wanted = str(trial_id).removeprefix("trial_")
        rows = self.board[self.board["trial_id"].astype(str) == wanted]
        if rows.empty:
            known = ", ".join(map(str, self.board["trial_id"].head(12)))
            raise HpsearchError(f"--trial: no trial {trial_id!r} in {self.path / 'leaderboard.csv'}; trials are: {known}")
        row = rows.iloc[0]
        if row["status"] not in RANKED or pd.isna(row["checkpoint"]):
            raise HpsearchError(f"--trial {wanted}: the trial has no model to export (status {row['status']})")
        return row

    def trial_file(self, trial_id: str, name: str) -> Path:
        """A file of the trial's Tune folder (`params.json`, `result.json`): under
        `tune/`, or beside its checkpoint when the sweep ran with `--storage`."""
        default = self.path / _TUNE_DIR / f"trial_{trial_id}" / name
        if default.is_file():
            return default
        rows = self.board[self.board["trial_id"].astype(str) == str(trial_id)]
        if len(rows) and pd.notna(rows.iloc[0]["checkpoint"]):
            beside = Path(str(rows.iloc[0]["checkpoint"])).parent / name
            if beside.is_file():
                return beside
        return default

    def trial_config(self, trial_id: str) -> dict[str, Any]:
        path = self.trial_file(trial_id, "params.json")
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise HpsearchError(f"{path}: the trial's hyperparameters are missing") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise HpsearchError(f"{path}: cannot read the trial's hyperparameters ({exc})") from None

    def checkpoint(self, row: pd.Series) -> Path:
        """The trial's best-epoch checkpoint folder (holds model.keras)."""
        return _checkpoint(self.path, row)

    def data(self):
        """The dataset as this sweep split it; refuses a data file that changed since."""
        from search.driver import load_data

        data = load_data(self.config)
        card = self.path / _BEST_DIR / _CARD_FILE
        if card.is_file():
            expected = json.loads(card.read_text()).get("data", {}).get("sha256")
            if expected and expected != data.sha256:
                raise HpsearchError(
                    f"{self.config.data.source}: the data changed since the sweep (sha256 {data.sha256[:12]}..., "
                    f"the sweep used {expected[:12]}...); the splits would not be the sweep's"
                )
        return data


def _checkpoint(sweep_dir: Path | None, row: pd.Series) -> Path:
    recorded = Path(str(row["checkpoint"]))
    candidates = [recorded]
    if sweep_dir is not None:  # the folder may have moved (archived as NAME@stamp, copied elsewhere)
        sweep_dir = Path(sweep_dir)
        candidates += [sweep_dir / _TUNE_DIR / recorded.parent.name / recorded.name,  # tune/trial_x/checkpoint_n
                       sweep_dir / recorded.parent.name / recorded.name]  # checkpoints/x, pick/run/checkpoint_n
    for candidate in candidates:
        if (candidate / _MODEL_FILE).is_file():
            return candidate
    raise HpsearchError(f"{recorded}: trial {row['trial_id']}'s checkpoint (model.keras) is missing")


def open_sweep(results_dir: str | Path) -> Sweep:
    path = Path(results_dir)
    board = read_leaderboard(path)  # refuses a missing folder / leaderboard in one line
    config_file = path / _CONFIG_FILE
    if not config_file.is_file():
        raise HpsearchError(f"{config_file}: missing; is {path} a sweep's results folder?")
    return Sweep(path.resolve(), load_config(config_file), board)


def _validation_proba(checkpoint: Path, X) -> Any:
    from search.export import predict_proba
    from trainable.model import load_model
    from trainable.train import VAL_PROBA_FILE

    saved = checkpoint / VAL_PROBA_FILE
    if saved.is_file():  # saved by the trial with its checkpoint: no model to load
        return np.load(saved, allow_pickle=False)

    model = load_model(checkpoint / _MODEL_FILE)
    return predict_proba(model, X)


def validation_intervals(board: pd.DataFrame, data, settings, sweep_dir: str | Path | None = None) -> pd.DataFrame:
    """`board` with `val_auroc_ci95_lo/hi` and `tied_with_best` filled in (see the module docstring)."""
    from trainable.metrics import auroc_ci

    intervals: dict[str, tuple[float, float]] = {}
    for _, row in board[board["status"].isin(RANKED) & board["checkpoint"].notna()].iterrows():
        try:
            checkpoint = _checkpoint(sweep_dir, row)
        except HpsearchError:
            continue  # no model to score: the trial gets no interval (and no tie flag)
        proba = _validation_proba(checkpoint, data.X_val)
        lo, hi = auroc_ci(data.y_val, proba, n_boot=settings.n_boot, seed=settings.seed)
        if not (math.isnan(lo) or math.isnan(hi)):
            intervals[str(row["trial_id"])] = (lo, hi)
    return mark_ties(board, intervals)


def _check_out(out: Path, sweep: Path) -> None:
    """Never replace a folder that is not an earlier export (it would be deleted)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise HpsearchError(f"--out {out}: exists and is not a directory")
    if out.resolve() == sweep or sweep.is_relative_to(out.resolve()):
        raise HpsearchError(f"--out {out}: is the sweep's folder (or holds it); choose a new folder")
    if any(out.iterdir()) and not (out / _CARD_FILE).is_file():
        raise HpsearchError(f"--out {out}: exists, is not empty and holds no exported model; choose a new folder")


def export_trial(
    results_dir: str | Path, trial_id: str | None, out_dir: str | Path, target_sensitivity: float | None = None
) -> dict[str, Any]:
    """Export one trial (default: the best) to `out_dir`; returns its model card."""
    from search.driver import quiet_tensorflow
    from search.export import export_model

    sweep = open_sweep(results_dir)
    out = Path(out_dir)
    _check_out(out, sweep.path)
    row = sweep.trial(trial_id)
    checkpoint = sweep.checkpoint(row)
    config = sweep.trial_config(str(row["trial_id"]))
    settings = sweep.config.export
    if target_sensitivity is not None:
        if not 0 < target_sensitivity <= 1:
            raise HpsearchError(f"--target-sensitivity must be in (0, 1], got {target_sensitivity}")
        settings = settings.model_copy(update={"threshold": "target_sensitivity", "target_sensitivity": target_sensitivity})
    data = sweep.data()
    quiet_tensorflow()
    validation = {k: float(row[k]) for k in ("val_auroc", "val_accuracy", "val_loss")}
    validation["epoch"] = int(row["best_epoch"])
    return export_model(
        checkpoint, str(row["trial_id"]), config, validation, data, sweep.config.search.metric, out, settings=settings
    )
