"""The one scoring of the test split: the model's clinical metrics, baselines, decision curve, subgroups.

Contract: `evaluate(data, proba, threshold, settings, baselines, class_weight)`
returns `(test, baselines_block)` for the model card, all computed on the
held-out test rows (`proba`: the exported model's test probabilities):
- `test`: `score()` and `clinical_metrics` at the operating threshold (with
  their 95% intervals), plus
  - `vs_baseline`: `{baseline, delta_auroc, delta_auroc_ci95, verdict}`, the
    model's AUROC minus the best baseline's (best on validation AUROC), paired
    on the same test rows (DeLong), and the verdict of that interval
    (`search.records.model_card.verdict_of`: better, not_shown_better, worse);
  - `decision_curve` (binary): `thresholds`, and the net benefit of `model`,
    of each baseline (`baselines`), of `treat_all` and of `treat_none`
    (Vickers & Elkin 2006), over `export.decision_thresholds` in steps of 0.01;
  - `subgroups`: one entry per group of each `export.subgroups` column,
    `{column, group, n, events, auroc, auroc_ci95, observed_rate,
    mean_predicted}`; a group with fewer than 10 rows or a single class gets
    null metrics;
  - `calibration_note`, when `train.class_weight: balanced` shifted the
    probabilities.
- `baselines_block`: `{name: {validation: {...}, test: {...}, fit_rows,
  train_rows, chosen, grid}}`, each with `summary_metrics` (AUROC, AUPRC,
  Brier with intervals; loss, accuracy), the training rows the baseline was
  fitted on out of those there were (`export.baseline_max_rows`), and the
  setting chosen on validation out of the grid searched
  (`export.baseline_grid`).
With `data.group`, every interval takes patients as its units
(`data.test_groups`, `data.val_groups`: `trainable.stats.clusters`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from search.config.schema import ExportConfig
from search.records.model_card import CardBaseline, CardTest, verdict_of
from trainable.data.dataset import Dataset
from trainable.names import VAL_AUROC
from trainable.stats.baselines import Baseline
from trainable.stats.intervals import as_class_proba, auroc_ci, paired_difference
from trainable.stats.metrics import clinical_metrics, net_benefit, score, summary_metrics

__all__ = ["MIN_SUBGROUP_ROWS", "evaluate"]

MIN_SUBGROUP_ROWS = 10
_CLASS_WEIGHT_NOTE = (
    "train.class_weight: balanced weighted the classes equally in training, which shifts the "
    "predicted probabilities away from the population's risks: read the calibration intercept "
    "and the predicted probabilities with that in mind"
)


def _named(block: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    """Multiclass: label each per-class entry with its class name."""
    if "per_class" in block:
        block["per_class"] = [{"class": name, **entry} for name, entry in zip(class_names, block["per_class"])]
    return block


def _vs_baseline(
    data: Dataset, proba: np.ndarray, baselines: dict[str, Baseline], block: dict[str, Any], n_boot: int, seed: int
) -> dict[str, Any] | None:
    if not baselines:
        return None
    best = max(baselines, key=lambda name: block[name]["validation"]["auroc"])
    delta, lo, hi = paired_difference(
        VAL_AUROC, data.y_test, proba, baselines[best].test, n_boot=n_boot, seed=seed, groups=data.test_groups
    )
    return {"baseline": best, "delta_auroc": delta, "delta_auroc_ci95": [lo, hi], "verdict": verdict_of([lo, hi])}


def _decision_curve(
    y: np.ndarray, proba: np.ndarray, baselines: dict[str, Baseline], span: list[float]
) -> dict[str, Any] | None:
    if as_class_proba(proba).shape[1] != 2:
        return None
    thresholds = np.round(np.arange(span[0], span[1] + 1e-9, 0.01), 4)
    model, treat_all = net_benefit(y, as_class_proba(proba)[:, 1], thresholds)
    return {
        "thresholds": [float(t) for t in thresholds],
        "model": model,
        "baselines": {
            name: net_benefit(y, as_class_proba(b.test)[:, 1], thresholds)[0] for name, b in baselines.items()
        },
        "treat_all": treat_all,
        "treat_none": [0.0] * len(thresholds),
    }


def _subgroup(column: str, group: str, y: np.ndarray, full: np.ndarray, units: np.ndarray | None) -> dict[str, Any]:
    binary = full.shape[1] == 2
    entry: dict[str, Any] = {
        "column": column,
        "group": group,
        "n": int(len(y)),
        "events": int(y.sum()) if binary else None,
        "observed_rate": float(y.mean()) if binary else None,
        "mean_predicted": float(full[:, 1].mean()) if binary else None,
        "auroc": None,
        "auroc_ci95": None,
    }
    if len(y) >= MIN_SUBGROUP_ROWS and len(np.unique(y)) == full.shape[1]:
        entry["auroc"] = score(y, full[:, 1] if binary else full)["auroc"]
        entry["auroc_ci95"] = list(auroc_ci(y, full, units))
    return entry


def _subgroups(data: Dataset, proba: np.ndarray) -> list[dict[str, Any]]:
    full, units = as_class_proba(proba), data.test_groups
    return [
        _subgroup(
            column,
            str(group),
            data.y_test[labels == group],
            full[labels == group],
            None if units is None else units[labels == group],
        )
        for column, labels in data.subgroups.items()
        for group in sorted(set(labels), key=str)
    ]


def evaluate(
    data: Dataset,
    proba: np.ndarray,
    threshold: float | None,
    settings: ExportConfig,
    baselines: dict[str, Baseline],
    class_weight: str | None,
) -> tuple[CardTest, dict[str, CardBaseline]]:
    y, n_boot, seed = data.y_test, settings.n_boot, settings.seed
    block = {
        name: {
            "validation": summary_metrics(data.y_val, b.validation, n_boot=n_boot, seed=seed, groups=data.val_groups),
            "test": summary_metrics(y, b.test, n_boot=n_boot, seed=seed, groups=data.test_groups),
            "fit_rows": b.fit_rows,
            "train_rows": b.train_rows,
            "chosen": b.chosen,
            "grid": b.grid,
        }
        for name, b in baselines.items()
    }
    clinical = clinical_metrics(y, proba, threshold=threshold, n_boot=n_boot, seed=seed, groups=data.test_groups)
    test = _named({**score(y, proba), **clinical}, data.class_names)
    test.update(
        vs_baseline=_vs_baseline(data, proba, baselines, block, n_boot, seed),
        decision_curve=_decision_curve(y, proba, baselines, settings.decision_thresholds),
        subgroups=_subgroups(data, proba),
    )
    if class_weight == "balanced":
        test["calibration_note"] = _CLASS_WEIGHT_NOTE
    return CardTest(**test), {name: CardBaseline(**b) for name, b in block.items()}
