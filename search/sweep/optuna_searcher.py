"""The Optuna searchers as hpsearch uses them under Ray Tune.

`OptunaSearch` forwards every epoch's result to Optuna as an intermediate
value (`trial.report`), which only Optuna's pruners read. Under Ray Tune,
early stopping is ASHA's job, so those per-epoch writes to the study's SQLite
file are work on the driver, which shares the CPUs with the trials, for
nothing. `FinalScoreOptunaSearch` keeps Optuna's view to what it samples from:
each trial's final score(s). With `constraints` (`search.constraints`), each
trial's shortfall (`search.config.ranking.shortfall`, <= 0: feasible) is set on
its Optuna trial as its constraint (`Trial.set_constraint`, Optuna 5's
replacement of the samplers' deprecated `constraints_func`) before it is
told: TPE and NSGA-II then sample away from infeasible trials.

`PackSearch` does the same for packs: one Tune trial trains `pack_sizes[i]`
configurations together (the i-th pack suggested; `Searcher.FINISHED` after
the last), each its own Optuna trial. Its config is `{"batch_size": b,
"members": [{"id": "<trial_id>-<m>", "number": <Optuna trial number>, "hp":
{...}}, ...]}`: every member shares member 0's batch size b (the others are
asked with it enqueued as a fixed parameter). The `points` (the seed point
first) are handed out in order as member 0, and as later members of a pack
whose batch size they match (or do not set). The pack reports each member's
metrics under `members/<member id>/<key>` (nested or flattened); at the end
each member is told its own value(s) (its constraint set first, as above):
COMPLETE when all are finite, else FAIL (an error, a diverged or a missing
member). Its state (points left, packs handed out) is in `__dict__`, which
`OptunaSearch.save` pickles. Imports Ray: load it lazily (driver only).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import optuna
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from search.config.ranking import CONSTRAINT_METRICS, shortfall
from search.sweep._compat import optuna_trial
from trainable.names import MEMBERS, member_metrics, reported

__all__ = ["BATCH_SIZE", "FinalScoreOptunaSearch", "PackSearch"]

logger = logging.getLogger(__name__)

SHORTFALL = "shortfall"
BATCH_SIZE = "batch_size"  # the pack's config key of the batch size all its members train with


class FinalScoreOptunaSearch(OptunaSearch):
    def __init__(self, *args: Any, constraints: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._constraints = constraints or {}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        trial = optuna_trial(self, trial_id)
        if self._constraints and result and trial is not None:
            values = {m: result.get(reported(m)) for m in CONSTRAINT_METRICS.values()}
            trial.set_constraint(SHORTFALL, shortfall(values, self._constraints))
        super().on_trial_complete(trial_id, result, error)


def _finite(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


class PackSearch(FinalScoreOptunaSearch):
    """Suggests packs of configurations, one Optuna trial each (see the module's docstring)."""

    def __init__(
        self,
        space: Callable[[Any], Any],
        *,
        metric: str | list[str],
        mode: str | list[str],
        sampler: optuna.samplers.BaseSampler | None,
        study_name: str | None,
        storage: optuna.storages.BaseStorage | None,
        constraints: dict[str, float] | None = None,
        points: list[dict[str, Any]] | None = None,
        pack_sizes: list[int],
        batch_key: str = BATCH_SIZE,
    ) -> None:
        if any(size < 1 for size in pack_sizes):
            raise ValueError(f"every pack size must be >= 1, got {pack_sizes}")
        super().__init__(
            space,
            metric=metric,
            mode=mode,
            sampler=sampler,
            study_name=study_name,
            storage=storage,
            constraints=constraints,
        )
        self._pack_sizes = list(pack_sizes)
        self._batch_key = batch_key
        self._points_left = [dict(p) for p in points or []]
        self._packs: dict[str, list[tuple[str, optuna.Trial]]] = {}
        self._pack_configs: dict[str, dict[str, Any]] = {}
        study = self._ot_study
        if study is not None and study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            logger.warning(
                "The study %r has waiting (enqueued) trials: `ask` pops them before the packs' own, "
                "so a pack's members may not share a batch size.",
                study.study_name,
            )

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if trial_id in self._pack_configs:
            return copy.deepcopy(self._pack_configs[trial_id])
        if len(self._packs) >= len(self._pack_sizes):
            return Searcher.FINISHED  # type: ignore[return-value]
        if self._ot_study is None or not callable(self._space):
            raise RuntimeError(f"{type(self).__name__} needs a define-by-run space, a metric and a mode")
        size = self._pack_sizes[len(self._packs)]
        asked: list[tuple[str, optuna.Trial]] = []
        members: list[dict[str, Any]] = []
        batch: Any = None
        try:
            for m in range(size):
                if m == 0:
                    enqueue = self._points_left.pop(0) if self._points_left else None
                else:
                    enqueue = {self._batch_key: batch}
                    for i, point in enumerate(self._points_left):
                        if point.get(self._batch_key, batch) == batch:
                            enqueue = {**self._points_left.pop(i), self._batch_key: batch}
                            break
                if enqueue is not None:
                    self._ot_study.enqueue_trial(enqueue)
                trial = self._ot_study.ask()
                member_id = f"{trial_id}-{m}"
                asked.append((member_id, trial))
                hp = self._suggest_from_define_by_run_func(self._space, trial)
                if m == 0:
                    if self._batch_key not in hp:
                        raise ValueError(f"the space samples no {self._batch_key!r}: a pack needs one batch size")
                    batch = hp[self._batch_key]
                members.append({"id": member_id, "number": trial.number, "hp": hp})
        except Exception:
            for _, trial in asked:  # not left RUNNING in the study
                self._tell(trial, None)
            raise
        config = {BATCH_SIZE: batch, MEMBERS: members}
        self._packs[trial_id] = asked
        self._pack_configs[trial_id] = config
        return copy.deepcopy(config)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._packs:
            if trial_id not in self._completed_trials:
                logger.warning("PackSearch: completion of unknown trial %s ignored", trial_id)
            return
        self._completed_trials.add(trial_id)
        found = {} if error else member_metrics(result)
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        for member_id, trial in self._packs[trial_id]:
            member = found.get(member_id)
            values: list[Any] | None = None if member is None else [member.get(m) for m in metrics]
            if values is None or not all(_finite(v) for v in values):
                self._tell(trial, None)
                continue
            if self._constraints and member is not None:
                gaps = {m: member.get(reported(m)) for m in CONSTRAINT_METRICS.values()}
                try:
                    trial.set_constraint(SHORTFALL, shortfall(gaps, self._constraints))
                except Exception as exc:
                    logger.warning("PackSearch: constraint of member %s not set: %s", member_id, exc)
            told = [float(v) for v in values]
            self._tell(trial, told if isinstance(self.metric, list) else told[0])

    def _tell(self, trial: optuna.Trial, values: float | list[float] | None) -> None:
        """COMPLETE with `values`, or FAIL without; a failure to tell is logged, never raised."""
        state = optuna.trial.TrialState.FAIL if values is None else optuna.trial.TrialState.COMPLETE
        try:
            assert self._ot_study is not None
            self._ot_study.tell(trial, values, state=state)
        except Exception as exc:
            logger.warning("PackSearch: Optuna trial %s not told %s: %s", trial.number, state.name, exc)
