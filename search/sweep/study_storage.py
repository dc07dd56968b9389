"""The sweep's Optuna study storage: `study.db` (SQLite), read back only for what changed.

Contract: `DriverStudyStorage(backend)` wraps the sweep's `RDBStorage` as
Optuna's own `_CachedStorage` does (every write goes to `study.db` at once;
finished trials are read from it once, then served from memory), for a study
that only this process writes while the sweep runs (the driver: the trials
never touch Optuna). `_CachedStorage` reads every unfinished trial back from
SQLite, params and all, at each `get_all_trials`, in case another process
changed it: TPE and `Study.ask` ask for the trials a few times per
configuration, so with 64 trials running each configuration read back some
200 trials, params and all. `DriverStudyStorage` reads back only the trials
this process wrote to since the last read (their state, values, params or
attributes) and those newer than any it has read: the study it returns is
the same, and `study.db` holds every write as before (tested side by side
with `_CachedStorage`: the same seeded TPE samples the same configurations).
It is wrong for a study that another process writes to while it is open;
unpickled (Tune restores a resumed sweep's searcher from its last snapshot),
it reads back once every trial that was unfinished when it was pickled. Relies on Optuna's private
`_CachedStorage` and `RDBStorage._get_trials` (Optuna 5.0; the version is
fenced in `search.sweep._compat.CHECKED`). Imports Optuna:
load it lazily (driver only).
"""

from __future__ import annotations

import copy
from collections.abc import Container, Sequence
from typing import Any

from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._rdb.storage import RDBStorage
from optuna.trial import FrozenTrial, TrialState

__all__ = ["DriverStudyStorage"]


class DriverStudyStorage(_CachedStorage):
    """`_CachedStorage` that trusts its own writes (see the module)."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self._changed: set[int] = set()  # trials whose state this process set since they were last read
        self._newest: dict[int, int] = {}  # per study, the highest trial id read so far

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Unpickled (a resumed sweep's searcher, from Tune's last snapshot): the trials unfinished then may
        have changed since, so each is read back once."""
        super().__setstate__(state)
        for study in self._studies.values():
            self._changed |= study.unfinished_trial_ids

    def _changed_here(self, trial_id: int) -> None:
        with self._lock:
            self._changed.add(trial_id)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        done = self._backend.set_trial_state_values(trial_id, state=state, values=values)
        self._changed_here(trial_id)
        return done

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any) -> None:
        super().set_trial_param(trial_id, param_name, param_value_internal, distribution)
        self._changed_here(trial_id)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._backend.set_trial_intermediate_value(trial_id, step, intermediate_value)
        self._changed_here(trial_id)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._backend.set_trial_user_attr(trial_id, key=key, value=value)
        self._changed_here(trial_id)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._backend.set_trial_system_attr(trial_id, key=key, value=value)
        self._changed_here(trial_id)

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        if study_id not in self._studies:
            return super().get_all_trials(study_id, deepcopy, states)  # (reads every trial once)
        self._read_changed(study_id)
        with self._lock:
            study = self._studies[study_id]
            found = study.trials.values() if states is None else (t for t in study.trials.values() if t.state in states)
            trials = sorted(found, key=lambda t: t.number)
            return copy.deepcopy(trials) if deepcopy else trials

    def _read_changed(self, study_id: int) -> None:
        """Read back the trials whose state changed here, and the new ones (every id up to the newest read
        has been read once, so an unfinished one is in `unfinished_trial_ids`)."""
        with self._lock:
            study = self._studies[study_id]
            changed = set(self._changed)
            trials = self._backend._get_trials(
                study_id,
                states=None,
                included_trial_ids=changed,
                trial_id_greater_than=self._newest.get(study_id, study.last_finished_trial_id),
            )
            self._changed -= changed
            self._add_trials_to_cache(study_id, trials)
            for trial in trials:
                if trial.state.is_finished():
                    study.unfinished_trial_ids.discard(trial._trial_id)
                    study.last_finished_trial_id = max(study.last_finished_trial_id, trial._trial_id)

    def _add_trials_to_cache(self, study_id: int, trials: list[FrozenTrial]) -> None:
        """Cache `trials` (under the lock), an unfinished one listed as such (also one created here), and
        move the study's newest id read."""
        super()._add_trials_to_cache(study_id, trials)
        unfinished = self._studies[study_id].unfinished_trial_ids
        unfinished.update(t._trial_id for t in trials if not t.state.is_finished())
        if trials:
            self._newest[study_id] = max(self._newest.get(study_id, -1), *(t._trial_id for t in trials))
