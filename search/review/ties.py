"""Validation AUROC intervals of a sweep's trials, and which trials are tied with the best (paired).

Contract: `validation_intervals(board, data, settings, metric, sweep_dir)`
returns the leaderboard with, for each ranked trial, `val_auroc_ci95_lo/hi`
(`trainable.stats.intervals.auroc_ci`: logit-DeLong, a score interval at 0 or 1),
`delta_ci95_lo/hi` (the 95% interval of the trial minus the best trial in the
ranking `metric`, paired on the same validation rows:
`trainable.stats.intervals.paired_difference`, DeLong for AUROC, a BCa bootstrap of
the per-row differences otherwise) and `tied_with_best` (that interval holds
0; the best trial is tied with itself). Each trial's best-epoch validation
probabilities are read from its checkpoint, where the trial saved them (a
checkpoint without them is loaded and predicts the validation rows once).
The rows are the validation split, or, cross-validated, every development
row out of fold. With `data.group` every interval takes patients as its
units (`data.val_groups`: a clustered DeLong variance, a cluster bootstrap).
A trial whose checkpoint is gone gets no intervals and no tie flag. Keras is imported only for that fallback.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from search.config.schema import ExportConfig
from search.records.paths import MODEL_FILE
from search.review.leaderboard import mark_ties, ranked
from search.review.sweep_results import locate_checkpoint
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError
from trainable.stats.intervals import auroc_ci, paired_difference
from trainable.trial.checkpoint import read_val_proba

__all__ = ["validation_intervals"]


def _validation_proba(checkpoint: Path, data: Dataset) -> np.ndarray:
    saved = read_val_proba(checkpoint)
    if saved is not None:
        return saved
    from trainable.trial.model import load_model
    from trainable.trial.validation import validation_proba

    return validation_proba(load_model(checkpoint / MODEL_FILE), data)


def _probabilities(board: pd.DataFrame, data: Dataset, sweep_dir: Path | None) -> dict[str, np.ndarray]:
    """trial id -> best-epoch validation probabilities, best-ranked first."""
    found = {}
    for _, row in ranked(board).iterrows():
        try:
            found[str(row["trial_id"])] = _validation_proba(locate_checkpoint(sweep_dir, row), data)
        except HpsearchError:
            continue  # no model to score
    return found


def validation_intervals(
    board: pd.DataFrame, data: Dataset, settings: ExportConfig, metric: str, sweep_dir: Path | None
) -> pd.DataFrame:
    """`board` with its interval and tie columns filled in; `settings` is the config's `export` section."""
    probas = _probabilities(board, data, sweep_dir)
    units = data.val_groups  # data.group's patients, or None: every row its own unit
    intervals = {tid: auroc_ci(data.y_val, p, units) for tid, p in probas.items()}
    intervals = {tid: ci for tid, ci in intervals.items() if not math.isnan(ci[0])}
    best = next(iter(probas), None)
    if best is None:
        return mark_ties(board, intervals, {}, None)
    deltas = {
        tid: paired_difference(
            metric, data.y_val, p, probas[best], n_boot=settings.n_boot, seed=settings.seed, groups=units
        )[1:]
        for tid, p in probas.items()
        if tid != best
    }
    return mark_ties(board, intervals, deltas, best)
