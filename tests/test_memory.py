"""A reused trial worker must not keep what earlier trials traced.

Keras + TensorFlow keep every traced graph of a finished model alive; the
trainable releases them between trials (`trainable.tf_runtime.reset_between_trials`).
These tests train real models in this process, several in a row, as a reused
Ray worker does.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _trial(data, seed: int, optimizer: str) -> None:
    from trainable.settings import TrialSettings
    from trainable.train import fit_and_report

    hp = {"n_layers": 2, "units_0": 16, "units_1": 8, "activation": "relu", "dropout": 0.1, "l2": 0.0,
          "learning_rate": 1e-3, "optimizer": optimizer, "batch_size": 64}
    settings = TrialSettings(max_epochs=2, metric="val_auroc", seed=seed, cpus=1)
    fit_and_report(hp, settings, data, lambda metrics, checkpoint: None)


def test_graphs_of_finished_trials_are_released():
    from search.config import load_config
    from trainable.tf_runtime import configure_tensorflow, leftovers, release_graphs

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


def test_the_datasets_keras_builds_from_arrays_run_without_autotuning():
    """An autotuned tf.data iterator waits for its optimisation thread when destroyed, at the end of a
    trial (0.2-0.6 s on busy CPUs): `configure_tensorflow` turns autotuning off where Keras builds them."""
    import numpy as np

    from trainable.tf_runtime import configure_tensorflow

    configure_tensorflow(1)
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    x, y = np.zeros((10, 3), "float32"), np.arange(10, dtype="float32")
    dataset = ArrayDataAdapter(x, y, batch_size=4, shuffle=True).get_tf_dataset()
    assert dataset.options().autotune.enabled is False
    assert sorted(float(v) for _, batch in dataset for v in batch.numpy()) == list(range(10))  # every row, once
