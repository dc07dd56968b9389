"""What a sweep ranks by: one metric, or several objectives (a Pareto front), and the operating-point constraint.

Contract: `Ranking` is what the leaderboard needs: the single `metric` (the
best epoch's choice and the ties), the `objectives` ((metric, mode) pairs,
empty for a single-objective sweep; the directions are
`trainable.names.OBJECTIVE_MODES`') and the `constraints`
(`{"min_sensitivity": 0.9}`, at the validation-chosen threshold);
`CONSTRAINT_METRICS` maps each constraint to the validation metric it bounds
from below. `shortfall(row, constraints)` is how far a trial is from meeting
the constraints (<= 0: feasible), the value Optuna is given as the trial's
constraint (`search.sweep.optuna_searcher`). Imports numpy only: safe on the
CLI path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainable.names import VAL_SENSITIVITY, VAL_SPECIFICITY

__all__ = ["CONSTRAINT_METRICS", "Ranking", "shortfall"]

# constraint key -> the validation metric it bounds from below (at the validation-chosen threshold)
CONSTRAINT_METRICS = {"min_sensitivity": VAL_SENSITIVITY, "min_specificity": VAL_SPECIFICITY}


@dataclass(frozen=True)
class Ranking:
    metric: str  # the validation metric the best epoch is chosen by
    objectives: tuple[tuple[str, str], ...] = ()  # (metric, mode); empty: rank by `metric` alone
    constraints: Mapping[str, float] = field(default_factory=dict)

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    def describe(self) -> str:
        """What the rows are ranked by, for people."""
        if not self.multi:
            return self.metric
        return f"Pareto front of {', '.join(m for m, _ in self.objectives)}, then {self.objectives[0][0]}"


def shortfall(values: Mapping[str, Any], constraints: Mapping[str, float]) -> float:
    """How far a trial is from meeting every constraint, as Optuna takes a constraint: the largest
    `bound - value` (<= 0: feasible); a missing value counts as 1 (infeasible)."""
    gaps = []
    for key, bound in constraints.items():
        value = values.get(CONSTRAINT_METRICS[key])
        gaps.append(1.0 if value is None or not np.isfinite(float(value)) else bound - float(value))
    return max(gaps, default=-1.0)
