"""Export a trial's best-epoch model: model file, test-split score, model card.

Contract: `export_model(checkpoint_dir, row, data, cfg, out_dir)` loads the
trial's checkpointed Keras model, scores it ONCE on the held-out test split,
and writes `out_dir/model.keras` (takes raw features) and
`out_dir/model_card.json` with keys `hyperparameters`, `validation`, `test`,
`data`, `versions` (plus `trial_id`, `metric`, `created`, `threshold`), and
`out_dir/model_card.md` (the same card for people: `card_markdown(card)`).
The folder is built beside the target and renamed into place, so it is never
half-written.

Clinical side (`settings` is the config's `export` section): the operating
threshold is chosen on the VALIDATION split (`trainable.metrics.
choose_threshold`) and stored in the card's `threshold` block; the `test` block
holds `score()`'s auroc/accuracy/loss (accuracy at the arg-max) plus
`trainable.metrics.clinical_metrics` at that threshold (AUROC 95% CI, AUPRC,
sensitivity, specificity, PPV, NPV, Brier, calibration slope/intercept); the
`validation` block adds the same at the threshold on the validation split.
Imports Keras inside the function (driver side, after the sweep).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from trainable.columns import to_model_input
from trainable.metrics import choose_threshold, clinical_metrics, score
from trainable.train import MODEL_FILE

__all__ = ["CARD_FILE", "CARD_MD_FILE", "MODEL_FILE", "card_markdown", "export_model", "predict_proba", "versions"]

CARD_FILE = "model_card.json"
CARD_MD_FILE = "model_card.md"
_PACKAGES = ("hpsearch", "tensorflow", "keras", "ray", "optuna", "numpy", "pandas", "scikit-learn")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _hyperparameters(row: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    keys = ["n_layers", "activation", "dropout", "l2", "learning_rate", "batch_size", "optimizer"]
    hp = {k: config[k] for k in keys if k in config}
    hp["units"] = [int(config[f"units_{i}"]) for i in range(int(config["n_layers"]))]
    return hp


def predict_proba(model, X) -> np.ndarray:
    """The model's probabilities for `X` (a matrix or a dict of columns), as at export.
    `hpsearch predict` calls this too, so it reproduces the card's test predictions."""
    return np.asarray(model.predict(to_model_input(X), verbose=0), dtype=np.float64)


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
        "positive_class": positive,
        "rule": f"predict `{positive}` when P({positive}) >= value",
    }


def _named(block: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    """Multiclass: label each per-class entry with its class name."""
    if "per_class" in block:
        block["per_class"] = [{"class": name, **entry} for name, entry in zip(class_names, block["per_class"])]
    return block


def export_model(
    checkpoint_dir: str | Path,
    trial_id: str,
    trial_config: dict[str, Any],
    validation: dict[str, Any],
    data,
    metric: str,
    out_dir: str | Path,
    *,
    settings,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write model + card for one trial; returns the card. `settings`: the config's
    `export` section; `extra`: more top-level card keys (e.g. `pick`)."""
    from trainable.model import load_model

    out_dir = Path(out_dir)
    model = load_model(Path(checkpoint_dir) / MODEL_FILE)
    proba = predict_proba(model, data.X_test)
    val_proba = predict_proba(model, data.X_val)
    threshold = _threshold(data, val_proba, settings)
    boot = {"n_boot": settings.n_boot, "seed": settings.seed, "threshold": threshold["value"]}
    val_clinical = clinical_metrics(data.y_val, val_proba, **boot)
    card = {
        "trial_id": trial_id,
        "metric": metric,
        "training_seed": trial_config.get("seed"),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hyperparameters": _hyperparameters(validation, trial_config),
        "validation": {
            **validation,
            **{k: val_clinical.get(k) for k in ("auroc_ci95", "sensitivity", "specificity", "ppv", "npv")},
        },
        "threshold": threshold,
        "test": _named({**score(data.y_test, proba), **clinical_metrics(data.y_test, proba, **boot)}, data.class_names),
        "data": data.summary(),
        "inputs": (
            {"layout": "matrix", "shape": [None, data.n_features], "dtype": "float32", "features": list(data.feature_names)}
            if data.layout == "matrix"
            else {"layout": "columns", "inputs": {c["input"]: c["name"] for c in data.schema}}
        ),
        "outputs": (
            "probability of class 1 (`data.class_names[1]`), shape (n, 1)"
            if data.n_classes == 2
            else "probability per class (`data.class_names` order), shape (n, K)"
        ),
        "versions": versions(),
        **(extra or {}),
    }
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save(staging / MODEL_FILE)
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (staging / CARD_MD_FILE).write_text(card_markdown(card))
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)
    return card


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{_num(value[0], digits)} to {_num(value[1], digits)}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _with_ci(block: dict[str, Any], key: str) -> str:
    ci = block.get(f"{key}_ci95")
    text = _num(block.get(key))
    return f"{text} ({_num(ci)})" if ci else text


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown, for people (the JSON is for programs)."""
    hp, data, test, val = card["hyperparameters"], card["data"], card["test"], card["validation"]
    thr = card.get("threshold") or {}
    classes = data.get("class_names", [])
    lines = [
        f"# Model card: trial {card['trial_id']}",
        "",
        f"Created {card.get('created', '?')} by hpsearch. The search optimised `{card.get('metric')}` on the "
        "validation split; the test split was never seen by the search and was scored once, for this model.",
        "",
        "## Intended use and limits",
        "",
        "A research model: a multilayer perceptron that outputs the probability of "
        + (f"`{classes[1]}`" if len(classes) == 2 else "each class")
        + " from the features below. It was developed and tested on one split of one dataset; it is not "
        "externally validated and is not a medical device. Check calibration and the operating threshold on "
        "your own population before any clinical use (TRIPOD+AI).",
        "",
        "## Model",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        f"| hidden layers (units) | {len(hp.get('units', []))} ({', '.join(map(str, hp.get('units', [])))}) |",
        *(
            f"| {key} | {f'{hp[key]:.3g}' if isinstance(hp[key], float) else hp[key]} |"
            for key in ("activation", "dropout", "l2", "learning_rate", "batch_size", "optimizer")
            if key in hp
        ),
        f"| best epoch (validation) | {val.get('epoch', 'n/a')} |",
    ]
    if card.get("training_seed") is not None:
        lines.append(f"| training seed | {card['training_seed']} |")
    lines += [
        "",
        "## Data",
        "",
        f"- source: `{data.get('source')}` (sha256 `{str(data.get('sha256', ''))[:16]}...`)",
        f"- rows: {data.get('n_train')} train / {data.get('n_val')} validation / {data.get('n_test')} test "
        "(stratified, seeded)",
        f"- {data.get('n_features')} features: {', '.join(map(str, data.get('feature_names', [])))}",
        f"- classes: {', '.join(map(str, classes))}",
        "",
        "## Operating threshold",
        "",
    ]
    if thr.get("value") is not None:
        how = (
            "Youden's J (maximises sensitivity + specificity - 1)"
            if thr.get("method") == "youden"
            else f"the highest threshold with validation sensitivity >= {thr.get('target_sensitivity')}"
        )
        lines.append(f"{thr['rule'].replace('value', _num(thr['value'], 4))}. Chosen on the validation split by {how}.")
    else:
        lines.append(thr.get("rule", "predict the class with the highest probability") + ".")
    lines += [
        "",
        "## Performance",
        "",
        "| metric | validation | test |",
        "|---|---|---|",
        f"| AUROC (95% bootstrap CI) | {_num(val.get('val_auroc'))} ({_num(val.get('auroc_ci95'))}) | "
        f"{_with_ci(test, 'auroc')} |",
    ]
    if "sensitivity" in test:
        lines += [
            f"| sensitivity at threshold (Wilson 95% CI) | {_num(val.get('sensitivity'))} | "
            f"{_with_ci(test, 'sensitivity')} |",
            f"| specificity at threshold (Wilson 95% CI) | {_num(val.get('specificity'))} | "
            f"{_with_ci(test, 'specificity')} |",
            f"| PPV | {_num(val.get('ppv'))} | {_num(test.get('ppv'))} |",
            f"| NPV | {_num(val.get('npv'))} | {_num(test.get('npv'))} |",
        ]
    lines += [
        f"| AUPRC | | {_num(test.get('auprc'))} |",
        f"| Brier score | | {_num(test.get('brier'), 4)} |",
        f"| calibration slope (ideal 1) | | {_num(test.get('calibration_slope'))} |",
        f"| calibration intercept (ideal 0) | | {_num(test.get('calibration_intercept'))} |",
        f"| log loss | {_num(val.get('val_loss'))} | {_num(test.get('loss'))} |",
        "",
    ]
    if "confusion" in test:
        c = test["confusion"]
        pos, neg = (classes[1], classes[0]) if len(classes) == 2 else ("positive", "negative")
        lines += [
            f"Test split at the threshold ({test.get('n')} rows, {test.get('n_positive')} `{pos}`):",
            "",
            f"| | actual `{pos}` | actual `{neg}` |",
            "|---|---|---|",
            f"| predicted `{pos}` | {c['tp']} (TP) | {c['fp']} (FP) |",
            f"| predicted `{neg}` | {c['fn']} (FN) | {c['tn']} (TN) |",
            "",
        ]
    if test.get("calibration_slope") is None and len(classes) == 2:
        lines += ["The calibration slope is not estimable here (the test scores separate the classes perfectly).", ""]
    pick = card.get("pick")
    if pick:
        lines += [
            "## Robust pick",
            "",
            f"Chosen by `hpsearch pick` among the top {pick.get('top_k')} configurations, each retrained with "
            f"seeds {pick.get('seeds')}: mean validation `{card.get('metric')}` {_num(pick.get('mean'), 4)} "
            f"(std {_num(pick.get('std'), 4)}); this model is the seed-{card.get('training_seed')} run.",
            "",
        ]
    lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items()), ""]
    return "\n".join(lines)
