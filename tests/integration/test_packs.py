"""Packs: several configurations trained as one Keras model, each exactly as it would train alone.

Real TensorFlow, in this process, no Ray: a pack's members are compared with
the same configurations trained alone (same seeds, same batches); members
stopped early or diverging are frozen while the others train on; a member's
checkpointed model (what `export --trial` exports) predicts what its branch
of the pack predicted.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import hyperparameters, load

pytestmark = pytest.mark.slow

MIXED = [
    hyperparameters(optimizer="adam", dropout=0.2, l2=1e-4),
    hyperparameters(optimizer="sgd", n_layers=1, units_0=16, learning_rate=0.01),
    hyperparameters(optimizer="rmsprop", n_layers=3, units_0=8, units_1=8, units_2=4, activation="tanh"),
]


def _settings(max_epochs: int):
    from search.config.load import load_config
    from search.sweep.tuner import trial_settings

    cfg = load_config(None, {"train.max_epochs": max_epochs})
    return dataclasses.replace(trial_settings(cfg), checkpoint_epochs=None)


@pytest.mark.parametrize("folds", [0, 3])
def test_packed_members_end_with_the_weights_they_reach_alone(folds):
    from trainable.data.encoding import to_model_input
    from trainable.runtime.environment import import_keras
    from trainable.trial.pack import Member, build_pack
    from trainable.trial.validation import scheme_for

    keras = import_keras()
    data = load(folds=folds)
    scheme = scheme_for(data)
    X, (y, options) = to_model_input(data.X_train), scheme.targets(False)
    members = [Member(hp, 7 + i, f"m{i}") for i, hp in enumerate(MIXED)]

    def trained(pack_of: list) -> list:
        keras.utils.set_random_seed(0)
        pack = build_pack(pack_of, scheme, steps_per_execution=4)
        pack.fit(X, y, batch_size=32, epochs=3, shuffle=True, verbose=0, **options)
        return [head.get_weights() for head in pack.heads]

    packed = trained(members)
    for i, member in enumerate(members):
        (alone,) = trained([member])
        assert len(alone) == len(packed[i])
        for a, b in zip(alone, packed[i]):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


def _run(config, settings, data, referee=None, keep: Path | None = None):
    """`fit_and_report` of a pack; every report's metrics, and a copy of each checkpoint under `keep`."""
    from trainable.trial.train import fit_and_report

    reports = []

    def report(metrics, checkpoint):
        reports.append(metrics)
        if checkpoint is not None and keep is not None:
            shutil.copytree(checkpoint, keep / f"epoch{metrics['epoch']}", dirs_exist_ok=True)

    fit_and_report(config, settings, data, report, referee=referee)
    return reports


def test_a_stopped_and_a_diverged_member_are_frozen_while_the_others_train_on(tmp_path):
    from trainable.trial.checkpoint import MODEL_FILE, read_pack_checkpoint
    from trainable.trial.train import pack_config

    data = load(folds=0)
    hps = [
        hyperparameters(optimizer="adam"),
        hyperparameters(optimizer="rmsprop", n_layers=1, units_0=16),
        hyperparameters(optimizer="sgd", learning_rate=1e9),  # overflows in its first epoch
    ]
    config = pack_config(hps, ["a", "b", "c"])
    asked = []

    def referee(members):  # early stopping stops b at epoch 2
        asked.append(sorted(members))
        return ["b"] if any(epochs == 2 for epochs, _ in members.values()) else []

    reports = _run(config, _settings(4), data, referee, keep=tmp_path)
    last = reports[-1]["members"]
    assert (last["a"]["epoch"], last["a"]["stopped"], last["a"]["diverged"]) == (4, False, False)
    assert (last["b"]["epoch"], last["b"]["stopped"]) == (2, True)
    assert (last["c"]["epoch"], last["c"]["diverged"]) == (1, True)
    assert asked == [["a", "b"], ["a", "b"], ["a"], ["a"]]  # only members still training are asked
    assert [r["active"] for r in reports] == [2, 1, 1, 0]

    # b was frozen at once: its weights are those of the same pack trained 2 epochs
    epoch, states, arrays = read_pack_checkpoint(tmp_path / "epoch4")
    (tmp_path / "short").mkdir()
    _run(config, _settings(2), data, keep=tmp_path / "short")
    _, _, short = read_pack_checkpoint(tmp_path / "short" / "epoch2")
    b_weights = sorted(k for k in arrays if k.startswith("w/1/"))
    assert b_weights and all(np.allclose(arrays[k], short[k], rtol=0, atol=1e-6) for k in b_weights)
    # ...and dropping b and c changed nothing for a: a alone ends where a did in the pack
    (tmp_path / "alone").mkdir()
    _run(pack_config(hps[:1], ["a"]), _settings(4), data, keep=tmp_path / "alone")
    _, _, alone = read_pack_checkpoint(tmp_path / "alone" / "epoch4")
    a_weights = sorted(k for k in alone if k.startswith("w/0/"))
    assert all(np.allclose(arrays[k], alone[k], rtol=0, atol=1e-6) for k in a_weights)

    assert epoch == 4 and states["b"].stopped and states["c"].diverged and states["a"].finished
    assert (tmp_path / "epoch4" / "a" / MODEL_FILE).is_file() and (tmp_path / "epoch4" / "b" / MODEL_FILE).is_file()
    assert not (tmp_path / "epoch4" / "c" / MODEL_FILE).exists()  # diverged before any epoch scored


def test_a_members_checkpointed_model_predicts_what_its_branch_did(tmp_path):
    """With cross-validation: the member's model is its k fold-models; exported, their average."""
    from trainable.data.encoding import to_model_input
    from trainable.trial.checkpoint import MODEL_FILE, read_val_proba
    from trainable.trial.fold_model import probabilities
    from trainable.trial.model import load_model, predict_proba
    from trainable.trial.train import pack_config
    from trainable.trial.validation import scheme_for, validation_proba

    data = load(folds=3)
    config = pack_config(MIXED, ["a", "b", "c"])
    reports = _run(config, _settings(2), data, keep=tmp_path)
    assert all(r["members"][m]["best_epoch"] >= 1 for r in reports[-1:] for m in "abc")
    scheme = scheme_for(data)
    for name in "abc":
        folder = tmp_path / "epoch2" / name
        model = load_model(folder / MODEL_FILE)
        branch = read_val_proba(folder)  # the pack's branch, at the member's best epoch
        np.testing.assert_allclose(validation_proba(model, data), branch, rtol=0, atol=1e-6)
        exported = predict_proba(scheme.export(model), data.X_val)
        folds = probabilities(np.asarray(model(to_model_input(data.X_val), training=False)))
        np.testing.assert_allclose(exported, folds.mean(axis=1), rtol=0, atol=1e-6)


def test_the_rung_records_outlive_the_driver_in_tunes_saved_state(ray_session, tiny):
    """What a resumed sweep's referee starts from: the records `RungRecords` saved with Tune's state."""
    import ray

    from search.sweep.early_stopping import RungRecords, start_referee

    cfg = tiny(name="rungs", **{"search.early_stopping": {"enabled": True, "grace_period": 1, "reduction_factor": 2}})
    name = start_referee(cfg, "best_val_loss", "min")
    referee = ray.get_actor(name)
    asked = {"a-0": (1, {"best_val_loss": 0.2}), "a-1": (1, {"best_val_loss": 0.9})}
    assert ray.get(referee.decide.remote(asked)) == ["a-1"]  # a-0 recorded first: a-1 is below its cutoff
    saved = RungRecords(name).get_state()

    assert start_referee(cfg, "best_val_loss", "min") == name  # the resumed sweep's referee: a new actor...
    fresh = ray.get_actor(name)
    assert ray.get(fresh.decide.remote({"b-0": (1, {"best_val_loss": 0.8})})) == []  # ...with empty records
    start_referee(cfg, "best_val_loss", "min")
    RungRecords(name).set_state(saved)  # as Tune.restore does
    assert ray.get(ray.get_actor(name).decide.remote({"b-0": (1, {"best_val_loss": 0.8})})) == ["b-0"]


def _traced_step(how: str, opt, variables):
    """One traced optimizer step: Keras's `apply`, or the gated update open ("gated") or shut ("frozen")."""
    import tensorflow as tf

    from trainable.runtime._compat import gated_update

    @tf.function
    def step(grads):
        if how == "keras":
            opt.apply(grads, variables)
        else:
            assert gated_update(opt, grads, variables, tf.constant(how == "gated"))

    return step


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "sgd"])
def test_the_gated_updates_give_kerass_weights_bitwise_and_leave_a_frozen_member_as_it_is(name):
    import tensorflow as tf

    from trainable.trial.architecture import Architecture

    def optimizer():
        return Architecture.of(hyperparameters(optimizer=name, learning_rate=3e-3)).optimizer()

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    grads = [[tf.constant(rng.normal(size=w.shape).astype("float32")) for w in start] for _ in range(6)]
    ends = []
    for how in ("keras", "gated", "frozen"):
        import keras

        variables, opt = [keras.Variable(w) for w in start], optimizer()
        opt.build(variables)

        step = _traced_step(how, opt, variables)
        for g in grads:
            step(g)
        ends.append([v.numpy() for v in variables])
    keras_end, gated_end, frozen_end = ends
    assert all(np.array_equal(a, b) for a, b in zip(keras_end, gated_end))
    assert all(np.array_equal(a, b) for a, b in zip(frozen_end, start)) and not np.array_equal(keras_end[0], start[0])
