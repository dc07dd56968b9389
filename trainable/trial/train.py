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
from trainable.names import N_PARAMS, NODE
from trainable.runtime.environment import import_keras
from trainable.runtime.tf import configure_tensorflow, reset_between_trials
from trainable.trial.checkpoint import MODEL_FILE, TrialState, read_state
from trainable.trial.settings import TrialSettings
from trainable.trial.validation import Scheme, scheme_for

if TYPE_CHECKING:
    from trainable.trial.epoch_callback import Report

__all__ = ["fit_and_report", "train_trial"]


def _node_id() -> str:
    """The first 12 hex digits of the Ray node this trial runs on (distinct per node)."""
    try:
        import ray

        if not ray.is_initialized():  # the benchmark's bare loop: never start Ray just to ask
            return "local"
        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:
        return "local"


def _milestones(settings: TrialSettings) -> set[int] | None:
    if not settings.checkpoint_epochs:
        return None
    return set(settings.checkpoint_epochs) | {settings.max_epochs}


EAGER_MAX_STEPS = 32  # a trial of at most this many steps in all runs eagerly


def _model(hp: dict[str, Any], scheme: Scheme, restore_dir: str | None, max_epochs: int) -> Any:
    """The trial's model. One call into TensorFlow per epoch (steps_per_execution): less Python per
    batch. Tracing that call costs ~0.5-1 s, more than a few dozen eager steps: a trial that will take
    at most `EAGER_MAX_STEPS` steps (1 epoch of a small table) runs eagerly instead."""
    from trainable.trial.model import load_model

    steps = max(1, math.ceil(len(scheme.data.y_train) / int(hp["batch_size"])))
    if restore_dir is not None:
        model = load_model(os.path.join(restore_dir, MODEL_FILE))
    else:
        model = scheme.build(hp, steps)
    model.run_eagerly = steps * max_epochs <= EAGER_MAX_STEPS
    return model


def fit_and_report(
    hp: dict[str, Any],
    settings: TrialSettings,
    data: Dataset,
    report: Report,
    restore_dir: str | None = None,
    entered_at: float | None = None,
) -> dict[str, Any]:
    """Train one model, calling `report(metrics, checkpoint_dir or None)` per epoch;
    returns the last reported metrics ({} when a restored trial had finished)."""
    from trainable.trial.epoch_callback import CheckpointPlan, EpochReporter  # subclasses a Keras class

    started = time.perf_counter()
    reset_between_trials()
    import_keras().utils.set_random_seed(settings.seed)
    state = TrialState() if restore_dir is None else read_state(restore_dir)
    if state.done(settings.max_epochs):
        return {}  # it ended before Tune recorded it: Tune keeps its last result
    scheme = scheme_for(data)
    model = _model(hp, scheme, restore_dir, settings.max_epochs)
    started_at = time.time()
    fixed = {
        N_PARAMS: int(model.count_params()),
        NODE: _node_id(),
        "started_at": started_at,
        "entered_at": entered_at or started_at,
        "pid": os.getpid(),
    }
    saved = model.get_weights() if restore_dir is not None else None  # what the latest checkpoint holds
    reporter = EpochReporter(
        settings, scheme, report, state, CheckpointPlan(_milestones(settings), saved), fixed, started
    )
    y, fit_options = scheme.targets(settings.class_weight == "balanced")
    model.fit(
        to_model_input(data.X_train),
        y,
        batch_size=int(hp["batch_size"]),
        epochs=settings.max_epochs,
        initial_epoch=state.epoch,
        shuffle=True,  # shuffles features and labels together
        verbose=0,
        callbacks=[reporter],
        **fit_options,
    )
    return reporter.last


def train_trial(config: dict[str, Any], data: Dataset, settings: TrialSettings) -> None:
    """The Ray Tune function trainable: one trial of the sampled hyperparameters `config`."""
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

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        fit_and_report(config, settings, data, report, entered_at=entered_at)
    else:
        with checkpoint.as_directory() as restore_dir:
            fit_and_report(config, settings, data, report, restore_dir, entered_at)
