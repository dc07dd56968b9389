"""The names that cross the trial boundary: the metrics, their directions, and the keys a trial reports.

Contract: every metric a sweep ranks or optimises by is named here once, with
its direction (`METRIC_MODES` for the validation metrics, `OBJECTIVE_MODES`
adding the measured costs), and so is every key of a trial's per-epoch report
that the driver reads (`EPOCH`, `BEST_EPOCH`, `DIVERGED`, ...). `best(metric)`
is the key of the best epoch's value of a validation metric, and
`reported(metric)` the key a trial reports an objective under.
`member_metrics(result)` reads each member's metrics out of a pack's result.
Imports nothing heavy: every module of both packages may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "BEST_EPOCH",
    "DEVICES",
    "DIVERGED",
    "EPOCH",
    "LATENCY_MS",
    "MEMBERS",
    "METRIC_MODES",
    "NODE",
    "NUMBER",
    "N_PARAMS",
    "OBJECTIVE_MODES",
    "PACK_SIZE",
    "STOPPED",
    "TRAIN_SECONDS",
    "VALIDATION_METRICS",
    "VAL_ACCURACY",
    "VAL_AUROC",
    "VAL_LOSS",
    "VAL_SENSITIVITY",
    "VAL_SPECIFICITY",
    "Mode",
    "best",
    "member_metrics",
    "reported",
]

Mode = Literal["min", "max"]

VAL_LOSS = "val_loss"  # the cross-entropy on the validation rows (a proper scoring rule)
VAL_AUROC = "val_auroc"  # binary AUROC, or the macro one-vs-rest AUROC
VAL_ACCURACY = "val_accuracy"
VAL_SENSITIVITY = "val_sensitivity"  # at the threshold chosen on the validation rows (constrained sweeps)
VAL_SPECIFICITY = "val_specificity"
N_PARAMS = "n_params"  # the model's weights
LATENCY_MS = "latency_ms"  # median milliseconds to predict 1,000 rows, measured in the trial

METRIC_MODES: dict[str, Mode] = {VAL_AUROC: "max", VAL_ACCURACY: "max", VAL_LOSS: "min"}
VALIDATION_METRICS = tuple(METRIC_MODES)
OBJECTIVE_MODES: dict[str, Mode] = {**METRIC_MODES, N_PARAMS: "min", LATENCY_MS: "min"}

# Keys of a trial's report that the driver reads.
EPOCH = "epoch"  # epochs trained so far
BEST_EPOCH = "best_epoch"  # the best epoch so far (by the sweep's metric)
DIVERGED = "diverged"  # a non-finite loss stopped the trial
TRAIN_SECONDS = "train_seconds"
NODE = "node"  # the Ray node that ran the trial
DEVICES = "cuda_visible_devices"  # the GPUs Ray gave the trial (its CUDA_VISIBLE_DEVICES; "" or None: none)
STOPPED = "stopped"  # early stopping stopped the configuration
NUMBER = "number"  # the configuration's Optuna trial number
# A pack's report (`trainable.trial.epoch_callback`): each member's metrics under MEMBERS, by member id.
MEMBERS = "members"
PACK_SIZE = "pack_size"  # configurations the pack trains


def member_metrics(result: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each member's metrics in a pack's result, by member id: `result[MEMBERS]`, or the same flattened
    (`members/<id>/<key>`, as Ray Tune hands results to searchers)."""
    if not result:
        return {}
    nested = result.get(MEMBERS)
    if isinstance(nested, Mapping):
        return {str(k): dict(v) for k, v in nested.items()}
    members: dict[str, dict[str, Any]] = {}
    prefix = f"{MEMBERS}/"
    for key, value in result.items():
        if isinstance(key, str) and key.startswith(prefix):
            member, _, name = key[len(prefix) :].partition("/")
            members.setdefault(member, {})[name] = value
    return members


def best(metric: str) -> str:
    """The report key of the best epoch's value of a validation metric."""
    return f"best_{metric}"


def reported(metric: str) -> str:
    """The key a trial reports an objective under: the best epoch's for a validation metric."""
    return best(metric) if metric in METRIC_MODES or metric.startswith("val_") else metric
