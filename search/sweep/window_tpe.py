"""TPE whose cost stops growing with the study: the best trials, and a window of the most recent ones.

Role: Optuna's TPE (Bergstra et al., "Algorithms for Hyper-Parameter
Optimization", NeurIPS 2011; Optuna's multivariate variant, Falkner et al.,
BOHB, ICML 2018) fits its two densities on every finished trial at every ask:
one configuration's ask grows linearly with the study (in memory, on a loaded
2-core machine, ~25 ms at 100 trials and ~400 ms at 2,000:
`benchmarks/tpe_quality.py`), and a large sweep's driver cannot keep up.

Contract: `WindowTPESampler(window=W, best=K, **tpe_options)` is
`optuna.samplers.TPESampler` that, in a single-objective study with more than
W + K finished trials, models only the K best finished trials (feasible ones
first, under `Trial.set_constraint`) and the W most recent other finished
ones; unfinished trials are all kept. With K no smaller than TPE's default
`gamma` cap (25), the "good" density l(x), fit on the best
min(ceil(0.1 n), 25) trials, is fit on the same trials as plain TPE's; only
the "bad" density g(x) is fit on a window (the recent trials, which TPE's
default weights already favour). Below W + K finished trials, and in a
multi-objective study, it is plain TPE. Its cost per ask is then bounded by
W + K trials. It reads Study's private `_get_trials`, `_is_multi_objective`
and `_study_id` (the Optuna version is fenced in `search.sweep._compat.CHECKED`).
Imports Optuna: load it lazily (driver only).
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Container
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["WindowTPESampler"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class _Windowed:
    """The study as the sampler sees it: its trials cut to the window; everything else the study's own."""

    def __init__(self, study: Study, trials: list[FrozenTrial]) -> None:
        self._study, self._trials = study, trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        trials = self._trials if states is None else [t for t in self._trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else list(trials)

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy, states)


def _rank_key(trial: FrozenTrial, direction: StudyDirection) -> tuple[float, float]:
    """Feasible before infeasible (by total violation), then the better value first."""
    violation = sum(max(0.0, float(c)) for c in trial.constraints.values())
    value = trial.values[0] if trial.values else math.inf
    if trial.state != TrialState.COMPLETE or value is None or math.isnan(value):
        return (math.inf, math.inf)
    return (violation, value if direction == StudyDirection.MINIMIZE else -value)


class WindowTPESampler(optuna.samplers.TPESampler):
    def __init__(self, *, window: int, best: int = 25, **options: Any) -> None:
        if window < 1 or best < 1:
            raise ValueError(f"window and best must be >= 1, got {window} and {best}")
        super().__init__(**options)
        self.window, self.best = window, best
        self._chosen: tuple[tuple[int, int, int], set[int]] | None = None  # (the study's state, trials kept)

    def _view(self, study: Study) -> Study:
        """`study`, or the windowed view of it once it has more than `window + best` finished trials (the
        best ones chosen again only when a trial was added or has finished since the last call)."""
        if study._is_multi_objective():
            return study
        trials = study._get_trials(deepcopy=False, use_cache=True)
        finished = [t for t in trials if t.state in _FINISHED]
        if len(finished) <= self.window + self.best:
            return study
        key = (study._study_id, len(trials), len(finished))
        if self._chosen is None or self._chosen[0] != key:
            top = heapq.nsmallest(self.best, finished, key=lambda t: _rank_key(t, study.direction))
            self._chosen = (key, {t.number for t in top} | {t.number for t in finished[-self.window :]})
        chosen = self._chosen[1]
        return _Windowed(study, [t for t in trials if t.state not in _FINISHED or t.number in chosen])  # type: ignore[return-value]

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return super().infer_relative_search_space(self._view(study), trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return super().sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return super().sample_independent(self._view(study), trial, param_name, param_distribution)
