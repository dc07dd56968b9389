"""PackSearch: packs of configurations in one Tune trial, each its own Optuna trial, told its own value."""

import math

import optuna
import pytest
from ray.tune.search import Searcher

from search.config.load import load_config
from search.config.space import define_by_run, seed_point
from search.sweep.optuna_searcher import PackSearch

AUROC = "best_val_auroc"
State = optuna.trial.TrialState


@pytest.fixture(autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def space():
    return load_config().space


def make(space, pack_sizes, points=None, metric=AUROC, mode="max", **kwargs):
    return PackSearch(
        define_by_run(space),
        metric=metric,
        mode=mode,
        sampler=optuna.samplers.TPESampler(seed=0),
        study_name="packs",
        storage=optuna.storages.InMemoryStorage(),
        points=points,
        pack_sizes=pack_sizes,
        **kwargs,
    )


def states(searcher):
    return {t.number: t for t in searcher._ot_study.get_trials(deepcopy=False)}


def nested(config, values):
    return {"members": {m["id"]: {AUROC: v} for m, v in zip(config["members"], values)}}


def test_packs_have_their_sizes_one_batch_size_unique_ids_then_finished(space):
    searcher = make(space, [3, 1, 2])
    configs = [searcher.suggest(f"t{i}") for i in range(3)]
    assert [len(c["members"]) for c in configs] == [3, 1, 2]
    for config in configs:
        assert {m["hp"]["batch_size"] for m in config["members"]} == {config["batch_size"]}
    ids = [m["id"] for c in configs for m in c["members"]]
    numbers = [m["number"] for c in configs for m in c["members"]]
    assert len(set(ids)) == len(ids) == 6 and ids[:3] == ["t0-0", "t0-1", "t0-2"]
    assert sorted(numbers) == list(range(6))
    assert searcher.suggest("t3") == Searcher.FINISHED
    assert searcher.suggest("t0") == configs[0]  # the same trial id: the same config, nothing asked
    assert len(states(searcher)) == 6


def test_seed_point_is_member_0_of_pack_0(space):
    point = seed_point(space)
    searcher = make(space, [2], points=[point])
    config = searcher.suggest("t0")
    first = config["members"][0]
    assert first["hp"] == point and states(searcher)[first["number"]].params == point
    assert config["batch_size"] == point["batch_size"] == config["members"][1]["hp"]["batch_size"]


def test_each_member_is_told_its_own_value(space):
    searcher = make(space, [3])
    config = searcher.suggest("t0")
    searcher.on_trial_result("t0", nested(config, [0.1, 0.2, 0.3]))  # ignored
    searcher.on_trial_complete("t0", nested(config, [0.7, 0.8, 0.9]))
    trials = states(searcher)
    for m, value in zip(config["members"], [0.7, 0.8, 0.9]):
        assert trials[m["number"]].state == State.COMPLETE and trials[m["number"]].value == value
    searcher.on_trial_complete("t0", nested(config, [0.0, 0.0, 0.0]))  # a second completion: ignored
    assert [states(searcher)[m["number"]].value for m in config["members"]] == [0.7, 0.8, 0.9]


def test_flattened_result_nan_and_missing_members(space):
    searcher = make(space, [3])
    config = searcher.suggest("t0")
    a, b = (m["id"] for m in config["members"][:2])
    result = {f"members/{a}/{AUROC}": 0.75, f"members/{a}/epoch": 4, f"members/{b}/{AUROC}": math.nan, "done": True}
    searcher.on_trial_complete("t0", result)
    trials = states(searcher)
    first, diverged, missing = (trials[m["number"]] for m in config["members"])
    assert first.state == State.COMPLETE and first.value == 0.75
    assert diverged.state == State.FAIL and diverged.values is None
    assert missing.state == State.FAIL


def test_an_errored_pack_fails_every_member(space):
    searcher = make(space, [2])
    config = searcher.suggest("t0")
    searcher.on_trial_complete("t0", None, error=True)
    assert {states(searcher)[m["number"]].state for m in config["members"]} == {State.FAIL}
    searcher.on_trial_complete("unknown")  # never raises


def test_points_share_a_pack_only_when_their_batch_sizes_match(space):
    base = seed_point(space)
    a, b, c = ({**base, "batch_size": bs, "dropout": d} for bs, d in [(32, 0.1), (64, 0.2), (32, 0.3)])
    partial = {"optimizer": "sgd"}  # no batch size: joins any pack
    searcher = make(space, [3, 2], points=[a, b, c, partial])
    first, second = searcher.suggest("t0"), searcher.suggest("t1")
    hps = [m["hp"] for m in first["members"]]
    assert hps[:2] == [a, c] and hps[2]["optimizer"] == "sgd" and hps[2]["batch_size"] == 32
    assert first["batch_size"] == 32 and second["batch_size"] == 64
    assert second["members"][0]["hp"] == b and second["members"][1]["hp"]["batch_size"] == 64
    assert searcher._points_left == []


def test_save_and_restore_keep_the_packs_and_points(space, tmp_path):
    points = [{**seed_point(space), "batch_size": bs} for bs in (16, 128)]
    searcher = make(space, [2, 2, 1], points=points)
    first = searcher.suggest("t0")
    searcher.save(str(tmp_path / "searcher.pkl"))

    fresh = make(space, [2, 2, 1], points=points)
    fresh.restore(str(tmp_path / "searcher.pkl"))
    assert fresh.suggest("t0") == first
    second = fresh.suggest("t1")
    assert second["members"][0]["hp"] == points[1] and second["batch_size"] == 128
    assert len(fresh.suggest("t2")["members"]) == 1 and fresh.suggest("t3") == Searcher.FINISHED
    fresh.on_trial_complete("t0", nested(first, [0.6, 0.5]))  # a pack handed out before the save
    assert [states(fresh)[m["number"]].value for m in first["members"]] == [0.6, 0.5]


def test_several_objectives_tell_value_lists(space):
    searcher = make(space, [2], metric=[AUROC, "n_params"], mode=["max", "min"])
    config = searcher.suggest("t0")
    a, b = (m["id"] for m in config["members"])
    searcher.on_trial_complete("t0", {"members": {a: {AUROC: 0.9, "n_params": 1000}, b: {AUROC: 0.8}}})
    first, second = (states(searcher)[m["number"]] for m in config["members"])
    assert first.state == State.COMPLETE and first.values == [0.9, 1000.0]
    assert second.state == State.FAIL  # an objective missing


def test_constraints_are_set_before_telling(space):
    searcher = make(space, [2], constraints={"min_sensitivity": 0.9})
    config = searcher.suggest("t0")
    a, b = (m["id"] for m in config["members"])
    searcher.on_trial_complete(
        "t0",
        {"members": {a: {AUROC: 0.9, "best_val_sensitivity": 0.8}, b: {AUROC: 0.8, "best_val_sensitivity": 0.95}}},
    )
    first, second = (states(searcher)[m["number"]] for m in config["members"])
    assert first.constraints["shortfall"] == pytest.approx(0.1) and second.constraints["shortfall"] < 0
    assert first.state == second.state == State.COMPLETE


def test_a_point_outside_the_space_raises_and_leaves_no_trial_running(space):
    searcher = make(space, [2], points=[seed_point(space), {"batch_size": 32, "optimizer": "lbfgs"}])
    with pytest.raises(ValueError):
        searcher.suggest("t0")
    assert {t.state for t in states(searcher).values()} == {State.FAIL}
