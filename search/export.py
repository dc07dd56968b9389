"""Exporting a ranked trial: its model, its one test-split scoring, its model card.

Contract: `export_model(row, checkpoint, sampled, data, out_dir, ...)` is the
one way a trial becomes an exported model (the end of a sweep, `hpsearch
export`, `hpsearch pick`): it loads the trial's best-epoch model from
`checkpoint`, takes its validation probabilities (cross-validated: the pooled
out-of-fold predictions, `trainable.validation`), chooses the operating
threshold on them (`trainable.metrics.choose_threshold`), scores the held-out
test split ONCE (`score()` plus `clinical_metrics` at that threshold) with the
model to export (cross-validated: the k fold-models averaged), and writes
`out_dir/model.keras` (takes raw features), `model_card.json`,
`model_card.md` (`search.card`) and `predictions.npz` (the validation and
test probabilities the card was computed from, for the report). `row` is the trial's leaderboard row (its
`trial_id`, best-epoch `val_*` and `best_epoch`); `sampled` its sampled
hyperparameters. The folder is built beside the target and swapped in, so it
is never half-written. `export_trial(results_dir, trial_id, out_dir,
target_sensitivity)` is `hpsearch export`: any ranked trial of a finished
sweep, to a new folder or over an earlier export. Keras is imported inside
functions (driver side, after the sweep).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from search.card import build_card, card_markdown
from search.layout import CARD_FILE, CARD_MD_FILE, MODEL_FILE, PREDICTIONS_FILE, replace_folder
from search.results import open_sweep
from trainable.errors import HpsearchError
from trainable.metrics import VALIDATION_METRICS, choose_threshold, clinical_metrics, score

__all__ = ["export_model", "export_trial"]

_VAL_CLINICAL = ("auroc_ci95", "sensitivity", "specificity", "ppv", "npv")


def _threshold(data, val_proba: np.ndarray, settings) -> dict[str, Any]:
    """The operating threshold, chosen on the validation split (binary tasks)."""
    if data.n_classes != 2:
        return {"value": None, "method": "argmax", "rule": "predict the class with the highest probability"}
    positive = data.class_names[1]
    value = choose_threshold(
        data.y_val, val_proba.reshape(-1), method=settings.threshold, target_sensitivity=settings.target_sensitivity
    )
    return {
        "value": value,
        "method": settings.threshold,
        "target_sensitivity": settings.target_sensitivity,
        "chosen_on": "validation",
        "out_of_fold": bool(data.n_folds),
        "positive_class": positive,
        "rule": f"predict `{positive}` when P({positive}) >= value",
    }


def _named(block: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    """Multiclass: label each per-class entry with its class name."""
    if "per_class" in block:
        block["per_class"] = [{"class": name, **entry} for name, entry in zip(class_names, block["per_class"])]
    return block


def export_model(
    row: Mapping[str, Any],
    checkpoint: str | Path,
    sampled: dict[str, Any],
    data,
    out_dir: str | Path,
    *,
    metric: str,
    settings,
    training_seed: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write model + card for one trial; returns the card. `settings`: the config's
    `export` section; `extra`: more top-level card keys (e.g. `pick`)."""
    from trainable.model import load_model, predict_proba
    from trainable.validation import scheme_for, validation_proba

    trained = load_model(Path(checkpoint) / MODEL_FILE)
    val_proba = validation_proba(trained, data)
    model = scheme_for(data).export(trained)
    proba = predict_proba(model, data.X_test)
    threshold = _threshold(data, val_proba, settings)
    boot = {"n_boot": settings.n_boot, "seed": settings.seed, "threshold": threshold["value"]}
    val_clinical = clinical_metrics(data.y_val, val_proba, **boot)
    validation = {**{m: float(row[m]) for m in VALIDATION_METRICS}, "epoch": int(row["best_epoch"]),
                  "folds": data.n_folds, "n": int(len(data.y_val))}
    card = build_card(
        trial_id=str(row["trial_id"]),
        metric=metric,
        training_seed=training_seed,
        sampled=sampled,
        validation={**validation, **{k: val_clinical.get(k) for k in _VAL_CLINICAL}},
        threshold=threshold,
        test=_named({**score(data.y_test, proba), **clinical_metrics(data.y_test, proba, **boot)}, data.class_names),
        data=data,
        extra=extra,
    )

    def fill(folder: Path) -> None:
        model.save(folder / MODEL_FILE)
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        (folder / CARD_MD_FILE).write_text(card_markdown(card))
        np.savez(folder / PREDICTIONS_FILE, validation=val_proba, test=proba)

    replace_folder(Path(out_dir), fill)
    return card


def _check_out(out: Path, sweep: Path) -> None:
    """Never replace a folder that is not an earlier export (it would be deleted)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise HpsearchError(f"--out {out}: exists and is not a directory")
    if out.resolve() == sweep or sweep.is_relative_to(out.resolve()):
        raise HpsearchError(f"--out {out}: is the sweep's folder (or holds it); choose a new folder")
    if any(out.iterdir()) and not (out / CARD_FILE).is_file():
        raise HpsearchError(f"--out {out}: exists, is not empty and holds no exported model; choose a new folder")


def export_trial(
    results_dir: str | Path, trial_id: str | None, out_dir: str | Path, target_sensitivity: float | None = None
) -> dict[str, Any]:
    """Export one trial (default: the best) of a finished sweep to `out_dir`; returns its model card."""
    from trainable.quiet import quiet_tensorflow

    sweep = open_sweep(results_dir)
    out = Path(out_dir)
    _check_out(out, sweep.path)
    row = sweep.trial(trial_id)
    checkpoint = sweep.checkpoint(row)
    sampled = sweep.trial_config(str(row["trial_id"]))
    settings = sweep.config.export
    if target_sensitivity is not None:
        if not 0 < target_sensitivity <= 1:
            raise HpsearchError(f"--target-sensitivity must be in (0, 1], got {target_sensitivity}")
        settings = settings.model_copy(update={"threshold": "target_sensitivity", "target_sensitivity": target_sensitivity})
    data = sweep.data()
    quiet_tensorflow()
    return export_model(row, checkpoint, sampled, data, out, metric=sweep.config.search.metric, settings=settings,
                        training_seed=sweep.config.search.seed)
