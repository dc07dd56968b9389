"""A trial's checkpoint folder: the names of its files, writing one and reading it back.

Contract: a checkpoint is a folder holding
- `model.keras` (`MODEL_FILE`): the trial's best epoch so far, taking raw
  features (an exported model is the same file);
- `state.json` (`STATE_FILE`): a `TrialState` (epochs done, the best epoch's
  validation metrics, whether the trial finished);
- `val_proba.npy` (`VAL_PROBA_FILE`), when the trial scored that model: its
  validation-split probabilities, so the driver ranks trials without loading
  their models.
A pack's checkpoint holds one such folder per member, named by the member,
beside the pack's own state (`pack.json`, `pack.npz`: what a retried pack
continues from): `write_pack_checkpoint(epoch, arrays, members)` writes one
into a temporary folder and yields its path (Ray Tune copies it away before
the folder is deleted); `read_pack_checkpoint(folder)` reads the pack's part
back, `read_state(folder)` and `read_val_proba(folder)` a member's. Imports
nothing heavy (a member's model arrives as the bytes of its file).
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
    "PACK_ARRAYS_FILE",
    "PACK_STATE_FILE",
    "STATE_FILE",
    "VAL_PROBA_FILE",
    "SavedMember",
    "TrialState",
    "read_pack_checkpoint",
    "read_state",
    "read_val_proba",
    "state_of",
    "write_pack_checkpoint",
]

MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
VAL_PROBA_FILE = "val_proba.npy"
PACK_STATE_FILE = "pack.json"
PACK_ARRAYS_FILE = "pack.npz"


@dataclass
class TrialState:
    """How far a trial got: what a retried or resumed trial continues from."""

    epoch: int = 0  # epochs trained
    best: dict[str, Any] | None = None  # the best epoch's val_* metrics and its `epoch`
    finished: bool = False  # the last epoch ran, early stopping stopped it, or it diverged: nothing left to train
    stopped: bool = False  # early stopping stopped it
    diverged: bool = False  # a non-finite loss
    seconds: float = 0.0  # its share of its pack's training seconds

    def done(self, max_epochs: int) -> bool:
        return self.finished or self.epoch >= max_epochs


def read_state(folder: str | os.PathLike) -> TrialState:
    with open(os.path.join(folder, STATE_FILE)) as fh:
        saved = json.load(fh)
    return state_of(saved)


def state_of(saved: dict[str, Any]) -> TrialState:
    return TrialState(
        int(saved["epoch"]),
        saved.get("best"),
        bool(saved.get("finished")),
        bool(saved.get("stopped")),
        bool(saved.get("diverged")),
        float(saved.get("seconds", 0.0)),
    )


@dataclass
class SavedMember:
    """What a pack's checkpoint holds for one member, ready to write into its folder."""

    name: str
    state: TrialState
    model_file: bytes | None  # its best epoch's model (`MODEL_FILE`), or None before it has one
    val_proba: np.ndarray | None


@contextmanager
def write_pack_checkpoint(epoch: int, arrays: dict[str, np.ndarray], members: list[SavedMember]) -> Iterator[str]:
    """A pack's checkpoint in a temporary folder (yielded): `PACK_STATE_FILE` (the pack's epoch and each
    member's state), `PACK_ARRAYS_FILE` (weights and optimizer variables, `trainable.trial.pack`), and one
    folder per member, named by it, laid out as a single trial's checkpoint (`MODEL_FILE`, `STATE_FILE`,
    `VAL_PROBA_FILE`): everything after the sweep reads a member's folder as it reads a trial's."""
    with tempfile.TemporaryDirectory(prefix="hpsearch-pack-") as folder:
        np.savez(os.path.join(folder, PACK_ARRAYS_FILE), **arrays)  # type: ignore[arg-type]
        with open(os.path.join(folder, PACK_STATE_FILE), "w") as fh:
            json.dump({"epoch": epoch, "members": {m.name: asdict(m.state) for m in members}}, fh)
        for member in members:
            own = os.path.join(folder, member.name)
            os.makedirs(own)
            if member.model_file is not None:
                with open(os.path.join(own, MODEL_FILE), "wb") as fh:
                    fh.write(member.model_file)
            with open(os.path.join(own, STATE_FILE), "w") as fh:
                json.dump(asdict(member.state), fh)
            if member.val_proba is not None:
                np.save(os.path.join(own, VAL_PROBA_FILE), member.val_proba)
        yield folder


def read_pack_checkpoint(folder: str | os.PathLike) -> tuple[int, dict[str, TrialState], dict[str, np.ndarray]]:
    """(the pack's epoch, each member's state by name, the arrays) of a pack's checkpoint."""
    with open(os.path.join(folder, PACK_STATE_FILE)) as fh:
        saved = json.load(fh)
    with np.load(os.path.join(folder, PACK_ARRAYS_FILE), allow_pickle=False) as arrays:
        loaded = {k: arrays[k] for k in arrays.files}
    return int(saved["epoch"]), {k: state_of(v) for k, v in saved["members"].items()}, loaded


def read_val_proba(folder: str | os.PathLike) -> np.ndarray | None:
    """The checkpointed model's validation probabilities, or None when the trial did not save them."""
    path = os.path.join(folder, VAL_PROBA_FILE)
    return np.load(path, allow_pickle=False) if os.path.isfile(path) else None
