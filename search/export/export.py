"""Exporting a ranked trial: its model, its one test-split scoring, its model card.

Contract: `export_model(row, checkpoint, sampled, data, out_dir, cfg=..., ...)`
is the one way a trial becomes an exported model (the end of a sweep, `hpsearch
export`, `hpsearch pick`). It loads the trial's best-epoch model from
`checkpoint`, takes its validation probabilities (cross-validated: the pooled
out-of-fold predictions, `trainable.trial.validation`), chooses the operating
threshold on them (`trainable.stats.metrics.choose_threshold`), and scores the
held-out test split with the model to export (cross-validated: the k
fold-models averaged) and the baselines (`trainable.stats.baselines`; the
sweep passes them in `Scoring.baselines`, fitted while it ran) in ONE scoring
(`search.export.test_scoring`; the card's `warnings` say when it rests on
too few rows or events: `search.export.card_warnings`), which the test ledger records
(`search.export.ledger`: the sweep's and its results folder's): a model
already scored reuses its recorded metrics; another model is refused unless
`Scoring.reuse_test`. A sweep's own scoring (`Scoring.own`, the end of
`run`) is never refused, but when another sweep of the results folder scored
the same test split first (and not `reuse_test`), the model is exported
unscored: the card's `test` has no metrics, says which sweep scored the
split and when (`scored_by`) and how to score it anyway (`score_with`), and
`predictions.npz` holds no test probabilities. It writes
`out_dir/model.keras` (takes raw features), `serving/` (the same model as a
SavedModel that loads without hpsearch: `trainable.trial.serving`), with
`export.onnx` `model.onnx` (`serving/` as ONNX, kept only if onnxruntime
reproduces the model's validation probabilities: `search.export.onnx_file`),
`model_card.json`
(`search.records.model_card`), `model_card.md` (`search.review.card_text`)
and `predictions.npz` (the validation and test probabilities the card was
computed from, for the report). `row` is the trial's leaderboard row (its
`trial_id`, best-epoch `val_*` and `best_epoch`); `sampled` its sampled
hyperparameters. The folder is built beside the target and swapped in, so it
is never half-written. `export_trial(results_dir, trial_id, out_dir,
target_sensitivity, reuse_test)` is `hpsearch export`: any ranked trial of a
finished sweep, to a new folder or over an earlier export. Keras is imported
inside functions (driver side, after the sweep).
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.config.ranking import CONSTRAINT_METRICS
from search.config.schema import Config, ExportConfig
from search.config.space import describe
from search.export.card_warnings import scoring_warnings
from search.export.ledger import Ledger, model_key, weights_fingerprint
from search.export.onnx_file import check_onnx, write_checked_onnx
from search.export.test_scoring import evaluate
from search.records.model_card import CardBaseline, CardTest, CardThreshold, ModelCard, ScoredBy
from search.records.paths import (
    CARD_FILE,
    CARD_MD_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    SERVING_DIR,
    replace_folder,
)
from search.records.sweep_record import ModelKey
from search.records.test_ledger import LedgerEntry
from search.review.card_text import card_markdown
from search.review.sweep_results import open_sweep
from trainable.data.dataset import Dataset
from trainable.data.schema import MISSING_TOKEN
from trainable.errors import HpsearchError
from trainable.names import BEST_EPOCH, VALIDATION_METRICS
from trainable.stats.baselines import Baseline, fit_baselines
from trainable.stats.metrics import choose_threshold, clinical_metrics
from trainable.trial.serving import OUTPUT, SIGNATURE, write_serving

__all__ = ["Scoring", "export_model", "export_trial"]

_VAL_CLINICAL = ("auroc_ci95", "sensitivity", "specificity", "ppv", "npv")
_PACKAGES = ("hpsearch", "tensorflow", "keras", "ray", "optuna", "numpy", "pandas", "scikit-learn")


@dataclass(frozen=True)
class Scoring:
    """Who scores the test split (a command of the sweep in `ledger`), and whether it may be scored again.
    `baselines`: the baselines fitted already (the sweep fits them while it runs); None: fitted here.
    `own`: the sweep's own scoring (the end of `run`), never refused, and the command that scores its
    model anyway when another sweep scored the test split first (the card's `test.score_with`)."""

    ledger: Ledger
    command: str
    reuse_test: bool = False
    baselines: Callable[[], dict[str, Baseline]] | None = None
    own: str | None = None

    def check(self, key: ModelKey) -> None:
        """Refuse (before anything is scored) a model the ledger does not allow; a sweep's own: never."""
        if self.own is None:
            self.ledger.allow(key, self.reuse_test)

    def taken(self, key: ModelKey) -> LedgerEntry | None:
        """None: score the model (or reuse its recorded metrics); else the other sweep's scoring that took
        the test split (a sweep's own scoring only: its model is exported unscored)."""
        if self.ledger.previous(key) is not None:
            return None
        return self.ledger.claim(key, self.command, self.reuse_test, own=self.own is not None)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _threshold(data: Dataset, val_proba: np.ndarray, settings: ExportConfig) -> CardThreshold:
    """The operating threshold, chosen on the validation split (binary tasks)."""
    if data.n_classes != 2:
        return CardThreshold(value=None, method="argmax", rule="predict the class with the highest probability")
    positive = data.class_names[1]
    value = choose_threshold(
        data.y_val, val_proba.reshape(-1), method=settings.threshold, target_sensitivity=settings.target_sensitivity
    )
    return CardThreshold(
        value=value,
        method=settings.threshold,
        target_sensitivity=settings.target_sensitivity,
        chosen_on="validation",
        out_of_fold=bool(data.n_folds),
        positive_class=positive,
        rule=f"predict `{positive}` when P({positive}) >= value",
    )


def _threshold_rule(settings: ExportConfig) -> str:
    return settings.threshold + (f" {settings.target_sensitivity}" if settings.target_sensitivity is not None else "")


def _fit_baselines(data: Dataset, cfg: Config) -> dict[str, Baseline]:
    settings = cfg.export
    return fit_baselines(
        data,
        list(settings.baselines),
        cfg.train.class_weight,
        settings.seed,
        settings.baseline_max_rows,
        settings.baseline_grid.model_dump(),
    )


def _test_scoring(
    data: Dataset, proba: np.ndarray, threshold: CardThreshold, cfg: Config, key: ModelKey, scoring: Scoring
) -> tuple[CardTest, dict[str, CardBaseline]]:
    """(test block, baselines block): the ledger's, for a model scored before; else scored now and recorded."""
    previous = scoring.ledger.previous(key)
    if previous is not None:
        test, baselines = previous.test, previous.baselines
    else:
        fitted = scoring.baselines() if scoring.baselines is not None else _fit_baselines(data, cfg)
        test, baselines = evaluate(data, proba, threshold.value, cfg.export, fitted, cfg.train.class_weight)
        scoring.ledger.record(key, scoring.command, test, baselines)
    n = scoring.ledger.count()
    return test.model_copy(update={"scorings": n, "scored": True, "unbiased": n <= 1}), baselines


def _unscored(data: Dataset, taken: LedgerEntry, scoring: Scoring) -> CardTest:
    """The test block of a model not scored: who scored its test split first, and how to score it anyway."""
    by = ScoredBy(
        sweep=taken.sweep.name,
        out_dir=taken.sweep.out_dir,
        when=taken.when,
        command=taken.command,
        trial_id=taken.model.trial_id,
    )
    return CardTest(
        n=int(len(data.y_test)),
        scored=False,
        scored_by=by,
        score_with=scoring.own,
        scorings=scoring.ledger.count(),
    )


def _objectives(row: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    """The card's record of a multi-objective or constrained sweep: every objective's value for this trial
    (its validation numbers: optimistic for a trial chosen on them), its Pareto rank, the constraints."""
    ranking = cfg.search.ranking
    if not (ranking.multi or ranking.constraints):
        return {}

    def value(name: str) -> float | None:
        v = row.get(name)
        return None if v is None or pd.isna(v) else float(v)

    rank = value("pareto_rank")
    return {
        "objectives": [{"metric": m, "mode": mode, "value": value(m)} for m, mode in ranking.objectives],
        "pareto_rank": None if rank is None else int(rank),
        "constraints": {k: {"bound": b, "value": value(CONSTRAINT_METRICS[k])} for k, b in ranking.constraints.items()},
    }


def _inputs(data: Dataset) -> dict[str, Any]:
    """How `model.keras` takes its rows, and how `serving/` does (its signature's inputs, one per column)."""
    serving = {
        "signature": SIGNATURE,
        "inputs": {c.input: {"column": c.name, "dtype": "float32" if c.numeric else "string"} for c in data.schema},
        "output": OUTPUT,
        "missing": {"float32": "NaN", "string": MISSING_TOKEN},
    }
    if data.input_form == "matrix":
        return {
            "layout": "matrix",
            "shape": [None, data.n_features],
            "dtype": "float32",
            "features": list(data.feature_names),
            "serving": serving,
        }
    return {"layout": "columns", "inputs": {c.input: c.name for c in data.schema}, "serving": serving}


def _outputs(data: Dataset) -> str:
    if data.n_classes == 2:
        return "probability of class 1 (`data.class_names[1]`), shape (n, 1)"
    return "probability per class (`data.class_names` order), shape (n, K)"


def _validation(
    row: Mapping[str, Any], data: Dataset, val_proba: np.ndarray, threshold: CardThreshold, settings: ExportConfig
) -> dict[str, Any]:
    """The card's validation block: the trial's best epoch, and the clinical metrics at the threshold."""
    clinical = clinical_metrics(
        data.y_val,
        val_proba,
        threshold=threshold.value,
        n_boot=settings.n_boot,
        seed=settings.seed,
        groups=data.val_groups,
    )
    return {
        **{m: float(row[m]) for m in VALIDATION_METRICS},
        "epoch": int(row[BEST_EPOCH]),
        "folds": data.n_folds,
        "n": int(len(data.y_val)),
        **{k: clinical.get(k) for k in _VAL_CLINICAL},
    }


def export_model(
    row: Mapping[str, Any],
    checkpoint: str | Path,
    sampled: dict[str, Any],
    data: Dataset,
    out_dir: str | Path,
    *,
    cfg: Config,
    training_seed: int,
    scoring: Scoring,
    extra: dict[str, Any] | None = None,
) -> ModelCard:
    """Write model + card for one trial; returns the card. `cfg.export` holds the
    threshold rule and the evaluation's settings; `extra`: more top-level card keys (e.g. `pick`)."""
    from trainable.trial.model import load_model, predict_proba
    from trainable.trial.validation import scheme_for, validation_proba

    settings = cfg.export
    key = model_key(row["trial_id"], training_seed, row[BEST_EPOCH], _threshold_rule(settings))
    scoring.check(key)  # before anything is loaded or written...
    trained = load_model(Path(checkpoint) / MODEL_FILE)
    key = key.model_copy(update={"weights": weights_fingerprint(trained)})
    scoring.check(key)  # ...and again for these very weights (a retrain is another model)
    val_proba = validation_proba(trained, data)
    model = scheme_for(data).export(trained)
    threshold = _threshold(data, val_proba, settings)
    taken = scoring.taken(key)
    proba: np.ndarray | None = None  # unscored: the test rows are not even predicted
    if taken is None:
        proba = predict_proba(model, data.X_test)
        test, baselines = _test_scoring(data, proba, threshold, cfg, key, scoring)
    else:
        test, baselines = _unscored(data, taken, scoring), {}
    hyperparameters = describe(sampled)
    hyperparameters["units"] = [int(w) for w in hyperparameters["units"]]
    card = ModelCard(
        trial_id=str(row["trial_id"]),
        metric=cfg.search.metric,
        training_seed=training_seed,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        hyperparameters=hyperparameters,
        validation=_validation(row, data, val_proba, threshold, settings),
        threshold=threshold,
        test=test,
        data=data.summary(),
        inputs=_inputs(data),
        outputs=_outputs(data),
        versions=versions(),
        baselines=baselines,
        class_weight=cfg.train.class_weight,
        warnings=scoring_warnings(data.y_test, data.class_names, data.subgroups),
        **_objectives(row, cfg),
        **(extra or {}),
    )

    def fill(folder: Path) -> None:
        nonlocal card
        model.save(folder / MODEL_FILE)
        write_serving(model, data.schema, data.n_classes, folder / SERVING_DIR)
        if settings.onnx:
            card = card.model_copy(update={"inputs": {**card.inputs, "onnx": write_checked_onnx(folder, model, data)}})
        card.write(folder)
        (folder / CARD_MD_FILE).write_text(card_markdown(card))
        if proba is None:  # unscored: no test probabilities
            np.savez(folder / PREDICTIONS_FILE, validation=val_proba)
        else:
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
    results_dir: str | Path,
    trial_id: str | None,
    out_dir: str | Path,
    target_sensitivity: float | None,
    reuse_test: bool,
) -> ModelCard:
    """Export one trial (default: the best) of a finished sweep to `out_dir`; returns its model card."""
    from trainable.runtime.environment import prepare_tensorflow

    sweep = open_sweep(results_dir)
    check_onnx(sweep.config)
    out = Path(out_dir)
    _check_out(out, sweep.path)
    row = sweep.trial(trial_id)
    checkpoint = sweep.checkpoint(row)
    sampled = sweep.trial_config(str(row["trial_id"]))
    cfg = sweep.config
    if target_sensitivity is not None:
        if not 0 < target_sensitivity <= 1:
            raise HpsearchError(f"--target-sensitivity must be in (0, 1], got {target_sensitivity}")
        settings = cfg.export.model_copy(
            update={"threshold": "target_sensitivity", "target_sensitivity": target_sensitivity}
        )
        cfg = cfg.model_copy(update={"export": settings})
    scoring = Scoring(Ledger(sweep.path), "export", reuse_test)
    # refused before the data is loaded
    scoring.ledger.allow(
        model_key(row["trial_id"], cfg.search.seed, row[BEST_EPOCH], _threshold_rule(cfg.export)), reuse_test
    )
    data = sweep.data()
    prepare_tensorflow()
    return export_model(row, checkpoint, sampled, data, out, cfg=cfg, training_seed=cfg.search.seed, scoring=scoring)
