"""Trial results -> a ranked results table (the leaderboard), and its file.

Contract: `Status` names a trial's statuses (`RANKED` are those with
metrics); `trial_row(...)` turns one trial's last reported metrics and sampled
hyperparameters into a flat row; `build_leaderboard(rows, ranking)` ranks them
(a metric's name, or a `search.config.ranking.Ranking`: several objectives rank
by Pareto front, then the first) (best first by the trial's best epoch, ties broken as epochs are:
`trainable.stats.metrics.tiebreak`; errored and diverged trials last, never ranked
best); `ranked(board)` keeps the rows with a model to export, best first;
`write_leaderboard(frame, path)` writes `leaderboard.csv` atomically;
`read_leaderboard(dir)` reads it back. `mark_ties(frame, intervals, deltas)`
fills in the validation AUROC 95% intervals, the 95% intervals of each
trial's paired difference from the best trial in the ranking metric, and
`tied_with_best` (that interval holds 0; see `search.review.ties`). Imports
pandas only: safe on the CLI path.

Columns: `rank, pareto_rank` (several objectives only: 1 for the
non-dominated front, 2 for the next...), `trial_id` (one configuration),
`pack` (the Ray Tune trial that trained it, with the other configurations of
its pack: `search.sweep.packing`), `status, val_auroc,
val_auroc_ci95_lo, val_auroc_ci95_hi, tied_with_best, delta_ci95_lo,
delta_ci95_hi, val_accuracy, val_loss, val_sensitivity, val_specificity` (at
the validation-chosen threshold, under `search.constraints` only), `epochs,
best_epoch, train_seconds, n_params, latency_ms, node, error`, then one column per hyperparameter
(`search.config.space.HYPERPARAMETERS`), then `checkpoint` (the trial's best-epoch
checkpoint directory). The interval columns are computed at the end of a
sweep (`search.review.ties`); while a sweep runs they are empty.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.config.ranking import CONSTRAINT_METRICS, Ranking, shortfall
from search.config.space import HYPERPARAMETERS, describe
from search.records.paths import LEADERBOARD_FILE, atomic_write
from trainable.errors import HpsearchError
from trainable.names import (
    BEST_EPOCH,
    DIVERGED,
    EPOCH,
    LATENCY_MS,
    METRIC_MODES,
    N_PARAMS,
    NODE,
    TRAIN_SECONDS,
    VAL_ACCURACY,
    VAL_AUROC,
    VAL_LOSS,
    VAL_SENSITIVITY,
    VAL_SPECIFICITY,
    VALIDATION_METRICS,
    best,
)
from trainable.stats.metrics import tiebreak
from trainable.stats.pareto import pareto_ranks

__all__ = [
    "COLUMNS",
    "RANKED",
    "Status",
    "build_leaderboard",
    "mark_ties",
    "ranked",
    "read_leaderboard",
    "trial_row",
    "write_leaderboard",
]


class Status(StrEnum):
    """A trial's status in the leaderboard."""

    COMPLETED = "completed"  # trained every epoch
    STOPPED = "stopped"  # stopped early by the scheduler (its best epoch still counts)
    DIVERGED = "diverged"  # a non-finite loss: no metrics
    ERROR = "error"  # failed and out of retries
    PENDING = "pending"  # no epoch reported
    INFEASIBLE = "infeasible"  # has a model, but misses `search.constraints`: never exported by default


RANKED = (Status.COMPLETED, Status.STOPPED)  # the statuses with metrics


TIE_COLUMNS = [f"{VAL_AUROC}_ci95_lo", f"{VAL_AUROC}_ci95_hi", "tied_with_best", "delta_ci95_lo", "delta_ci95_hi"]
COLUMNS = [
    "rank",
    "pareto_rank",
    "trial_id",
    "pack",
    "status",
    VAL_AUROC,
    *TIE_COLUMNS,
    VAL_ACCURACY,
    VAL_LOSS,
    VAL_SENSITIVITY,
    VAL_SPECIFICITY,
    "epochs",
    BEST_EPOCH,
    TRAIN_SECONDS,
    N_PARAMS,
    LATENCY_MS,
    NODE,
    "error",
    *HYPERPARAMETERS,
    "checkpoint",
]


def _status(metrics: dict[str, Any], error: str | None, max_epochs: int) -> Status:
    epochs = int(metrics.get(EPOCH, 0) or 0)
    if error:
        return Status.ERROR
    if metrics.get(DIVERGED):
        return Status.DIVERGED
    if epochs >= max_epochs:
        return Status.COMPLETED
    return Status.STOPPED if epochs > 0 else Status.PENDING


def trial_row(
    trial_id: str,
    config: dict[str, Any],
    metrics: dict[str, Any] | None,
    *,
    max_epochs: int,
    error: str | None = None,
    checkpoint: str | None = None,
    pack: str | None = None,
) -> dict[str, Any]:
    """One leaderboard row from a configuration's sampled hyperparameters and last reported metrics; `pack`
    is the Tune trial that trained it."""
    metrics = metrics or {}
    status = _status(metrics, error, max_epochs)
    ranks = status in RANKED
    hp = describe(config)
    return {
        "trial_id": trial_id,
        "pack": pack,
        "status": status,
        **{m: metrics.get(best(m)) if ranks else None for m in (*VALIDATION_METRICS, *CONSTRAINT_METRICS.values())},
        "epochs": int(metrics.get(EPOCH, 0) or 0),
        BEST_EPOCH: metrics.get(BEST_EPOCH),
        TRAIN_SECONDS: round(float(metrics.get(TRAIN_SECONDS, 0.0) or 0.0), 2),
        N_PARAMS: metrics.get(N_PARAMS),
        LATENCY_MS: metrics.get(LATENCY_MS),
        NODE: metrics.get(NODE),
        "error": (error or "").strip().splitlines()[-1][:300] if error else None,
        **hp,
        "units": "-".join(str(w) for w in hp["units"]),
        "checkpoint": checkpoint,
    }


def build_leaderboard(rows: list[dict[str, Any]], ranking: str | Ranking) -> pd.DataFrame:
    """Rank by the metric (ties by `tiebreak`), or, for several objectives, by `pareto_rank` then the first
    objective; trials missing `ranking.constraints` become `infeasible`, ranked after."""
    ranking = Ranking(ranking) if isinstance(ranking, str) else ranking
    metric = ranking.metric
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("rank", "pareto_rank")])
    frame.insert(0, "pareto_rank", np.nan)
    if ranking.constraints:
        misses = frame.apply(lambda r: r["status"] in RANKED and shortfall(r, ranking.constraints) > 0, axis=1)
        frame.loc[misses.astype(bool), "status"] = Status.INFEASIBLE
    other = tiebreak(metric)
    keys, ascending = [metric, other, "trial_id"], [METRIC_MODES[metric] == "min", METRIC_MODES[other] == "min", True]
    if ranking.multi:
        first, mode = ranking.objectives[0]
        _pareto(frame, ranking)
        keys, ascending = ["pareto_rank", first, *keys], [True, mode == "min", *ascending]
    keys, ascending = ["_order", *keys], [True, *ascending]
    frame["_order"] = (~frame["status"].isin(RANKED)).astype(int)  # feasible models first
    frame = frame.sort_values(keys, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.drop(columns="_order")


def _pareto(frame: pd.DataFrame, ranking: Ranking) -> None:
    """`pareto_rank` of the ranked (feasible) trials with every objective measured; the others stay empty."""
    names = [m for m, _ in ranking.objectives]
    values = frame[names].apply(pd.to_numeric, errors="coerce")
    rankable = frame["status"].isin(RANKED) & values.notna().all(axis=1)
    if rankable.any():
        frame.loc[rankable, "pareto_rank"] = pareto_ranks(
            values[rankable].to_numpy(), [m for _, m in ranking.objectives]
        )


def ranked(board: pd.DataFrame) -> pd.DataFrame:
    """The trials that finished with a checkpoint (a model to export), best first."""
    return board[board["status"].isin(RANKED) & board["checkpoint"].notna()]


def mark_ties(
    frame: pd.DataFrame,
    intervals: dict[str, tuple[float, float]],
    deltas: dict[str, tuple[float, float]],
    best: str | None,
) -> pd.DataFrame:
    """Fill the AUROC interval columns from `intervals` (trial_id -> (lo, hi)) and
    the difference columns from `deltas` (trial_id -> (lo, hi) of trial - `best`);
    `best` is tied with itself, a trial in `deltas` when its interval holds 0."""
    frame = frame.copy()
    nan = (math.nan, math.nan)
    for name, source in ((f"{VAL_AUROC}_ci95", intervals), ("delta_ci95", deltas)):
        pairs = [source.get(t, nan) for t in frame["trial_id"]]
        frame[f"{name}_lo"] = np.array([lo for lo, _ in pairs], dtype=float)
        frame[f"{name}_hi"] = np.array([hi for _, hi in pairs], dtype=float)
    lo, hi = frame["delta_ci95_lo"], frame["delta_ci95_hi"]
    tied = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for i, tid in frame["trial_id"].items():
        if tid == best:
            tied[i] = True
        elif tid in deltas and frame.at[i, "status"] in RANKED:
            tied[i] = bool(lo[i] <= 0 <= hi[i])
    frame["tied_with_best"] = tied
    return frame


def write_leaderboard(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` atomically (a reader never sees half a file)."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))


def read_leaderboard(results_dir: str | Path) -> pd.DataFrame:
    path = Path(results_dir) / LEADERBOARD_FILE
    if not Path(results_dir).is_dir():
        raise HpsearchError(f"{results_dir}: results directory not found")
    if not path.is_file():
        raise HpsearchError(f"{path}: no leaderboard yet (no trial has finished in this sweep)")
    return pd.read_csv(
        path, dtype={"trial_id": str, "pack": str, "node": str, "units": str, "error": str, "checkpoint": str}
    )
