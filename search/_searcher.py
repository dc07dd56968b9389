"""The Optuna searcher as hpsearch uses it under Ray Tune.

`OptunaSearch` forwards every epoch's result to Optuna as an intermediate
value (`trial.report`), which only Optuna's pruners read. Under Ray Tune,
early stopping is ASHA's job, so those per-epoch writes to the study's SQLite
file are work on the driver, which shares the CPUs with the trials, for
nothing. This subclass keeps Optuna's view to what it samples from: each
trial's final score. Imports Ray: load it lazily (driver only).
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch

__all__ = ["FinalScoreOptunaSearch"]


class FinalScoreOptunaSearch(OptunaSearch):
    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None
