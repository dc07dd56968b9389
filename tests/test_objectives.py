"""Several objectives: Pareto ranks, the constrained operating point, the leaderboard, export and report."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import HPSEARCH, ROOT, tiny_overrides
from search.config import load_config
from search.leaderboard import Status, build_leaderboard
from search.objectives import Ranking, pareto_ranks, shortfall

TWO = [{"metric": "val_loss", "mode": "min"}, {"metric": "n_params", "mode": "min"}]


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
    return {"trial_id": tid, "status": status, "val_loss": loss, "val_auroc": 0.9, "val_accuracy": 0.9,
            "n_params": n_params, "val_sensitivity": sens, "val_specificity": 0.9, "checkpoint": f"/c/{tid}"}


def test_the_leaderboard_ranks_by_front_then_first_objective_and_marks_infeasible_trials():
    rows = [_row("a", 0.10, 1000), _row("b", 0.20, 100), _row("c", 0.15, 2000), _row("d", 0.30, 50),
            _row("e", 0.05, 10, sens=0.5), _row("f", None, None, status="error")]
    ranking = Ranking("val_loss", (("val_loss", "min"), ("n_params", "min")), {"min_sensitivity": 0.9})
    board = build_leaderboard(rows, ranking)
    assert list(board["trial_id"]) == ["a", "b", "d", "c", "e", "f"]
    assert list(board["pareto_rank"].iloc[:4]) == [1, 1, 1, 2] and board["pareto_rank"].iloc[4:].isna().all()
    assert board.loc[board["trial_id"] == "e", "status"].item() == Status.INFEASIBLE  # dominates all, misses the floor
    single = build_leaderboard(rows[:4], "val_loss")  # one metric: as before, no front
    assert list(single["trial_id"]) == ["a", "c", "b", "d"] and single["pareto_rank"].isna().all()


def test_a_shortfall_is_positive_only_below_a_floor():
    assert shortfall({"val_sensitivity": 0.95}, {"min_sensitivity": 0.9}) == pytest.approx(-0.05)
    assert shortfall({"val_sensitivity": 0.95, "val_specificity": 0.7},
                     {"min_sensitivity": 0.9, "min_specificity": 0.8}) == pytest.approx(0.1)
    assert shortfall({"val_sensitivity": float("nan")}, {"min_sensitivity": 0.9}) == 1.0


@pytest.mark.parametrize("objectives, message", [
    ([{"metric": "val_loss", "mode": "max"}, TWO[1]], "`search.objectives.0`: val_loss is optimised with mode min, got max"),
    ([TWO[0], TWO[0]], "`search`: objectives must name distinct metrics, got val_loss, val_loss"),
    ([{"metric": "size", "mode": "min"}, TWO[1]], "`search.objectives.0.metric`: Input should be"),
])
def test_bad_objectives_are_refused_in_one_line(tmp_path, objectives, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"search": {"objectives": objectives}}))
    done = subprocess.run([*HPSEARCH, "run", str(config), "--results-dir", str(tmp_path / "r")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr and not (tmp_path / "r").exists()


def test_objectives_replace_the_metric():
    cfg = load_config(None, {"search.metric": "val_accuracy",
                             "search.objectives": [{"metric": "n_params", "mode": "min"},
                                                   {"metric": "val_auroc", "mode": "max"}]})
    assert cfg.search.metric == "val_auroc" and cfg.search.ranking.multi  # the best epoch: by val_auroc
    assert load_config(None, {}).search.ranking == Ranking("val_loss")


@pytest.mark.slow
def test_a_two_objective_sweep_exports_the_fronts_lowest_loss_and_any_other_on_request(ray_session, tmp_path):
    from search.export import export_trial
    from search.report import write_report

    cfg = load_config(None, tiny_overrides(tmp_path, name="mo", **{
        "search.trials": 6, "search.objectives": TWO, "search.cv.folds": 0,
        "search.constraints": {"min_sensitivity": 0.5}, "export.n_boot": 100}))
    from search.driver import run_sweep

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
        assert not ((others["val_loss"] <= r["val_loss"]) & (others["n_params"] <= r["n_params"])
                    & ((others["val_loss"] < r["val_loss"]) | (others["n_params"] < r["n_params"]))).any()

    import optuna

    study = optuna.load_study(study_name="mo", storage=f"sqlite:///{out / 'study.db'}")
    told = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.directions) == 2 and len(told) == 6
    # Optuna knows each trial's constraint: the floor minus the trial's validation sensitivity
    assert sorted(t.constraints["shortfall"] for t in told) == pytest.approx(sorted(0.5 - board["val_sensitivity"]),
                                                                               abs=1e-5)
    card = json.loads((out / "best" / "model_card.json").read_text())
    assert card["trial_id"] == front.iloc[0]["trial_id"]  # the front's lowest loss
    assert [o["metric"] for o in card["objectives"]] == ["val_loss", "n_params"] and card["pareto_rank"] == 1
    assert card["constraints"]["min_sensitivity"]["value"] >= 0.5
    html = (out / "report.html").read_text()
    assert "Pareto front" in html and f"{card['trial_id']} (exported)" in html

    if len(front) > 1:  # any other trial on request, its card with every objective
        other = export_trial(out, front.iloc[-1]["trial_id"], tmp_path / "small", reuse_test=True)
        assert other["objectives"][1]["value"] == front.iloc[-1]["n_params"]
    write_report(out)


@pytest.mark.slow
def test_trials_below_the_floor_are_infeasible_and_never_exported_by_default(ray_session, tmp_path):
    cfg = load_config(None, tiny_overrides(tmp_path, name="floor", **{
        "search.trials": 2, "train.max_epochs": 1, "search.cv.folds": 0,
        "search.constraints": {"min_specificity": 1.0}, "export.n_boot": 100}))
    from search.driver import run_sweep

    outcome = run_sweep(cfg)
    board = pd.read_csv(outcome.out_dir / "leaderboard.csv", dtype={"trial_id": str})
    infeasible = board["val_specificity"] < 1.0
    assert (board.loc[infeasible, "status"] == Status.INFEASIBLE).all()
    if infeasible.all():
        assert outcome.card is None and not (outcome.out_dir / "best").exists()
    else:
        assert outcome.card["trial_id"] in set(board.loc[~infeasible, "trial_id"])
