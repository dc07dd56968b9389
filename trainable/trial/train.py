"""One trial: build (or restore) a Keras model, train it with one `model.fit`, report every epoch.

Contract: `train_trial(config, data, settings)` is the function Ray Tune runs
per trial (`tune.with_parameters(train_trial, data=..., settings=...)`).
`config` holds only the sampled hyperparameters (those
`trainable.trial.architecture` reads, and `batch_size`); `settings` is the sweep's frozen `TrialSettings`; `data` is the
`trainable.data.dataset.Dataset`, handed over once through Ray's object store. The
data's scheme (`trainable.trial.validation`) decides what trains: one model on the
training split, or the k fold-models of a cross-validated trial together, in
one `fit` (their validation metrics are those of the pooled out-of-fold
predictions). After every epoch the trial calls `ray.tune.report` with its metrics, a checkpoint
attached when one is due (`trainable.trial.epoch_callback`). A retried trial (after an
exception or a dead worker) continues from its latest checkpoint
(`tune.get_checkpoint()`); one whose checkpoint says it had finished returns at
once, neither retrained nor reported twice.

`fit_and_report(hp, settings, data, report)` is the trial without Ray (the
benchmark's bare loop times the same code): `report(metrics, checkpoint_dir)`.
Reported metrics: `loss`, `accuracy` (training; NaN for a cross-validated
trial, whose fold loss has no accuracy), `val_loss`, `val_accuracy`,
`val_auroc` (and `val_sensitivity`, `val_specificity` at the validation-chosen
threshold under `TrialSettings.operating_point`), `best_val_*`, `best_epoch`,
`epoch`, `diverged`, `n_params`, `latency_ms` (`trainable.trial.epoch_callback.latency_ms`),
`train_seconds`, `node`, and for benchmarks `entered_at`, `started_at`,
`reported_at`, `report_wait_s` (seconds the trial spent blocked in earlier
reports, which wait for the driver), `pid`, `rss_mb`, `peak_rss_mb`. TensorFlow and Keras are
imported inside the functions: never on the driver's CLI path.
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any

from trainable.data.dataset import Dataset
from trainable.data.encoding import to_model_input
from trainable.names import DEVICES, NODE
from trainable.runtime.environment import import_keras
from trainable.runtime.tf import configure_tensorflow, reset_between_trials
from trainable.trial.checkpoint import TrialState, read_pack_checkpoint
from trainable.trial.settings import TrialSettings
from trainable.trial.validation import Scheme, scheme_for

if TYPE_CHECKING:
    from trainable.trial.epoch_callback import MemberRun, Referee, Report

__all__ = ["fit_and_report", "pack_config", "referee_of", "train_trial"]


def _node_id() -> str:
    """The first 12 hex digits of the Ray node this trial runs on (distinct per node)."""
    try:
        import ray

        if not ray.is_initialized():  # the benchmark's bare loop: never start Ray just to ask
            return "local"
        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:
        return "local"


EAGER_MAX_STEPS = 32  # a trial of at most this many steps in all runs eagerly


def pack_config(hps: list[dict[str, Any]], names: list[str] | None = None, seeds: list[int] | None = None) -> dict:
    """A pack's config (what Tune's `config` holds) for the configurations `hps`, which share the batch size:
    `{"batch_size": b, "members": [{"id", "hp", "seed"?, "number"?}, ...]}`. `names` default to `m0`, `m1`..;
    `seeds` to the trial settings' seed."""
    sizes = {int(hp["batch_size"]) for hp in hps}
    if len(sizes) != 1:
        raise ValueError(f"a pack's configurations share one batch size, got {sorted(sizes)}")
    members: list[dict[str, Any]] = [{"id": names[i] if names else f"m{i}", "hp": dict(hp)} for i, hp in enumerate(hps)]
    for member, seed in zip(members, seeds or ()):
        member["seed"] = int(seed)
    return {"batch_size": sizes.pop(), "members": members}


def _runs(config: dict[str, Any], states: dict[str, TrialState]) -> list[MemberRun]:
    from trainable.trial.epoch_callback import MemberRun

    return [
        MemberRun(i, str(m["id"]), m.get("number"), states.get(str(m["id"]), TrialState()))
        for i, m in enumerate(config["members"])
    ]


def _pack(config: dict[str, Any], settings: TrialSettings, scheme: Scheme, steps: int) -> Any:
    from trainable.trial.pack import Member, build_pack

    members = [Member(dict(m["hp"]), int(m.get("seed", settings.seed)), str(m["id"])) for m in config["members"]]
    model = build_pack(members, scheme, steps)
    model.run_eagerly = steps * settings.max_epochs <= EAGER_MAX_STEPS
    return model


def _restore(model: Any, runs: list[MemberRun], arrays: dict[str, Any]) -> None:
    """The pack's weights and optimizer state as checkpointed; finished members frozen."""
    model.load_state(arrays)
    for run in runs:
        if f"b/{run.index}/0" in arrays:
            run.best_weights = [arrays[f"b/{run.index}/{j}"] for j in range(len(model.heads[run.index].weights))]
        if run.state.finished:
            model.freeze(run.index)
    model.retrace()  # (before the first trace: only the members left to train are traced)


def fit_and_report(
    config: dict[str, Any],
    settings: TrialSettings,
    data: Dataset,
    report: Report,
    restore_dir: str | None = None,
    entered_at: float | None = None,
    referee: Referee | None = None,
) -> dict[str, Any]:
    """Train a pack (`pack_config`), calling `report(metrics, checkpoint_dir or None)` per epoch;
    returns the last reported metrics ({} when a restored pack had finished)."""
    from trainable.trial.epoch_callback import PackReporter  # subclasses a Keras class

    started = time.perf_counter()
    reset_between_trials()
    import_keras().utils.set_random_seed(settings.seed)
    epoch, states, arrays = (0, {}, {}) if restore_dir is None else read_pack_checkpoint(restore_dir)
    runs = _runs(config, states)
    if all(r.state.done(settings.max_epochs) for r in runs):
        return {}  # it ended before Tune recorded it: Tune keeps its last result
    scheme = scheme_for(data)
    batch_size = int(config["batch_size"])
    steps = max(1, math.ceil(len(scheme.data.y_train) / batch_size))
    model = _pack(config, settings, scheme, steps)
    if restore_dir is not None:
        _restore(model, runs, arrays)
    started_at = time.time()
    node = _node_id()
    for run in runs:
        run.fixed[NODE] = node
    fixed = {
        NODE: node,
        DEVICES: os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started_at": started_at,
        "entered_at": entered_at or started_at,
        "pid": os.getpid(),
    }
    reporter = PackReporter(settings, scheme, report, runs, referee, fixed, started)
    y, fit_options = scheme.targets(settings.class_weight == "balanced")
    model.fit(
        to_model_input(data.X_train),
        y,
        batch_size=batch_size,
        epochs=settings.max_epochs,
        initial_epoch=epoch,
        shuffle=True,  # shuffles features and labels together
        verbose=0,
        callbacks=[reporter],
        **fit_options,
    )
    return reporter.last


def referee_of(settings: TrialSettings) -> Referee | None:
    """The sweep's early-stopping referee (a Ray actor, `TrialSettings.rungs`), or None."""
    if not settings.rungs:
        return None
    import ray

    handle = ray.get_actor(settings.rungs)
    return lambda asked: list(ray.get(handle.decide.remote(asked)))


def train_trial(config: dict[str, Any], data: Dataset, settings: TrialSettings) -> None:
    """The Ray Tune function trainable: one pack (`pack_config`) of sampled configurations."""
    entered_at = time.time()  # the trial is running (before TensorFlow is imported)
    configure_tensorflow(settings.cpus)
    from ray import tune

    waited = [0.0]  # seconds this trial's thread spent blocked in earlier reports

    def report(metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        metrics = {**metrics, "report_wait_s": waited[0], "reported_at": time.time()}
        t0 = time.perf_counter()
        checkpoint = None if checkpoint_dir is None else tune.Checkpoint.from_directory(checkpoint_dir)
        tune.report(metrics, checkpoint=checkpoint)
        waited[0] += time.perf_counter() - t0

    referee = referee_of(settings)
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        fit_and_report(config, settings, data, report, entered_at=entered_at, referee=referee)
    else:
        with checkpoint.as_directory() as restore_dir:
            fit_and_report(config, settings, data, report, restore_dir, entered_at, referee)
