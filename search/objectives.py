"""What a sweep ranks by: one metric, or several objectives (a Pareto front), and the operating-point constraint.

Contract: `OBJECTIVE_MODES` owns the direction of every metric a sweep may
optimise: the validation metrics (`trainable.metrics.METRIC_MODES`), the
model's size `n_params` and `latency_ms` (median milliseconds to predict 1,000
rows, measured in the trial). `reported(metric)` is the key a trial reports it
under (`best_val_loss`: the best epoch's; `n_params`). `Ranking` is what the
leaderboard needs: the single `metric` (the best epoch's choice and the
ties), the `objectives` ((metric, mode) pairs, empty for a single-objective
sweep) and the `constraints` (`{"min_sensitivity": 0.9}`, at the validation-
chosen threshold). `pareto_ranks(values, modes)` is the non-dominated sorting
of NSGA-II (Deb et al. 2002): rank 1 is the front no point dominates, rank 2
the front once rank 1 is removed, and so on. `shortfall(row, constraints)` is
how far a trial is from meeting the constraints (<= 0: feasible), the value
Optuna is given as the trial's constraint (`search._searcher`). Imports numpy only: safe on the CLI path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from trainable.metrics import METRIC_MODES

__all__ = ["CONSTRAINT_METRICS", "OBJECTIVE_MODES", "Ranking", "pareto_ranks", "reported", "shortfall"]

OBJECTIVE_MODES = {**METRIC_MODES, "n_params": "min", "latency_ms": "min"}
# constraint key -> the validation metric it bounds from below (at the validation-chosen threshold)
CONSTRAINT_METRICS = {"min_sensitivity": "val_sensitivity", "min_specificity": "val_specificity"}


def reported(metric: str) -> str:
    """The key a trial reports `metric` under: the best epoch's for a validation metric."""
    return f"best_{metric}" if metric.startswith("val_") else metric


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


def pareto_ranks(values: np.ndarray, modes: list[str]) -> np.ndarray:
    """Non-dominated sorting (NSGA-II's fronts, Deb et al. 2002) of the rows of `values` (n x objectives):
    1 for the front, 2 for the next... A point dominates another when it is no worse on every objective
    and better on one. O(n^2) comparisons: fine for the hundreds of trials of a sweep."""
    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    v = np.asarray(values, dtype=float) * signs  # every objective minimised
    no_worse = (v[:, None, :] <= v[None, :, :]).all(axis=2)
    better = (v[:, None, :] < v[None, :, :]).any(axis=2)
    dominates = no_worse & better  # dominates[i, j]: i dominates j
    ranks = np.zeros(len(v), dtype=int)
    left = np.ones(len(v), dtype=bool)
    rank = 0
    while left.any():
        rank += 1
        front = left & ~(dominates & left[:, None]).any(axis=0)
        ranks[front] = rank
        left &= ~front
    return ranks


def shortfall(values: Mapping[str, Any], constraints: Mapping[str, float]) -> float:
    """How far a trial is from meeting every constraint, as Optuna takes a constraint: the largest
    `bound - value` (<= 0: feasible); a missing value counts as 1 (infeasible)."""
    gaps = []
    for key, bound in constraints.items():
        value = values.get(CONSTRAINT_METRICS[key])
        gaps.append(1.0 if value is None or not np.isfinite(float(value)) else bound - float(value))
    return max(gaps, default=-1.0)
