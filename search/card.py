"""The model card: what an exported model is, how it was chosen and how it scored, for programs and people.

Contract: `build_card(...)` returns the card as a JSON-ready dict with keys
`trial_id`, `metric`, `training_seed`, `created`, `hyperparameters` (one entry
per name of `search.space.HYPERPARAMETERS`, `units` as a list of widths),
`validation` (the trial's best-epoch `val_*` and `epoch`, plus the clinical
metrics at the threshold on the validation split), `threshold` (the operating
threshold, chosen on validation), `test` (the one test-split scoring),
`data` (source, sha256, split sizes, schema, classes), `inputs`, `outputs`,
`versions`, and any `extra` keys (e.g. `pick`; `objectives`, `pareto_rank` and
`constraints` for a multi-objective or constrained sweep: `search.export`).
`card_markdown(card)` renders it for people (`model_card.md`);
`performance_rows(card)` and `validated_on(card)` are the text the report
shows too. Imports nothing heavy.
"""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from typing import Any

from search.formatting import number, with_interval
from search.space import describe

__all__ = ["PER_CLASS_HEADER", "build_card", "card_markdown", "per_class_rows", "performance_rows", "sampled_note",
           "validated_on", "verdict", "versions"]

_PACKAGES = ("hpsearch", "tensorflow", "keras", "ray", "optuna", "numpy", "pandas", "scikit-learn")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _inputs(data) -> dict[str, Any]:
    if data.layout == "matrix":
        return {"layout": "matrix", "shape": [None, data.n_features], "dtype": "float32",
                "features": list(data.feature_names)}
    return {"layout": "columns", "inputs": {c["input"]: c["name"] for c in data.schema}}


def _outputs(data) -> str:
    if data.n_classes == 2:
        return "probability of class 1 (`data.class_names[1]`), shape (n, 1)"
    return "probability per class (`data.class_names` order), shape (n, K)"


def build_card(*, trial_id: str, metric: str, training_seed: int, sampled: dict[str, Any],
               validation: dict[str, Any], threshold: dict[str, Any], test: dict[str, Any], data,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    hyperparameters = describe(sampled)
    hyperparameters["units"] = [int(w) for w in hyperparameters["units"]]
    return {
        "trial_id": trial_id,
        "metric": metric,
        "training_seed": training_seed,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hyperparameters": hyperparameters,
        "validation": validation,
        "threshold": threshold,
        "test": test,
        "data": data.summary(),
        "inputs": _inputs(data),
        "outputs": _outputs(data),
        "versions": versions(),
        **(extra or {}),
    }


# -- Markdown --------------------------------------------------------------------------------------


def validated_on(card: dict[str, Any]) -> str:
    folds = card["validation"].get("folds") or 0
    if folds:
        return f"out-of-fold predictions of {folds}-fold cross-validation ({card['validation'].get('n')} rows pooled)"
    return "validation split"


def _scored(card: dict[str, Any]) -> str:
    n = card["test"].get("scorings", 1)
    if n > 1:
        return (f"**The test split of this sweep has scored {n} different models (--reuse-test): choosing among "
                "them on it makes its numbers optimistic; the test estimate is no longer unbiased.**")
    return ("It was scored once, for this model. The validation numbers are optimistic, because they were used to "
            "choose this model among the trials; the test numbers are not.")


def _intro(card: dict[str, Any]) -> list[str]:
    classes = card["data"].get("class_names", [])
    what = f"`{classes[1]}`" if len(classes) == 2 else "each class"
    return [
        f"# Model card: trial {card['trial_id']}",
        "",
        f"Created {card.get('created', '?')} by hpsearch. The search optimised `{card.get('metric')}` on the "
        f"{validated_on(card)}; the test split was never seen by the search. {_scored(card)}",
        "",
        "## Intended use and limits",
        "",
        f"A research model: a multilayer perceptron that outputs the probability of {what} from the features "
        "below. It was developed and tested on one split of one dataset; it is not externally validated and is "
        "not a medical device. Check calibration and the operating threshold on your own population before any "
        "clinical use (TRIPOD+AI).",
        "",
    ]


def _model(card: dict[str, Any]) -> list[str]:
    hp, units = card["hyperparameters"], card["hyperparameters"].get("units", [])
    lines = ["## Model", "", "| hyperparameter | value |", "|---|---|",
             f"| hidden layers (units) | {len(units)} ({', '.join(map(str, units))}) |"]
    for key, value in hp.items():
        if key not in ("n_layers", "units"):
            lines.append(f"| {key} | {f'{value:.3g}' if isinstance(value, float) else value} |")
    lines.append(f"| best epoch (validation) | {card['validation'].get('epoch', 'n/a')} |")
    if card.get("training_seed") is not None:
        lines.append(f"| training seed | {card['training_seed']} |")
    return lines + [""]


def _data(card: dict[str, Any]) -> list[str]:
    data = card["data"]
    return [
        "## Data",
        "",
        f"- source: `{data.get('source')}` (sha256 `{str(data.get('sha256', ''))[:16]}...`)",
        (f"- rows: {data.get('n_dev')} development ({data.get('folds')}-fold cross-validation) / "
         f"{data.get('n_test')} test (stratified, seeded)" if data.get("folds") else
         f"- rows: {data.get('n_train')} train / {data.get('n_val')} validation / {data.get('n_test')} test "
         "(stratified, seeded)"),
        f"- {data.get('n_features')} features: {', '.join(map(str, data.get('feature_names', [])))}",
        f"- classes: {', '.join(map(str, data.get('class_names', [])))}",
        "",
    ]


def _threshold(card: dict[str, Any]) -> list[str]:
    thr = card.get("threshold") or {}
    if thr.get("value") is None:
        return ["## Operating threshold", "", thr.get("rule", "predict the class with the highest probability") + ".", ""]
    how = (
        "Youden's J (maximises sensitivity + specificity - 1)"
        if thr.get("method") == "youden"
        else f"the highest threshold with validation sensitivity >= {thr.get('target_sensitivity')}"
    )
    rule = thr["rule"].replace("value", number(thr["value"], 4))
    lines = ["## Operating threshold", "", f"{rule}. Chosen on the {validated_on(card)} by {how}."]
    if thr.get("out_of_fold"):
        lines[-1] += (" This model averages the fold-models whose out-of-fold predictions chose it; averaged "
                      "probabilities are a little less extreme than one fold-model's, so check the threshold's "
                      "sensitivity and specificity on new data.")
    return lines + [""]


def performance_rows(card: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, validation, test) rows of the card's performance table, as text (Markdown and the report)."""
    test, val = card["test"], card["validation"]
    rows = [("AUROC (95% CI: logit DeLong)", f"{number(val.get('val_auroc'))} ({number(val.get('auroc_ci95'))})",
             with_interval(test, "auroc"))]
    if "sensitivity" in test:
        rows += [
            ("sensitivity at threshold (Wilson 95% CI)", number(val.get("sensitivity")),
             with_interval(test, "sensitivity")),
            ("specificity at threshold (Wilson 95% CI)", number(val.get("specificity")),
             with_interval(test, "specificity")),
            ("PPV", number(val.get("ppv")), number(test.get("ppv"))),
            ("NPV", number(val.get("npv")), number(test.get("npv"))),
        ]
    return rows + [
        ("AUPRC (95% CI: Wilson on the positives)", "", with_interval(test, "auprc")),
        ("Brier score (95% CI: BCa bootstrap)", "", with_interval(test, "brier", 4)),
        ("calibration slope, ideal 1 (95% CI: Wald)", "", with_interval(test, "calibration_slope")),
        ("calibration intercept, ideal 0 (95% CI: Wald)", "", with_interval(test, "calibration_intercept")),
        ("log loss", number(val.get("val_loss")), number(test.get("loss"))),
    ]


PER_CLASS_HEADER = ["class", "sensitivity (95% CI)", "specificity (95% CI)", "PPV", "NPV",
                    "calibration slope (95% CI)", "calibration intercept (95% CI)"]


def per_class_rows(card: dict[str, Any]) -> list[list[str]]:
    """Multiclass: each class against the rest, at the arg-max label (Markdown and the report)."""
    return [[str(c.get("class")), with_interval(c, "sensitivity"), with_interval(c, "specificity"), number(c.get("ppv")),
             number(c.get("npv")), with_interval(c, "calibration_slope"), with_interval(c, "calibration_intercept")]
            for c in card["test"].get("per_class") or []]


def _performance(card: dict[str, Any]) -> list[str]:
    lines = ["## Performance", "", "| metric | validation | test |", "|---|---|---|"]
    lines += [f"| {name} | {val} | {test} |" for name, val, test in performance_rows(card)] + [""]
    per_class = per_class_rows(card)
    if per_class:
        lines += ["Per class, one vs rest, at the most probable class (test split):", "",
                  "| " + " | ".join(PER_CLASS_HEADER) + " |", "|---" * len(PER_CLASS_HEADER) + "|",
                  *("| " + " | ".join(row) + " |" for row in per_class), ""]
    note = card["test"].get("calibration_note")
    return lines + ([f"Calibration: {note}.", ""] if note else [])


def verdict(versus: dict[str, Any]) -> str:
    """Whether the network is shown to be better than the baseline, in words."""
    lo, hi = versus["delta_auroc_ci95"]
    if lo > 0:
        return "The network is better than the baseline on this test split."
    where = "contains 0" if hi >= 0 else "lies below 0"
    return f"The network is not shown to be better than the baseline: the interval of the difference {where}."


def sampled_note(baselines: dict[str, Any]) -> str | None:
    """What the baselines were fitted on, in words, when it was a sample of the training rows; else None."""
    sampled = {(b["fit_rows"], b["train_rows"]) for b in baselines.values()
               if b.get("fit_rows") is not None and b["fit_rows"] < b["train_rows"]}
    if not sampled:
        return None
    fit, there = max(sampled)
    return (f"The baselines were fitted on a random {fit:,} of the {there:,} training rows "
            f"(export.baseline_max_rows); the network on all of them.")


def _baselines(card: dict[str, Any]) -> list[str]:
    baselines, versus = card.get("baselines") or {}, card["test"].get("vs_baseline")
    if not baselines:
        return []
    lines = ["## Baselines (same rows, same encoding, validated the same way)", "",
             "| model | validation AUROC | test AUROC (95% CI) | test Brier (95% CI) |", "|---|---|---|---|",
             f"| this model | {number(card['validation'].get('val_auroc'))} | {with_interval(card['test'], 'auroc')} | "
             f"{with_interval(card['test'], 'brier', 4)} |"]
    lines += [f"| {name} | {number(b['validation'].get('auroc'))} | {with_interval(b['test'], 'auroc')} | "
              f"{with_interval(b['test'], 'brier', 4)} |" for name, b in baselines.items()]
    if versus:
        lines += ["", f"Test AUROC minus {versus['baseline']}'s, paired on the same rows (DeLong): "
                  f"{number(versus['delta_auroc'])} ({number(versus['delta_auroc_ci95'])}). {verdict(versus)}"]
    note = sampled_note(baselines)
    return lines + (["", note] if note else []) + [""]


def _decision(card: dict[str, Any]) -> list[str]:
    curve = card["test"].get("decision_curve")
    if not curve:
        return []
    shown = [i for i, t in enumerate(curve["thresholds"]) if round(t, 2) in (0.05, 0.1, 0.2, 0.3, 0.5)]
    names = ["this model", *curve["baselines"], "treat all", "treat none"]
    series = [curve["model"], *curve["baselines"].values(), curve["treat_all"], curve["treat_none"]]
    lines = ["## Clinical usefulness: net benefit (Vickers & Elkin 2006)", "",
             "| threshold probability | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {curve['thresholds'][i]:.2f} | " + " | ".join(number(v[i]) for v in series) + " |" for i in shown]
    return lines + ["", "The whole curve is in `model_card.json` (`test.decision_curve`) and the report.", ""]


def _subgroups(card: dict[str, Any]) -> list[str]:
    entries = card["test"].get("subgroups") or []
    if not entries:
        return []
    lines = ["## Performance by subgroup (test split)", "",
             "| column | group | n | events | observed rate | mean predicted | AUROC (95% CI) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {e['column']} | {e['group']} | {e['n']} | {number(e['events'])} | {number(e['observed_rate'])} | "
              f"{number(e['mean_predicted'])} | {number(e['auroc'])} ({number(e['auroc_ci95'])}) |" for e in entries]
    return lines + ["", "n/a: too few rows, or a single class, in the group.", ""]


def _confusion(card: dict[str, Any]) -> list[str]:
    test, classes = card["test"], card["data"].get("class_names", [])
    lines = []
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
        lines += ["The calibration slope is not estimable here: the test scores separate the classes (completely, "
                  "or up to ties where they meet), so its estimate is infinite.", ""]
    return lines


def _pick(card: dict[str, Any]) -> list[str]:
    pick = card.get("pick")
    if not pick:
        return []
    return [
        "## Robust pick",
        "",
        f"Chosen by `hpsearch pick` among the top {pick.get('top_k')} configurations, each retrained with "
        f"seeds {pick.get('seeds')}: mean validation `{card.get('metric')}` {number(pick.get('mean'), 4)} "
        f"(std {number(pick.get('std'), 4)}); this model is the seed-{card.get('training_seed')} run.",
        "",
    ]


def _objectives(card: dict[str, Any]) -> list[str]:
    """A multi-objective or constrained sweep's record: every objective's value, the front, the floors."""
    objectives, constraints = card.get("objectives") or [], card.get("constraints") or {}
    if not (objectives or constraints):
        return []
    lines = ["## Objectives", ""]
    if objectives:
        front = card.get("pareto_rank")
        lines += [f"The search traded off {len(objectives)} objectives; this trial is on Pareto front "
                  f"{front if front is not None else '-'} (1: no trial is at least as good on every objective "
                  "and better on one). Validation values, optimistic for a trial chosen on them:", "",
                  "| objective | direction | value |", "|---|---|---|"]
        lines += [f"| {o['metric']} | {o['mode']} | {number(o.get('value'), 4)} |" for o in objectives]
        lines.append("")
    for key, c in constraints.items():
        lines.append(f"Constraint `{key}` >= {c['bound']} at the validation-chosen threshold: validation value "
                     f"{number(c.get('value'), 3)}.")
    return lines + [""]


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown, for people (the JSON is for programs)."""
    versions_line = ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items())
    sections = (_intro, _model, _data, _threshold, _performance, _confusion, _baselines, _decision, _subgroups, _pick,
                _objectives)
    return "\n".join([line for section in sections for line in section(card)] + ["## Versions", "", versions_line, ""])
