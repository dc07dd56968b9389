"""A reused trial worker must not keep what earlier trials traced.

Keras + TensorFlow keep every traced graph of a finished model alive; the
trainable releases them between trials (`trainable.runtime.tf.reset_between_trials`).
These tests train real models in this process, several in a row, as a reused
Ray worker does.
"""

from __future__ import annotations

import pytest
from conftest import hyperparameters

pytestmark = pytest.mark.slow


def _trial(data, seed: int, optimizer: str) -> None:
    from trainable.trial.settings import TrialSettings
    from trainable.trial.train import fit_and_report, pack_config

    hp = hyperparameters(
        n_layers=2,
        units_0=16,
        units_1=8,
        activation="relu",
        dropout=0.1,
        l2=0.0,
        learning_rate=1e-3,
        optimizer=optimizer,
        batch_size=64,
    )
    settings = TrialSettings(
        max_epochs=2,
        metric="val_auroc",
        seed=seed,
        cpus=1,
        class_weight=None,
        checkpoint_epochs=None,
        operating_point=None,
        rungs=None,
    )
    fit_and_report(pack_config([hp]), settings, data, lambda metrics, checkpoint: None)


def test_graphs_of_finished_trials_are_released():
    from search.config.load import load_config
    from trainable.runtime.tf import configure_tensorflow, leftovers, release_graphs

    configure_tensorflow(1)
    data = load_config().load_data()

    _trial(data, 0, "adam")
    after_one = leftovers()
    assert after_one[0] > 0 and after_one[1] > 0  # a trial does trace graphs and functions
    for seed, optimizer in enumerate(["rmsprop", "sgd", "adam"], start=1):
        _trial(data, seed, optimizer)
        # each trial starts by releasing the previous ones: what is left is at
        # most one trial's worth, never a pile of them
        graphs, functions = leftovers()
        assert graphs <= after_one[0] * 1.5 and functions <= after_one[1] * 1.5, (seed, graphs, functions, after_one)
    import keras

    keras.backend.clear_session()
    release_graphs()
    graphs, functions = leftovers()
    assert functions == 0 and graphs <= after_one[0], (graphs, functions, after_one)
