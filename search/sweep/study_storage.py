"""The sweep's Optuna study storage: `study.db` (SQLite), read back only for what changed.

Contract: `DriverStudyStorage(backend)` wraps the sweep's `RDBStorage` as
Optuna's own `_CachedStorage` does (every write goes to `study.db` at once,
but the values sampled for a trial: those go with the next write of any
kind, or `flush()`, in one transaction, and at once into memory; Tune's
snapshot of the searcher flushes first;
finished trials are read from it once, then served from memory), for a study
that only this process writes while the sweep runs (the driver: the trials
never touch Optuna). `_CachedStorage` reads every unfinished trial back from
SQLite, params and all, at each `get_all_trials`, in case another process
changed it: TPE and `Study.ask` ask for the trials a few times per
configuration, so with 64 trials running each configuration read back some
200 trials, params and all. `DriverStudyStorage` reads back only the trials
this process wrote to since the last read (their state, values, params or
attributes) and those newer than any it has read (no query when there are
none), and serves `get_trial` from memory (`_CachedStorage` reads an
unfinished trial from SQLite: twice per tell, once per ask), and caches a
trial it finishes and the attributes it sets as it writes them (completion
time from its own clock): the study it returns is
the same, and `study.db` holds every write as before (tested side by side
with `_CachedStorage`: the same seeded TPE samples the same configurations).
It is wrong for a study that another process writes to while it is open;
unpickled (Tune restores a resumed sweep's searcher from its last snapshot),
it reads back once every trial that was unfinished when it was pickled, and
every trial created since. Relies on Optuna's private
`_CachedStorage` and `RDBStorage._get_trials` (Optuna 5.0; the version is
fenced in `search.sweep._compat.CHECKED`). Imports Optuna:
load it lazily (driver only).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Container, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._rdb.storage import RDBStorage, _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

__all__ = ["DriverStudyStorage"]


class DriverStudyStorage(_CachedStorage):
    """`_CachedStorage` that trusts its own writes (see the module)."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self._changed: set[int] = set()  # trials whose state this process set since they were last read
        self._newest: dict[int, int] = {}  # per study, the highest trial id read so far
        self._stale = False  # True when trials newer than `_newest` may exist (unpickled)
        self._params: list[tuple[Any, ...]] = []  # sampled values not yet written: one commit at the next write

    def __getstate__(self) -> dict[Any, Any]:
        self.flush()  # a snapshot holds what study.db holds
        return super().__getstate__()

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Unpickled (a resumed sweep's searcher, from Tune's last snapshot): the trials unfinished then may
        have changed since, so each is read back once."""
        super().__setstate__(state)
        for study in self._studies.values():
            self._changed |= study.unfinished_trial_ids
        self._stale = True  # trials may have been created since: read what is newer once
        self._params = []

    def flush(self) -> None:
        """Write the sampled values not yet written, in one transaction."""
        with self._lock:
            pending, self._params = self._params, []
        if pending:
            with _create_scoped_session(self._backend.scoped_session, True) as session:
                for args in pending:
                    self._backend._set_trial_param_without_commit(session, *args)

    def _changed_here(self, trial_id: int) -> None:
        with self._lock:
            self._changed.add(trial_id)

    def _cached(self, trial_id: int) -> tuple[Any, FrozenTrial] | None:
        """(the study's cache, the cached trial) of `trial_id`, or None; call under the lock."""
        where = self._trial_id_to_study_id_and_number.get(trial_id)
        if where is None:
            return None
        study = self._studies[where[0]]
        return study, study.trials[where[1]]

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        self.flush()
        return super().create_new_trial(study_id, template_trial)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        self.flush()
        done = self._backend.set_trial_state_values(trial_id, state=state, values=values)
        if not (done and state.is_finished() and self._finished_here(trial_id, state, values)):
            self._changed_here(trial_id)
        return done

    def _finished_here(self, trial_id: int, state: TrialState, values: Sequence[float] | None) -> bool:
        """A cached RUNNING trial just finished: cached as study.db now holds it (its completion time
        read from the clock here, not from study.db), not read back. False when it must be read back."""
        with self._lock:
            cached = None if trial_id in self._changed else self._cached(trial_id)
            if cached is None or cached[1].state != TrialState.RUNNING:
                return False
            study, trial = cached
            trial.state, trial.values, trial.datetime_complete = state, values, datetime.datetime.now()
            study.unfinished_trial_ids.discard(trial_id)
            study.last_finished_trial_id = max(study.last_finished_trial_id, trial_id)
            return True

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: BaseDistribution
    ) -> None:
        """Kept in memory (the cached trial gets it at once) and written with the next write (`flush`)."""
        with self._lock:
            study_id, number = self._trial_id_to_study_id_and_number[trial_id]
            study = self._studies[study_id]
            known = study.param_distribution.get(param_name)
            if known is not None:
                check_distribution_compatibility(known, distribution)
            else:
                study.param_distribution[param_name] = distribution
            self._params.append((trial_id, param_name, param_value_internal, distribution, known))
            trial = study.trials[number]
            trial._params[param_name] = distribution.to_external_repr(param_value_internal)
            trial._distributions[param_name] = distribution

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self.flush()
        self._backend.set_trial_intermediate_value(trial_id, step, intermediate_value)
        self._changed_here(trial_id)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.flush()
        self._backend.set_trial_user_attr(trial_id, key=key, value=value)
        self._cache_attr(trial_id, "_user_attrs", key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Written at once, and set on the cached trial (TPE's constant liar sets one at every ask)."""
        self.flush()
        self._backend.set_trial_system_attr(trial_id, key=key, value=value)
        self._cache_attr(trial_id, "_system_attrs", key, value)

    def _cache_attr(self, trial_id: int, attrs: str, key: str, value: Any) -> None:
        """Set `key` in the cached trial's `attrs` (read back instead when it is not cached as it is)."""
        with self._lock:
            cached = None if trial_id in self._changed else self._cached(trial_id)
            if cached is None:
                self._changed.add(trial_id)
            else:
                getattr(cached[1], attrs)[key] = copy.deepcopy(value)

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

    def get_trial(self, trial_id: int) -> FrozenTrial:
        """From memory (after reading back what changed), a copy when unfinished (`optuna.Trial` edits its own)."""
        with self._lock:
            where = self._trial_id_to_study_id_and_number.get(trial_id)
        if where is None:
            return super().get_trial(trial_id)
        self._read_changed(where[0])
        with self._lock:
            trial = self._studies[where[0]].trials[where[1]]
            return trial if trial.state.is_finished() else copy.deepcopy(trial)

    def _read_changed(self, study_id: int) -> None:
        """Read back the trials whose state changed here, and the new ones (every id up to the newest read
        has been read once, so an unfinished one is in `unfinished_trial_ids`); nothing when nothing
        changed (only this process writes)."""
        with self._lock:
            if not self._changed and not self._stale and study_id in self._newest:
                return
            study = self._studies[study_id]
            changed = set(self._changed)
            self._stale = False
        self.flush()  # (a trial read back must come with the values sampled for it)
        with self._lock:
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
