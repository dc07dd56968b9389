"""BENCHMARK-ONLY: a trial that trains nothing, and the made-up validation loss it reports.

`made_up_loss(hp, epoch, epochs, number)` is a cheap, deterministic stand-in for a
configuration's validation loss, shaped like the default search space: a smooth
bowl in log learning rate, log width, dropout and log L2, a cost per optimizer and
activation, small costs for depth and batch size, falling with the epochs, plus
seeded noise (sd 0.005) per configuration. `benchmarks/driver.py` reports it from
the stand-in trial, and `benchmarks/tpe_quality.py` runs Optuna alone on it (the
cheap proxy of a real 300-trial sweep).

`standin_trial(trial_seconds)` is what each of the benchmark's Tune trials runs
instead of `trainable.trial.train.train_trial` (`make_tuner(..., trial=...)`): for
a pack (`{"batch_size", "members": [...]}`) it sleeps `trial_seconds / max_epochs`
per epoch, asks the sweep's early-stopping referee about its members still
training (`trainable.trial.train.referee_of`: the same Ray actor the real packs
call), and reports through `ray.tune.report` the keys the real pack reports
(`trainable.trial.epoch_callback.PackReporter._metrics`: each member's metrics
under `members`, the leader's at the top, `entered_at`, `reported_at`, `pid`), a
small checkpoint attached where the real pack attaches one
(`TrialSettings.checkpoint_epochs`, and the last epoch). Nothing of this is reachable from a
user's config: this module is shipped to Ray's workers by value.
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import ray.cloudpickle

from trainable import names as n

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the benchmarks

_OPTIMIZER = {"adam": 0.0, "adamw": 0.0, "rmsprop": 0.01, "sgd": 0.05}
_ACTIVATION = {"relu": 0.0, "gelu": 0.0, "tanh": 0.01, "selu": 0.015}


def made_up_loss(hp: dict[str, Any], epoch: int, epochs: int, number: int | None) -> float:
    """The made-up validation loss of configuration `hp` after `epoch` of `epochs` (see the module)."""
    n_layers = int(hp.get("n_layers", 2))
    widths = [float(hp.get(f"units_{i}", 64)) for i in range(n_layers)] or [64.0]
    width = sum(math.log2(w) for w in widths) / len(widths)
    loss = (
        0.08
        + 0.05 * (math.log10(float(hp.get("learning_rate", 1e-3))) + 2.5) ** 2
        + 0.005 * (width - 6.5) ** 2
        + 0.12 * (float(hp.get("dropout", 0.0)) - 0.2) ** 2
        + 0.0025 * (math.log10(max(float(hp.get("l2", 1e-4)), 1e-12)) + 4) ** 2
        + _OPTIMIZER.get(str(hp.get("optimizer")), 0.02)
        + _ACTIVATION.get(str(hp.get("activation")), 0.01)
        + 0.005 * abs(n_layers - 2)
        + 0.002 * abs(math.log2(float(hp.get("batch_size", 32))) - 5)
    )
    noise = random.Random(number if number is not None else 0).gauss(0.0, 0.005)
    return loss + 0.3 * math.exp(-3.0 * epoch / max(1, epochs)) + noise


class _Member:
    """One configuration of the pack as it 'trains': its best epoch so far, and whether it ended."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.id, self.hp, self.number = str(spec["id"]), dict(spec.get("hp") or {}), spec.get("number")
        self.best: dict[str, float] = {}
        self.best_epoch = 0
        self.stopped = self.finished = False
        self.last: dict[str, Any] = {}

    def score(self, epoch: int, epochs: int, seconds: float) -> None:
        loss = made_up_loss(self.hp, epoch, epochs, self.number)
        val = {n.VAL_LOSS: loss, n.VAL_AUROC: max(0.5, 1.0 - loss / 2), n.VAL_ACCURACY: max(0.5, 1.0 - loss)}
        if not self.best or loss < self.best[n.VAL_LOSS]:
            self.best, self.best_epoch = val, epoch
        self.finished = epoch >= epochs
        self.last = {
            n.EPOCH: epoch,
            "loss": loss,
            **val,
            n.BEST_EPOCH: self.best_epoch,
            **{n.best(k): v for k, v in self.best.items()},
            n.TRAIN_SECONDS: seconds,
            n.DIVERGED: False,
            n.STOPPED: self.stopped,
            n.NUMBER: self.number,
            n.N_PARAMS: 1000,
            n.LATENCY_MS: 1.0,
            n.NODE: "standin",
        }


def _stop_early(referee: Callable[..., list[str]] | None, epoch: int, members: list[_Member]) -> None:
    training = [m for m in members if not m.finished]
    if referee is None or not training:
        return
    stop = set(referee({m.id: (epoch, m.last) for m in training}))
    for member in training:
        if member.id in stop:
            member.stopped = member.finished = True
            member.last = {**member.last, n.STOPPED: True}


def standin_trial(trial_seconds: float) -> Callable[[dict[str, Any], Any, Any], None]:
    """The benchmark's trial function: sleeps `trial_seconds` split over the epochs (see the module)."""

    def trial(config: dict[str, Any], data: Any, settings: Any) -> None:
        from ray import tune

        from trainable.trial.train import referee_of

        entered_at, started = time.time(), time.perf_counter()
        members = [_Member(spec) for spec in config[n.MEMBERS]]
        referee = referee_of(settings)
        epochs = settings.max_epochs
        for epoch in range(1, epochs + 1):
            time.sleep(trial_seconds / epochs)
            training = [m for m in members if not m.finished]
            for member in training:
                member.score(epoch, epochs, (time.perf_counter() - started) / len(members))
            _stop_early(referee, epoch, training)
            done = all(m.finished for m in members)
            leader = min(members, key=lambda m: m.best.get(n.VAL_LOSS, math.inf))
            metrics = {
                **leader.last,
                n.MEMBERS: {m.id: m.last for m in members},
                n.EPOCH: epoch,
                n.PACK_SIZE: len(members),
                n.TRAIN_SECONDS: time.perf_counter() - started,
                "entered_at": entered_at,
                "reported_at": time.time(),
                "pid": os.getpid(),
            }
            if done or epoch in (settings.checkpoint_epochs or ()):  # where the real pack checkpoints
                with tempfile.TemporaryDirectory(prefix="hpsearch-standin-") as folder:
                    with open(os.path.join(folder, "standin.txt"), "w") as fh:
                        fh.write("no model\n")
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
            else:
                tune.report(metrics)
            if done:
                return

    return trial
