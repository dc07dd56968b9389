"""Ray Tune's experiment snapshots: at most a twentieth of the driver's time, never naming a deleted checkpoint.

Role: Tune saves the whole experiment (every trial's state, the searcher,
the callbacks) to `tune/experiment_state-*.json` and beside it: what a
resume starts from. With one checkpoint kept per trial, Tune forces such a
snapshot at every checkpoint of every trial, so that the last snapshot never
names a checkpoint it has since deleted. A snapshot costs O(trials), so a
sweep's snapshots cost O(trials^2): at 400 trials they were a quarter of the
driver's time (`benchmarks/driver.py`), at 2,000 they would be most of it.

Contract: `budget_snapshots()` (called before every Tuner is built; a fresh
budget each time) makes Tune's snapshots of this process:
- honour a forced snapshot (a trial checkpointed) at once while the snapshots
  so far took at most `SHARE` of the time since the first one plus
  `ALLOWANCE_S`, else at the first step once they are back within it; Tune's
  own periodic snapshot (every max(10 s, 19 x its cost)) and its final one
  are taken as before;
- wait for the previous snapshot to be written to the sweep's folder before
  the next one starts (Tune then always writes it);
- delete the checkpoint a trial's newer checkpoint replaces (Tune's
  `num_to_keep=1`) only once a snapshot taken after the replacement is
  written to the sweep's folder: until then the folder's snapshot may name it.
So a small sweep (snapshots well under a second in all) still snapshots at
every checkpoint: a killed driver's resume reruns no finished trial. In a
large sweep a killed driver's last snapshot may be up to ~20 times a
snapshot's cost old (~35 s at 2,000 trials, `benchmarks/driver.py`): its
resume continues the trials that checkpointed or finished after it from the
checkpoint it names (never lost, trained again from there),
and a trial started after it is asked again. The checkpoints replaced since
the last written snapshot stay on disk when the driver is killed.
The private parts of Tune this needs are reached through `search.sweep._compat`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from search.sweep import _compat

__all__ = ["ALLOWANCE_S", "SHARE", "SnapshotBudget", "budget_snapshots", "current_budget"]

logger = logging.getLogger(__name__)

SHARE = 0.05  # of the wall time since the first snapshot, spent snapshotting at most (Tune's own auto rule)
ALLOWANCE_S = 1.0  # seconds of snapshots allowed beyond SHARE: a small sweep snapshots at every checkpoint


class SnapshotBudget:
    """When Tune may snapshot, and the replaced checkpoints waiting for a written snapshot (see the module)."""

    def __init__(self, share: float = SHARE, allowance_s: float = ALLOWANCE_S) -> None:
        self.share, self.allowance_s = share, allowance_s
        self.started: float | None = None
        self.spent = 0.0  # seconds spent snapshotting
        self.snapshots = 0
        self.last_s = 0.0  # seconds the last snapshot took
        self.replacements = 0  # checkpoints Tune deleted (each deleted here later)
        self.replaced: list[tuple[Any, str]] = []  # (filesystem, path) Tune deleted since the last snapshot began
        self.taken: list[tuple[Any, str]] = []  # deleted before the snapshot being taken began
        self.unwritten: list[tuple[Any, str]] = []  # deleted before the last snapshot began, which may be unwritten

    def due(self, *, force: bool, requested: bool, period_due: bool) -> bool:
        """Snapshot now? Tune's forced and periodic ones always; a trial's checkpoint's within the budget."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if force or period_due:
            return True
        return requested and self.spent < self.allowance_s + self.share * (now - self.started)

    def replace(self, filesystem: Any, path: str) -> None:
        """Tune deletes `path`: it is deleted once a snapshot begun after now is written."""
        self.replaced.append((filesystem, path))
        self.replacements += 1

    def begin(self) -> None:
        """A snapshot is about to capture the experiment: what Tune deleted so far is not in it."""
        self.taken, self.replaced = self.replaced, []

    def end(self, seconds: float, *, written: bool) -> list[tuple[Any, str]]:
        """The snapshot `begin` started is saved (`written`: and in the sweep's folder; its predecessor is,
        either way) after `seconds`: the checkpoints no written snapshot names, to delete now."""
        self.spent += seconds
        self.snapshots += 1
        self.last_s = seconds
        safe = self.unwritten + (self.taken if written else [])
        self.unwritten, self.taken = ([] if written else self.taken), []
        return safe

    def failed(self) -> None:
        """The snapshot `begin` started failed: what it took waits for the next one."""
        self.replaced, self.taken = self.taken + self.replaced, []


def budget_snapshots() -> SnapshotBudget | None:
    """Install a fresh `SnapshotBudget` for the Tuners built from now on; None when Tune's internals moved
    (its own snapshots at every checkpoint then, as without this)."""
    budget = SnapshotBudget(SHARE, ALLOWANCE_S)
    if not _compat.budgeted_experiment_snapshots(budget):
        logger.debug("Tune's experiment snapshots are not budgeted (its internals moved)")
        return None
    _CURRENT[0] = budget
    return budget


_CURRENT: list[SnapshotBudget | None] = [None]


def current_budget() -> SnapshotBudget | None:
    """The budget the latest Tuner of this process snapshots within (benchmarks and tests read it)."""
    return _CURRENT[0]
