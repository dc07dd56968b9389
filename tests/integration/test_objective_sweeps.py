"""Several objectives on real sweeps: the front exported, any other on request, the floor respected."""

import json

import optuna
import pandas as pd
import pytest

from search.export.export import export_trial
from search.review.leaderboard import Status
from search.review.report import write_report
from search.sweep.driver import run_sweep

pytestmark = pytest.mark.slow

TWO = [{"metric": "val_loss", "mode": "min"}, {"metric": "n_params", "mode": "min"}]


def test_a_two_objective_sweep_exports_the_fronts_lowest_loss_and_any_other_on_request(ray_session, tiny, tmp_path):
    cfg = tiny(
        name="mo",
        **{
            "search.trials": 6,
            "search.objectives": TWO,
            "search.cv.folds": 0,
            "search.constraints": {"min_sensitivity": 0.5},
            "export.n_boot": 100,
        },
    )
    outcome = run_sweep(cfg)
    out = outcome.out_dir
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    assert len(board) == 6 and board["trial_id"].is_unique
    assert (board["latency_ms"] > 0).all() and (board["n_params"] > 0).all()
    assert board["val_sensitivity"].between(0, 1).all()
    ranked = board[board["pareto_rank"].notna()]  # all but a trial below the (low) floor
    front = board[board["pareto_rank"] == 1]
    assert list(ranked.index) == list(range(len(ranked)))  # the ranked trials first...
    assert list(ranked["pareto_rank"]) == sorted(ranked["pareto_rank"])  # ...by front...
    assert list(front["val_loss"]) == sorted(front["val_loss"])  # ...then by the first objective
    for _, r in front.iterrows():  # no trial dominates a front trial
        others = ranked.drop(index=r.name)
        assert not (
            (others["val_loss"] <= r["val_loss"])
            & (others["n_params"] <= r["n_params"])
            & ((others["val_loss"] < r["val_loss"]) | (others["n_params"] < r["n_params"]))
        ).any()

    study = optuna.load_study(study_name="mo", storage=f"sqlite:///{out / 'study.db'}")
    told = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.directions) == 2 and len(told) == 6
    # Optuna knows each trial's constraint: the floor minus the trial's validation sensitivity
    assert sorted(t.constraints["shortfall"] for t in told) == pytest.approx(
        sorted(0.5 - board["val_sensitivity"]), abs=1e-5
    )
    card = json.loads((out / "best" / "model_card.json").read_text())
    assert card["trial_id"] == front.iloc[0]["trial_id"]  # the front's lowest loss
    assert [o["metric"] for o in card["objectives"]] == ["val_loss", "n_params"] and card["pareto_rank"] == 1
    assert card["constraints"]["min_sensitivity"]["value"] >= 0.5
    html = (out / "report.html").read_text()
    assert "Pareto front" in html and f"{card['trial_id']} (exported)" in html

    if len(front) > 1:  # any other trial on request, its card with every objective
        other = export_trial(out, front.iloc[-1]["trial_id"], tmp_path / "small", None, reuse_test=True)
        assert other.objectives is not None and other.objectives[1]["value"] == front.iloc[-1]["n_params"]
    write_report(out)


def test_trials_below_the_floor_are_infeasible_and_never_exported_by_default(ray_session, tiny):
    cfg = tiny(
        name="floor",
        **{
            "search.trials": 2,
            "train.max_epochs": 1,
            "search.cv.folds": 0,
            "search.constraints": {"min_specificity": 1.0},
            "export.n_boot": 100,
        },
    )
    outcome = run_sweep(cfg)
    board = pd.read_csv(outcome.out_dir / "leaderboard.csv", dtype={"trial_id": str})
    infeasible = board["val_specificity"] < 1.0
    assert (board.loc[infeasible, "status"] == Status.INFEASIBLE).all()
    if infeasible.all():
        assert outcome.card is None and not (outcome.out_dir / "best").exists()
    else:
        assert outcome.card.trial_id in set(board.loc[~infeasible, "trial_id"])
