"""ASHA's stopping rule for the members of packs: the rungs, their records, the decision.

Role: a trial may train a pack of several configurations (members) in one Keras
model. Each member is early-stopped by the rule of ASHA, asynchronous successive
halving (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
MLSys 2020), judged against the members of every pack of the sweep, exactly as
Ray Tune's `ASHAScheduler` judges trials. One small Ray actor holds one `Rungs`
and every pack calls it once per epoch; this module is the rule itself, plain
Python (numpy only: no Ray, TensorFlow or Keras), so it is tested directly and
side by side with Tune's scheduler.

Contract: `Rungs(max_t, grace_period, reduction_factor, mode)` is Tune's
`AsyncHyperBandScheduler` with one bracket (`brackets=1`, `stop_last_trials=True`,
as checked against Ray 2.60's `ray/tune/schedulers/async_hyperband.py`):

- `milestones`: the rungs, in epochs, as Tune's `_Bracket` computes them for
  bracket 0: `grace_period * reduction_factor**k` for k from
  `int(log(max_t / grace_period) / log(reduction_factor) + 1) - 1` down to 0
  (descending, the same floating-point arithmetic as Tune).
- `decide(results)`: `results` maps a member id (unique across the sweep, e.g.
  `"<trial id>/<member>"`) to `(epochs trained, current metric value)`. Members
  are taken in the mapping's order, one at a time, each as Tune's
  `_Bracket.on_result` takes one trial's result: the first milestone, in
  descending order, that the member has reached and at which it has no record
  yet, is judged; the member is stopped when its score is below the cutoff of the
  scores recorded there before it (none recorded: no cutoff, never stopped), and
  its score is then recorded there, stopped or not. The score is the value for
  mode "max", its negation for mode "min" (as Tune's `metric_op`); the cutoff is
  `np.nanpercentile(scores, (1 - 1 / reduction_factor) * 100)`. A stopped
  member's result then goes through the same step once more, unjudged, as Tune's
  `on_trial_complete` does for a trial it stopped (it records something only
  when the member skipped a milestone, i.e. did not report every epoch).
  Returns the ids to stop, in that order. Members not in `results` are
  untouched; a stopped member should not be reported again (Tune never hears
  from a stopped trial).
- A value that is None or NaN stops nothing and records nothing: the member is
  judged at its next report with a number, at the highest milestone reached
  without a record (a lower milestone it passed without a record is judged at
  the report after, as Tune does for a trial that skips one). Tune itself would
  record the NaN, which `nanpercentile` then ignores, passing the member
  through that rung unjudged.
- `cutoffs()`: each milestone's current cutoff in metric units (None while
  nothing is recorded there), for logs.
- `state()` / `Rungs.from_state(state)`: the settings, milestones and records
  as plain dicts and lists of metric values (not scores), for persisting; the
  round trip is exact.

Not part of `decide`: Tune also stops a trial once `time_attr >= max_t`. For a
member that is the natural end of its training (the pack trains `max_t` epochs),
so the caller ends it. A member reported at `epochs >= max_t` is finished, never
in the returned list: its result is recorded once, unjudged, as Tune's
`on_trial_complete` records a finished trial's last result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

MODES = ("max", "min")


class Rungs:
    """ASHA's rungs and records for one sweep: one bracket, decided per member."""

    def __init__(self, max_t: int, grace_period: int, reduction_factor: float, mode: str) -> None:
        # What Tune's AsyncHyperBandScheduler asserts, as ValueError.
        if not max_t > 0:
            raise ValueError(f"max_t must be positive, got {max_t}")
        if not grace_period > 0:
            raise ValueError(f"grace_period must be positive, got {grace_period}")
        if not max_t >= grace_period:
            raise ValueError(f"grace_period must be <= max_t, got grace_period={grace_period}, max_t={max_t}")
        if not reduction_factor > 1:
            raise ValueError(f"reduction_factor must be > 1, got {reduction_factor}")
        if mode not in MODES:
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.max_t = max_t
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.mode = mode
        self._sign = 1.0 if mode == "max" else -1.0
        # Tune's _Bracket(min_t=grace_period, max_t, reduction_factor, s=0): MAX_RUNGS and _rungs, with s = 0.
        n_rungs = int(np.log(max_t / grace_period) / np.log(reduction_factor) + 1)
        self.milestones: tuple[float, ...] = tuple(grace_period * reduction_factor**k for k in reversed(range(n_rungs)))
        # One dict per milestone: member id -> score (metric value x sign).
        self._recorded: list[dict[str, float]] = [{} for _ in self.milestones]

    def _cutoff(self, recorded: dict[str, float]) -> float | None:
        if not recorded:
            return None
        return float(np.nanpercentile(list(recorded.values()), (1 - 1 / self.reduction_factor) * 100))

    def _on_result(self, member: str, epoch: int, score: float) -> bool:
        """Tune's `_Bracket.on_result` for one result (with `stop_last_trials=True`): True to stop."""
        for milestone, recorded in zip(self.milestones, self._recorded):
            if epoch < milestone or member in recorded:
                continue
            cutoff = self._cutoff(recorded)
            recorded[member] = score
            return cutoff is not None and score < cutoff
        return False

    def decide(self, results: Mapping[str, tuple[int, float | None]]) -> list[str]:
        """Record each member's result at its rung and return the ids to stop (see the module docstring)."""
        stop: list[str] = []
        for member, (epoch, value) in results.items():
            if value is None or math.isnan(value):
                continue  # no number: nothing to judge, nothing recorded
            score = self._sign * float(value)
            if epoch >= self.max_t:
                self._on_result(member, epoch, score)  # finished: Tune's on_trial_complete, verdict unused
            elif self._on_result(member, epoch, score):
                stop.append(member)
                self._on_result(member, epoch, score)  # Tune's on_trial_complete for the trial it stopped
        return stop

    def cutoffs(self) -> list[tuple[float, float | None]]:
        """(milestone, cutoff in metric units, or None while nothing is recorded there), milestones descending."""
        out: list[tuple[float, float | None]] = []
        for milestone, recorded in zip(self.milestones, self._recorded):
            cutoff = self._cutoff(recorded)
            out.append((milestone, None if cutoff is None else self._sign * cutoff))
        return out

    def state(self) -> dict[str, Any]:
        """The settings and the records (metric values, one dict per milestone, milestones descending)."""
        return {
            "max_t": self.max_t,
            "grace_period": self.grace_period,
            "reduction_factor": self.reduction_factor,
            "mode": self.mode,
            "milestones": list(self.milestones),
            "recorded": [{m: self._sign * s for m, s in recorded.items()} for recorded in self._recorded],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Rungs:
        """The `Rungs` whose `state()` this is; refuses records made for other milestones."""
        rungs = cls(state["max_t"], state["grace_period"], state["reduction_factor"], state["mode"])
        milestones = [float(m) for m in state["milestones"]]
        recorded = state["recorded"]
        if milestones != [float(m) for m in rungs.milestones] or len(recorded) != len(rungs.milestones):
            raise ValueError(f"records for milestones {milestones} do not fit milestones {list(rungs.milestones)}")
        rungs._recorded = [{str(m): rungs._sign * float(v) for m, v in r.items()} for r in recorded]
        return rungs
