"""Validation AUROC 95% intervals of a sweep's trials, and which trials are tied with the best.

Contract: `validation_intervals(board, data, settings, sweep_dir)` returns the
leaderboard with each ranked trial's `val_auroc_ci95_lo/hi` and
`tied_with_best` filled in (`search.leaderboard.mark_ties`). HOW: each ranked
trial's best-epoch validation probabilities are read from its checkpoint
(saved there by the trial; a checkpoint without them is loaded and predicts
the validation split once); the interval is the model card's seeded,
stratified bootstrap (`trainable.metrics.auroc_ci`), with the same resamples
for every trial. That is honest (non-parametric, on the real predictions,
ties included) and cheap. Overlapping intervals are a conservative reading
of "statistically tied" (the trials share one validation split), which is
what a reviewer needs to see. A trial whose checkpoint is gone gets no
interval and no tie flag. Keras is imported only for such a fallback.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from search.layout import MODEL_FILE
from search.leaderboard import mark_ties, ranked
from search.results import locate_checkpoint
from trainable.checkpoint import read_val_proba
from trainable.data import Dataset
from trainable.errors import HpsearchError
from trainable.metrics import auroc_ci

__all__ = ["validation_intervals"]


def _validation_proba(checkpoint: Path, data: Dataset) -> np.ndarray:
    saved = read_val_proba(checkpoint)
    if saved is not None:
        return saved
    from trainable.model import load_model, predict_proba

    return predict_proba(load_model(checkpoint / MODEL_FILE), data.X_val)


def validation_intervals(board: pd.DataFrame, data: Dataset, settings, sweep_dir: str | Path | None = None) -> pd.DataFrame:
    """`board` with its interval and tie columns filled in; `settings` is the config's `export` section."""
    intervals: dict[str, tuple[float, float]] = {}
    for _, row in ranked(board).iterrows():
        try:
            checkpoint = locate_checkpoint(sweep_dir, row)
        except HpsearchError:
            continue
        lo, hi = auroc_ci(data.y_val, _validation_proba(checkpoint, data), n_boot=settings.n_boot, seed=settings.seed)
        if not (math.isnan(lo) or math.isnan(hi)):
            intervals[str(row["trial_id"])] = (lo, hi)
    return mark_ties(board, intervals)
