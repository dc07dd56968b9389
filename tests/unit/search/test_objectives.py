"""Several objectives: Pareto ranks, the constrained operating point, the leaderboard's order."""

import numpy as np
import pytest

from search.config.ranking import Ranking, shortfall
from search.review.leaderboard import Status, build_leaderboard
from trainable.stats.pareto import pareto_ranks


def test_pareto_rank_1_is_the_front_optuna_finds():
    """Checked against Optuna's own non-dominated set (`study.best_trials`) on random points."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(3)
    for modes in (["minimize", "minimize"], ["minimize", "maximize"], ["minimize", "minimize", "maximize"]):
        values = rng.integers(0, 12, size=(60, len(modes))).astype(float)  # ties included
        study = optuna.create_study(directions=modes)
        for v in values:
            study.add_trial(optuna.trial.create_trial(values=list(v), params={}, distributions={}))
        ranks = pareto_ranks(values, [m[:3] for m in modes])
        assert {t.number for t in study.best_trials} == set(np.flatnonzero(ranks == 1))
        for r in range(2, ranks.max() + 1):  # every later front is the front once the earlier ones are gone
            rest = np.flatnonzero(ranks >= r)
            again = pareto_ranks(values[rest], [m[:3] for m in modes])
            assert set(rest[again == 1]) == set(np.flatnonzero(ranks == r))


def _row(tid, loss, n_params, sens=0.95, status="completed"):
    return {
        "trial_id": tid,
        "status": status,
        "val_loss": loss,
        "val_auroc": 0.9,
        "val_accuracy": 0.9,
        "n_params": n_params,
        "val_sensitivity": sens,
        "val_specificity": 0.9,
        "checkpoint": f"/c/{tid}",
    }


def test_the_leaderboard_ranks_by_front_then_first_objective_and_marks_infeasible_trials():
    rows = [
        _row("a", 0.10, 1000),
        _row("b", 0.20, 100),
        _row("c", 0.15, 2000),
        _row("d", 0.30, 50),
        _row("e", 0.05, 10, sens=0.5),
        _row("f", None, None, status="error"),
    ]
    ranking = Ranking("val_loss", (("val_loss", "min"), ("n_params", "min")), {"min_sensitivity": 0.9})
    board = build_leaderboard(rows, ranking)
    assert list(board["trial_id"]) == ["a", "b", "d", "c", "e", "f"]
    assert list(board["pareto_rank"].iloc[:4]) == [1, 1, 1, 2] and board["pareto_rank"].iloc[4:].isna().all()
    assert board.loc[board["trial_id"] == "e", "status"].item() == Status.INFEASIBLE  # dominates all, misses the floor
    single = build_leaderboard(rows[:4], "val_loss")  # one metric: as before, no front
    assert list(single["trial_id"]) == ["a", "c", "b", "d"] and single["pareto_rank"].isna().all()


def test_a_shortfall_is_positive_only_below_a_floor():
    assert shortfall({"val_sensitivity": 0.95}, {"min_sensitivity": 0.9}) == pytest.approx(-0.05)
    assert shortfall(
        {"val_sensitivity": 0.95, "val_specificity": 0.7}, {"min_sensitivity": 0.9, "min_specificity": 0.8}
    ) == pytest.approx(0.1)
    assert shortfall({"val_sensitivity": float("nan")}, {"min_sensitivity": 0.9}) == 1.0
