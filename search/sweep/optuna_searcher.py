"""The Optuna searcher as hpsearch uses it under Ray Tune.

`OptunaSearch` forwards every epoch's result to Optuna as an intermediate
value (`trial.report`), which only Optuna's pruners read. Under Ray Tune,
early stopping is ASHA's job, so those per-epoch writes to the study's SQLite
file are work on the driver, which shares the CPUs with the trials, for
nothing. This subclass keeps Optuna's view to what it samples from: each
trial's final score(s). With `constraints` (`search.constraints`), each
trial's shortfall (`search.config.ranking.shortfall`, <= 0: feasible) is set on
its Optuna trial as its constraint (`Trial.set_constraint`, Optuna 5's
replacement of the samplers' deprecated `constraints_func`) before it is
told: TPE and NSGA-II then sample away from infeasible trials. Imports Ray:
load it lazily (driver only).
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch

from search.config.ranking import CONSTRAINT_METRICS, shortfall
from search.sweep._compat import optuna_trial
from trainable.names import reported

__all__ = ["FinalScoreOptunaSearch"]

SHORTFALL = "shortfall"


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
