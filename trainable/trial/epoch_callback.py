"""What a trial does after each epoch: score it, keep the best, checkpoint when due, report.

Contract: `EpochReporter` is the Keras callback of a trial's one `model.fit`.
After every epoch it scores the validation rows (`trainable.stats.metrics.score` on
the scheme's validation probabilities: `trainable.trial.validation`),
keeps the best epoch (`better_epoch`: by the trial's metric, ties broken by
the other), and calls `report(metrics, checkpoint_dir or None)` with the
epoch's metrics, the best epoch's (`best_val_*`, `best_epoch`) and
bookkeeping. A non-finite loss stops training with `diverged: True`.
`CheckpointPlan` decides when a checkpoint is attached and with which
weights: at every improvement, or only at `TrialSettings.checkpoint_epochs`
with the best weights kept in memory since the last one. The last epoch, or a
divergence, always leaves a checkpoint marked `finished` when there is a model
to keep, so a trial restored after it ended stops at once. Imports Keras:
load it inside a trial only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from trainable.data.encoding import to_model_input
from trainable.names import (
    BEST_EPOCH,
    DIVERGED,
    EPOCH,
    LATENCY_MS,
    TRAIN_SECONDS,
    VAL_ACCURACY,
    VAL_AUROC,
    VAL_LOSS,
    best,
)
from trainable.runtime.environment import import_keras
from trainable.runtime.tf import peak_rss_mb, rss_mb
from trainable.stats.metrics import better_epoch, operating_point, score
from trainable.trial.checkpoint import TrialState, write_checkpoint
from trainable.trial.settings import TrialSettings
from trainable.trial.validation import Scheme

if TYPE_CHECKING:
    import keras
else:
    keras = import_keras()  # TensorFlow imported quietly, first

__all__ = ["CheckpointPlan", "EpochReporter", "latency_ms"]

Report = Callable[[dict[str, Any], "str | None"], None]
_NO_BEST = {VAL_AUROC: 0.0, VAL_ACCURACY: 0.0, VAL_LOSS: 1e9, EPOCH: 0}  # reported until an epoch is scored


LATENCY_ROWS, LATENCY_REPEATS = 1000, 7


def latency_ms(model: Any, X: Any) -> float:
    """Median milliseconds of one call predicting `LATENCY_ROWS` rows (the validation rows repeated), after
    a warm-up call, on this trial's threads: the `latency_ms` objective. Weights do not change the time,
    so the model of any epoch times as its best epoch's would."""

    def rows(a: Any) -> np.ndarray:
        return np.resize(np.asarray(a), (LATENCY_ROWS, *np.shape(a)[1:]))

    batch = to_model_input({k: rows(v) for k, v in X.items()} if isinstance(X, dict) else rows(X))
    model(batch, training=False)
    times = []
    for _ in range(LATENCY_REPEATS):
        t0 = time.perf_counter()
        model(batch, training=False)
        times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times)), 3)


class CheckpointPlan:
    """When to checkpoint and which weights. `milestones` None: at every
    improvement, the current weights. Otherwise at the milestone epochs, the
    best weights since the previous checkpoint (`pending`). `saved` are the
    weights of the latest checkpoint, re-saved as the final one if nothing
    improved since."""

    def __init__(self, milestones: set[int] | None, saved: list[Any] | None) -> None:
        self.milestones = milestones
        self.pending: list[Any] | None = None
        self.saved = saved

    def due(self, model: Any, epoch: int, improved: bool, final: bool) -> tuple[bool, list[Any] | None]:
        """(checkpoint now?, the weights to save: None for the model's current ones)."""
        if self.milestones is None:
            due = improved
        else:
            if improved:
                self.pending = model.get_weights()
            due = self.pending is not None and epoch in self.milestones
        if final:
            due = due or self.saved is not None or self.pending is not None
        if improved and self.milestones is None:
            return due, None
        return due, self.pending if self.pending is not None else self.saved


class EpochReporter(keras.callbacks.Callback):
    def __init__(
        self,
        settings: TrialSettings,
        scheme: Scheme,
        report: Report,
        state: TrialState,
        plan: CheckpointPlan,
        fixed: dict[str, Any],
        started: float,
    ) -> None:
        super().__init__()
        self.settings, self.scheme, self.data, self.report = settings, scheme, scheme.data, report
        self.state, self.plan = state, plan
        self.fixed = fixed  # reported with every epoch: n_params, node, pid, start times
        self.started = started  # perf_counter at the trial's start: `train_seconds`
        self.X_val = to_model_input(self.data.X_val)
        self.best_proba: np.ndarray | None = None  # validation probabilities of the best epoch
        self.last: dict[str, Any] = {}  # the latest reported metrics

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs, n = logs or {}, epoch + 1
        if LATENCY_MS not in self.fixed:  # the architecture is set: time it once, the model warm
            self.fixed[LATENCY_MS] = latency_ms(self.model, self.data.X_val)
        loss = float(logs.get("loss", float("nan"))) / self.scheme.loss_scale
        val, proba = self._validate(loss)
        diverged = not (math.isfinite(loss) and math.isfinite(val[VAL_LOSS]))
        improved = not diverged and better_epoch(self.settings.metric, val, self.state.best)
        if improved:
            self.state.best, self.best_proba = {**val, EPOCH: n}, proba
        self.state.epoch = n
        self.last = self._metrics(n, loss, float(logs.get("accuracy", float("nan"))), val, diverged)
        final = diverged or n >= self.settings.max_epochs
        if diverged:
            self.model.stop_training = True
        if final:
            self.state.finished = True
        due, keep = self.plan.due(self.model, n, improved, final)
        if due:
            self._checkpoint(keep)
        else:
            self.report(self.last, None)

    def _validate(self, loss: float) -> tuple[dict[str, Any], np.ndarray | None]:
        if not math.isfinite(loss):
            return {VAL_AUROC: float("nan"), VAL_ACCURACY: float("nan"), VAL_LOSS: float("nan")}, None
        proba = self.scheme.validation(self.model(self.X_val, training=False))
        scores: dict[str, Any] = {**score(self.data.y_val, proba)}
        if self.settings.operating_point is not None:
            method, target = self.settings.operating_point
            scores.update(operating_point(self.data.y_val, proba, method=method, target_sensitivity=target))
        return {f"val_{k}": v for k, v in scores.items()}, proba

    def _metrics(self, epoch: int, loss: float, accuracy: float, val: dict[str, Any], diverged: bool) -> dict[str, Any]:
        top = self.state.best or _NO_BEST
        return {
            EPOCH: epoch,
            "loss": loss,
            "accuracy": accuracy,
            **val,
            BEST_EPOCH: top[EPOCH],
            **{best(k): top.get(k, float("nan")) for k in val},
            TRAIN_SECONDS: time.perf_counter() - self.started,
            DIVERGED: diverged,
            "rss_mb": rss_mb(),
            "peak_rss_mb": peak_rss_mb(),
            **self.fixed,
        }

    def _checkpoint(self, keep: list[Any] | None) -> None:
        """Report with a checkpoint of `keep` (or the current weights), then train on from the current ones."""
        current = None
        if keep is not None:
            current = self.model.get_weights()
            self.model.set_weights(keep)
        self.plan.saved = keep if keep is not None else self.model.get_weights()
        with write_checkpoint(self.model, self.state, self.best_proba) as folder:
            self.report(self.last, folder)
        if current is not None:
            self.model.set_weights(current)
        self.plan.pending = None
