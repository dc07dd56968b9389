"""`WindowTPESampler`: plain TPE up to its window, then TPE on the best trials and the most recent ones."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from search.sweep.window_tpe import WindowTPESampler


def _told(sampler: Any, values: list[float], infeasible: frozenset[int] = frozenset()) -> optuna.Study:
    """A study whose trials sampled x and were told `values` (those numbered in `infeasible` violate a
    constraint)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    for value in values:
        trial = study.ask()
        trial.suggest_float("x", -1, 1)
        trial.set_constraint("c", 1.0 if trial.number in infeasible else -1.0)
        study.tell(trial, value)
    return study


def test_below_its_window_it_samples_as_plain_tpe():
    values = [((n * 7919) % 101) / 101 for n in range(30)]
    windowed = _told(WindowTPESampler(window=40, best=5, seed=3, n_startup_trials=5), values)
    plain = _told(optuna.samplers.TPESampler(seed=3, n_startup_trials=5), values)
    assert [t.params for t in windowed.trials] == [t.params for t in plain.trials]


def test_past_its_window_it_models_the_best_feasible_trials_and_the_most_recent_ones():
    values = [((n * 7919) % 101) / 101 for n in range(60)]  # a permutation-like spread of values
    infeasible = frozenset({min(range(60), key=values.__getitem__)})  # the lowest value misses its constraint
    study = _told(WindowTPESampler(window=20, best=5, seed=0, n_startup_trials=5), values, infeasible)
    running = study.ask()

    view = study.sampler._view(study)
    kept = view._get_trials(deepcopy=False)

    finished = [t for t in kept if t.state == optuna.trial.TrialState.COMPLETE]
    feasible_best = sorted((n for n in range(60) if n not in infeasible), key=values.__getitem__)[:5]
    assert {t.number for t in finished} == set(feasible_best) | set(range(40, 60))
    assert running.number in {t.number for t in kept}  # unfinished trials are all kept
    assert len(view._get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) == len(finished)
    assert -1 <= running.suggest_float("x", -1, 1) <= 1  # and TPE samples from the view


def test_a_multi_objective_study_is_never_windowed():
    sampler = WindowTPESampler(window=2, best=1, seed=0, n_startup_trials=2)
    study = optuna.create_study(sampler=sampler, directions=["minimize", "minimize"])
    for n in range(8):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, [n, -n])
    assert sampler._view(study) is study


def test_a_window_must_hold_a_trial():
    with pytest.raises(ValueError, match="window and best must be >= 1"):
        WindowTPESampler(window=0)
