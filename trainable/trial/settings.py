"""The fixed run settings of a sweep's trials: what crosses the process boundary besides the data.

Contract: `TrialSettings` is frozen and travels to every trial once, through
`tune.with_parameters`, next to the `Dataset`; Tune's `config` carries only the
sampled hyperparameters. The driver builds it from the config
(`search.sweep.tuner.trial_settings`); `hpsearch pick` changes only its `seed`.
It has no defaults: every value comes from the config.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrialSettings"]


@dataclass(frozen=True)
class TrialSettings:
    max_epochs: int  # epochs per trial (a scheduler may stop it sooner)
    metric: str  # the validation metric the best epoch is chosen by (`trainable.names.METRIC_MODES`)
    seed: int  # weight initialisation and shuffling
    cpus: int  # TensorFlow threads of the trial's process
    class_weight: str | None  # None, or "balanced"
    # Epochs at which the trial checkpoints its best model so far (a scheduler's
    # decision epochs and the last one); None or empty: at every improvement.
    checkpoint_epochs: tuple[int, ...] | None
    # (export.threshold, export.target_sensitivity) when the sweep constrains the operating point: each
    # epoch then also reports `val_sensitivity` and `val_specificity` at the threshold chosen on validation.
    operating_point: tuple[str, float | None] | None
    # The name of the sweep's early-stopping referee, a Ray actor applying ASHA's rule to every configuration
    # of every pack (`search.sweep.early_stopping`); None: no early stopping.
    rungs: str | None
