"""The search space: sampled define-by-run, one width per layer; the article's model projected into it."""

import optuna
import pytest

from search.config.load import load_config
from search.config.space import HYPERPARAMETERS, define_by_run, describe, seed_point


@pytest.fixture
def space():
    return load_config().space


def test_define_by_run_samples_one_width_per_layer_within_ranges(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fn = define_by_run(space)
    for _ in range(30):
        trial = study.ask()
        fn(trial)
        p = trial.params
        assert 1 <= p["n_layers"] <= 4
        widths = [p[f"units_{i}"] for i in range(p["n_layers"])]
        assert all(8 <= w <= 512 for w in widths)
        assert not any(f"units_{i}" in p for i in range(p["n_layers"], 5))
        assert 1e-4 <= p["learning_rate"] <= 3e-2
        assert p["batch_size"] in space.batch_size
        assert p["optimizer"] in space.optimizer
        study.tell(trial, 0.5)


def test_seed_point_is_the_article_model_and_is_enqueued_first(space):
    point = seed_point(space)
    assert point["n_layers"] == 2 and point["units_0"] == 128 and point["units_1"] == 64
    assert point["activation"] == "relu" and point["optimizer"] == "adam"
    assert point["learning_rate"] == 1e-3 and point["batch_size"] == 32 and point["dropout"] == 0.0
    study = optuna.create_study()
    study.enqueue_trial(point)
    trial = study.ask()
    define_by_run(space)(trial)
    assert trial.params == point


def test_seed_point_is_projected_into_a_narrow_space():
    cfg = load_config(None, {"space.units": {"low": 8, "high": 32}, "space.optimizer": ["sgd"]})
    point = seed_point(cfg.space)
    assert point["units_0"] == 32 and point["units_1"] == 32
    assert point["optimizer"] == "sgd"


def test_define_by_run_is_picklable(space):
    import pickle

    assert callable(pickle.loads(pickle.dumps(define_by_run(space))))


def test_every_hyperparameter_is_sampled_described_and_in_the_seed_point(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    define_by_run(space)(trial)
    described = describe(trial.params)
    assert list(described) == list(HYPERPARAMETERS) and None not in described.values()
    assert len(described["units"]) == trial.params["n_layers"]
    point = seed_point(space)
    assert set(describe(point)) == set(HYPERPARAMETERS) and None not in describe(point).values()
