"""A trial's checkpoint folder: the names of its files, writing one and reading it back.

Contract: a checkpoint is a folder holding
- `model.keras` (`MODEL_FILE`): the trial's best epoch so far, taking raw
  features (an exported model is the same file);
- `state.json` (`STATE_FILE`): a `TrialState` (epochs done, the best epoch's
  validation metrics, whether the trial finished);
- `val_proba.npy` (`VAL_PROBA_FILE`), when the trial scored that model: its
  validation-split probabilities, so the driver ranks trials without loading
  their models.
`write_checkpoint(model, state, val_proba)` writes one into a temporary folder
and yields its path (Ray Tune copies it away before the folder is deleted);
`read_state(folder)` and `read_val_proba(folder)` read one back. Imports
nothing heavy: the model object is only asked to `save`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "MODEL_FILE",
    "STATE_FILE",
    "VAL_PROBA_FILE",
    "TrialState",
    "read_state",
    "read_val_proba",
    "write_checkpoint",
]

MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
VAL_PROBA_FILE = "val_proba.npy"


@dataclass
class TrialState:
    """How far a trial got: what a retried or resumed trial continues from."""

    epoch: int = 0  # epochs trained
    best: dict[str, Any] | None = None  # the best epoch's val_* metrics and its `epoch`
    finished: bool = False  # the last epoch ran, or the trial diverged: nothing left to train

    def done(self, max_epochs: int) -> bool:
        return self.finished or self.epoch >= max_epochs


@contextmanager
def write_checkpoint(model: Any, state: TrialState, val_proba: np.ndarray | None) -> Iterator[str]:
    """Write `model`, `state` and (if given) `val_proba` to a temporary folder; yield its path."""
    with tempfile.TemporaryDirectory(prefix="hpsearch-ckpt-") as folder:
        model.save(os.path.join(folder, MODEL_FILE))
        with open(os.path.join(folder, STATE_FILE), "w") as fh:
            json.dump(asdict(state), fh)
        if val_proba is not None:
            np.save(os.path.join(folder, VAL_PROBA_FILE), val_proba)
        yield folder


def read_state(folder: str | os.PathLike) -> TrialState:
    with open(os.path.join(folder, STATE_FILE)) as fh:
        saved = json.load(fh)
    return TrialState(int(saved["epoch"]), saved.get("best"), bool(saved.get("finished")))


def read_val_proba(folder: str | os.PathLike) -> np.ndarray | None:
    """The checkpointed model's validation probabilities, or None when the trial did not save them."""
    path = os.path.join(folder, VAL_PROBA_FILE)
    return np.load(path, allow_pickle=False) if os.path.isfile(path) else None
