"""What a pack does after each epoch: score each member, keep its best, stop members, checkpoint, report.

Contract: `PackReporter` is the Keras callback of a pack's one `model.fit`
(`trainable.trial.pack`). After every epoch, for each member still training,
it scores the validation rows (`trainable.stats.metrics.score` on the
scheme's validation probabilities: `trainable.trial.validation`), keeps the
member's best epoch (`better_epoch`: by the trial's metric, ties broken by
the other) with its weights in memory, and marks it finished when it
diverged (a non-finite loss: `diverged`), reached the last epoch, or early
stopping stopped it (`Referee`: ASHA's rule across the members of every
pack, `stopped`). A finished member is frozen at once (`PackModel.freeze`);
the step is traced again without the frozen ones when the epochs left repay
the trace (`_retrace_pays`, from this pack's own epoch times); when none is
left, training stops. Then it calls `report(metrics,
checkpoint_dir or None)`: `metrics[MEMBERS]` holds each member's metrics
(the keys a single trial reports: the epoch's, the best epoch's `best_val_*`
and `best_epoch`, its own `n_params` and `latency_ms` measured on the member
alone, its share of the pack's seconds), and the top level the pack's epoch,
the best member's metrics and bookkeeping. A member's `train_seconds` is its
share of the pack's seconds (each stretch between two reports, from the
pack's start, split among the members training in it): summed over a pack's
members, the pack's seconds. A checkpoint is attached at
`TrialSettings.checkpoint_epochs` (or, without them, whenever a member
improved) and when the pack ends: every member's best model so far, state
and validation probabilities, and the pack's weights and optimizer state
(`trainable.trial.checkpoint.write_pack_checkpoint`). A member's model file
is saved again only when its best epoch changed. Imports Keras: load it
inside a trial only.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from trainable.data.encoding import to_model_input
from trainable.names import (
    BEST_EPOCH,
    DIVERGED,
    EPOCH,
    LATENCY_MS,
    MEMBERS,
    N_PARAMS,
    NUMBER,
    PACK_SIZE,
    STOPPED,
    TRAIN_SECONDS,
    VAL_ACCURACY,
    VAL_AUROC,
    VAL_LOSS,
    best,
)
from trainable.runtime.environment import import_keras
from trainable.runtime.tf import peak_rss_mb, rss_mb
from trainable.stats.metrics import better_epoch, operating_point, score
from trainable.trial.checkpoint import MODEL_FILE, SavedMember, TrialState, write_pack_checkpoint
from trainable.trial.settings import TrialSettings
from trainable.trial.validation import Scheme

if TYPE_CHECKING:
    import keras
else:
    keras = import_keras()  # TensorFlow imported quietly, first

__all__ = ["MemberRun", "PackReporter", "Referee", "latency_ms"]

Report = Callable[[dict[str, Any], "str | None"], None]
# Early stopping across packs: {member id: (epochs, its metrics)} of the members still training -> ids to stop.
Referee = Callable[[dict[str, tuple[int, dict[str, Any]]]], list[str]]
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


@dataclass
class MemberRun:
    """One member of a pack as it trains: its place in the pack, its state, its best epoch so far."""

    index: int
    name: str  # its trial id
    number: int | None  # its Optuna trial number
    state: TrialState
    best_weights: list[Any] | None = None  # its layers' weights at its best epoch
    best_proba: np.ndarray | None = None  # its validation probabilities at its best epoch
    fixed: dict[str, Any] = field(default_factory=dict)  # n_params, latency_ms, node
    last: dict[str, Any] = field(default_factory=dict)  # its latest reported metrics
    saved: tuple[int, bytes] | None = None  # (best epoch, its model file) as last saved


class PackReporter(keras.callbacks.Callback):
    def __init__(
        self,
        settings: TrialSettings,
        scheme: Scheme,
        report: Report,
        runs: list[MemberRun],
        referee: Referee | None,
        fixed: dict[str, Any],
        started: float,
    ) -> None:
        super().__init__()
        self.settings, self.scheme, self.data, self.report = settings, scheme, scheme.data, report
        self.runs, self.referee = runs, referee
        self.milestones = set(settings.checkpoint_epochs or ()) | {settings.max_epochs}
        self.every_improvement = not settings.checkpoint_epochs
        self.fixed = fixed  # reported with every epoch: node, pid, start times
        self.started = started  # perf_counter at the trial's start: the pack's `train_seconds`
        self.X_val = to_model_input(self.data.X_val)
        self.epoch_started = time.perf_counter()
        self.epoch_seconds: list[float] = []  # of each epoch trained here (the first includes the trace)
        self.counted = started  # the pack's seconds shared out among its members up to here
        self.last: dict[str, Any] = {}  # the latest reported metrics

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs, n = logs or {}, epoch + 1
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.epoch_started)
        training = [r for r in self.runs if r.index in self.model.active]
        share = (now - self.counted) / max(1, len(training))  # since the last report (the first: the start)
        self.counted = now
        outputs = self.model.outputs(self.X_val)
        improved = False
        for run in training:
            run.state.seconds += share
            loss = float(logs.get(f"loss_{run.index}", float("nan"))) / self.scheme.loss_scale
            improved |= self._score(run, n, loss, outputs[run.index])
        self._stop_early(n, [r for r in training if not r.state.diverged])
        for run in training:
            if run.state.finished:
                self.model.freeze(run.index)
        if not self.model.active:
            self.model.stop_training = True
        elif self._retrace_pays(n):
            self.model.retrace()
        self.last = self._metrics(n)
        if (improved and self.every_improvement) or n in self.milestones or not self.model.active:
            with write_pack_checkpoint(n, self._arrays(), [self._saved(r) for r in self.runs]) as folder:
                self.report(self.last, folder)
        else:
            self.report(self.last, None)

    def _retrace_pays(self, n: int) -> bool:
        """Whether tracing the step again without the frozen members saves time over the epochs left: the
        frozen members' share of an epoch, times the epochs left, against a trace (the first epoch's excess
        over a later one), for the members left. Both measured in this pack."""
        traced, active = len(self.model.traced), len(self.model.active)
        if active == traced or len(self.epoch_seconds) < 2:
            return False
        first, later = self.epoch_seconds[0], float(np.median(self.epoch_seconds[1:]))
        saved = (self.settings.max_epochs - n) * later * (traced - active) / traced
        return saved > max(0.0, first - later) * active / traced

    def _score(self, run: MemberRun, n: int, loss: float, output: np.ndarray) -> bool:
        """Score `run`'s epoch `n`; True when it improved on its best."""
        if LATENCY_MS not in run.fixed:  # the architecture is set: time it once, the model warm
            alone = self.model.member_model(run.index)
            run.fixed.update({N_PARAMS: int(alone.count_params()), LATENCY_MS: latency_ms(alone, self.data.X_val)})
        val, proba = self._validate(loss, output)
        diverged = not (math.isfinite(loss) and math.isfinite(val[VAL_LOSS]))
        improved = not diverged and better_epoch(self.settings.metric, val, run.state.best)
        if improved:
            run.state.best, run.best_proba = {**val, EPOCH: n}, proba
            run.best_weights = self.model.heads[run.index].get_weights()
        run.state.epoch = n
        run.state.diverged = diverged
        run.state.finished = diverged or n >= self.settings.max_epochs
        run.last = self._member_metrics(run, loss, val)
        return improved

    def _stop_early(self, n: int, training: list[MemberRun]) -> None:
        """Ask the referee about the members still training; mark those it stops."""
        if self.referee is None or not training:
            return
        stop = set(self.referee({r.name: (n, r.last) for r in training}))  # (those at the last epoch: recorded)
        for run in training:
            if run.name in stop and not run.state.finished:
                run.state.finished = run.state.stopped = True
                run.last = {**run.last, STOPPED: True}

    def _validate(self, loss: float, output: np.ndarray) -> tuple[dict[str, Any], np.ndarray | None]:
        if not math.isfinite(loss):
            return {VAL_AUROC: float("nan"), VAL_ACCURACY: float("nan"), VAL_LOSS: float("nan")}, None
        proba = self.scheme.validation(output)
        if not np.all(np.isfinite(proba)):
            return {VAL_AUROC: float("nan"), VAL_ACCURACY: float("nan"), VAL_LOSS: float("nan")}, None
        scores: dict[str, Any] = {**score(self.data.y_val, proba)}
        if self.settings.operating_point is not None:
            method, target = self.settings.operating_point
            scores.update(operating_point(self.data.y_val, proba, method=method, target_sensitivity=target))
        return {f"val_{k}": v for k, v in scores.items()}, proba

    def _member_metrics(self, run: MemberRun, loss: float, val: dict[str, Any]) -> dict[str, Any]:
        top = run.state.best or _NO_BEST
        return {
            EPOCH: run.state.epoch,
            "loss": loss,
            "accuracy": float("nan"),  # (the pack's training step computes losses only)
            **val,
            BEST_EPOCH: top[EPOCH],
            **{best(k): top.get(k, float("nan")) for k in val},
            TRAIN_SECONDS: run.state.seconds,
            DIVERGED: run.state.diverged,
            STOPPED: run.state.stopped,
            NUMBER: run.number,
            **run.fixed,
        }

    def _metrics(self, n: int) -> dict[str, Any]:
        """The pack's report: each member's metrics, and at the top the best member's (which Tune checks for
        the searcher's metric) with the pack's epoch and bookkeeping."""
        scored = [r for r in self.runs if r.state.best is not None] or self.runs
        leader = scored[0]
        for run in scored[1:]:
            if run.state.best is not None and better_epoch(self.settings.metric, run.state.best, leader.state.best):
                leader = run
        return {
            **leader.last,
            MEMBERS: {r.name: r.last for r in self.runs},
            EPOCH: n,
            PACK_SIZE: len(self.runs),
            "active": len(self.model.active),
            TRAIN_SECONDS: time.perf_counter() - self.started,
            "rss_mb": rss_mb(),
            "peak_rss_mb": peak_rss_mb(),
            **self.fixed,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = self.model.state()
        for run in self.runs:
            for j, w in enumerate(run.best_weights or ()):
                arrays[f"b/{run.index}/{j}"] = w
        return arrays

    def _saved(self, run: MemberRun) -> SavedMember:
        """`run` as its checkpoint folder holds it: its best model saved again only when its best changed."""
        best_epoch = (run.state.best or {}).get(EPOCH)
        if run.best_weights is not None and (run.saved is None or run.saved[0] != best_epoch):
            run.saved = (int(best_epoch or 0), self._model_file(run))
        return SavedMember(run.name, run.state, run.saved[1] if run.saved else None, run.best_proba)

    def _model_file(self, run: MemberRun) -> bytes:
        """The bytes of member `run`'s model alone, with its best weights."""
        head = self.model.heads[run.index]
        current = head.get_weights()
        head.set_weights(run.best_weights)
        try:
            with tempfile.TemporaryDirectory(prefix="hpsearch-member-") as folder:
                path = os.path.join(folder, MODEL_FILE)
                self.model.member_model(run.index).save(path)
                with open(path, "rb") as fh:
                    return fh.read()
        finally:
            head.set_weights(current)
