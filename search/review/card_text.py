"""The model card in words: `model_card.md`, and the pieces of it the report shows too.

Contract: `card_markdown(card)` renders a `ModelCard` for people (the JSON is
for programs): intended use, the card's warnings, model, data, operating
threshold, performance with intervals, confusion counts, baselines with the
paired difference and the verdict in words (`search.review.baseline_text`),
the decision curve's net benefit, subgroups, the robust pick and the
objectives. A card without test metrics (another sweep scored its test split
first) says so instead of them (`search.review.test_scoring_text`).
`performance_rows(card)`, `per_class_rows(card)`, `validated_on(card)`,
and `split_text(card)` (by row, or by patient with the patients per split)
are the text the report (`search.review.model_section`) shows too. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable

from search.records.model_card import ModelCard, PerClass
from search.review.baseline_text import sampled_note, tuned_note, verdict
from search.review.numbers import number, with_interval
from search.review.test_scoring_text import scored_sentence

__all__ = [
    "PER_CLASS_HEADER",
    "card_markdown",
    "per_class_rows",
    "performance_rows",
    "split_text",
    "validated_on",
]


def validated_on(card: ModelCard) -> str:
    folds = card.validation.folds or 0
    if folds:
        return f"out-of-fold predictions of {folds}-fold cross-validation ({card.validation.n} rows pooled)"
    return "validation split"


def _intro(card: ModelCard) -> list[str]:
    what = f"`{card.positive_class}`" if card.positive_class is not None else "each class"
    return [
        f"# Model card: trial {card.trial_id}",
        "",
        f"Created {card.created} by hpsearch. The search optimised `{card.metric}` on the "
        f"{validated_on(card)}; the test split was never seen by the search. {scored_sentence(card.test)}",
        "",
        "## Intended use and limits",
        "",
        f"A research model: a multilayer perceptron that outputs the probability of {what} from the features "
        "below. It was developed and tested on one split of one dataset; it is not externally validated and is "
        "not a medical device. Check calibration and the operating threshold on your own population before any "
        "clinical use (TRIPOD+AI).",
        "",
    ]


def _warnings(card: ModelCard) -> list[str]:
    if not card.warnings:
        return []
    return ["## Warnings", "", *(f"- {w}" for w in card.warnings), ""]


def _model(card: ModelCard) -> list[str]:
    hp = card.hyperparameters
    units = hp.get("units") or []
    lines = [
        "## Model",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        f"| hidden layers (units) | {len(units)} ({', '.join(map(str, units))}) |",
    ]
    for key, value in hp.items():
        if key not in ("n_layers", "units"):
            lines.append(f"| {key} | {f'{value:.3g}' if isinstance(value, float) else value} |")
    lines.append(f"| best epoch (validation) | {card.validation.epoch} |")
    if card.training_seed is not None:
        lines.append(f"| training seed | {card.training_seed} |")
    return lines + [""]


_SPLIT_NAMES = {"train": "train", "val": "validation", "dev": "development", "test": "test"}


def split_text(card: ModelCard) -> str:
    """How the rows were split, in words: by row, or by patient with the patients per split."""
    data = card.data
    if not data.group:
        return "split by row, stratified, seeded"
    counts = " / ".join(f"{n} {_SPLIT_NAMES.get(name, name)}" for name, n in (data.groups or {}).items())
    return (
        f"split by patient (data.group: {data.group}), stratified, seeded: {counts} patients, every patient's "
        "rows in one split; every interval resamples patients, not rows"
    )


def _data(card: ModelCard) -> list[str]:
    data = card.data
    rows = (
        f"- rows: {data.n_dev} development ({data.folds}-fold cross-validation) / {data.n_test} test"
        if data.folds
        else f"- rows: {data.n_train} train / {data.n_val} validation / {data.n_test} test"
    )
    return [
        "## Data",
        "",
        f"- source: `{data.source}` (sha256 `{data.sha256[:16]}...`)",
        f"{rows}, {split_text(card)}",
        f"- {data.n_features} features: {', '.join(map(str, data.feature_names))}",
        f"- classes: {', '.join(map(str, data.class_names))}",
        "",
    ]


def _threshold(card: ModelCard) -> list[str]:
    thr = card.threshold
    if thr.value is None:
        return ["## Operating threshold", "", thr.rule + ".", ""]
    how = (
        "Youden's J (maximises sensitivity + specificity - 1)"
        if thr.method == "youden"
        else f"the highest threshold with validation sensitivity >= {thr.target_sensitivity}"
    )
    rule = thr.rule.replace("value", number(thr.value, 4))
    lines = ["## Operating threshold", "", f"{rule}. Chosen on the {validated_on(card)} by {how}."]
    if thr.out_of_fold:
        lines[-1] += (
            " This model averages the fold-models whose out-of-fold predictions chose it; averaged "
            "probabilities are a little less extreme than one fold-model's, so check the threshold's "
            "sensitivity and specificity on new data."
        )
    return lines + [""]


def performance_rows(card: ModelCard) -> list[tuple[str, str, str]]:
    """(metric, validation, test) rows of the card's performance table, as text (Markdown and the report)."""
    test, val = card.test, card.validation
    rows = [
        (
            "AUROC (95% CI: logit DeLong)",
            f"{number(val.val_auroc)} ({number(val.auroc_ci95)})",
            with_interval(test.auroc, test.auroc_ci95),
        )
    ]
    if test.binary and card.positive_class is not None:
        rows += [
            (
                "sensitivity at threshold (Wilson 95% CI)",
                number(val.sensitivity),
                with_interval(test.sensitivity, test.sensitivity_ci95),
            ),
            (
                "specificity at threshold (Wilson 95% CI)",
                number(val.specificity),
                with_interval(test.specificity, test.specificity_ci95),
            ),
            ("PPV", number(val.ppv), number(test.ppv)),
            ("NPV", number(val.npv), number(test.npv)),
        ]
    rows += [
        ("AUPRC (95% CI: Wilson on the positives)", "", with_interval(test.auprc, test.auprc_ci95)),
        ("Brier score (95% CI: BCa bootstrap)", "", with_interval(test.brier, test.brier_ci95, 4)),
        (
            "calibration slope, ideal 1 (95% CI: profile likelihood)",
            "",
            with_interval(test.calibration_slope, test.calibration_slope_ci95),
        ),
        (
            "calibration intercept, ideal 0 (95% CI: profile likelihood)",
            "",
            with_interval(test.calibration_intercept, test.calibration_intercept_ci95),
        ),
        ("log loss", number(val.val_loss), number(test.loss)),
    ]
    if test.unscored:
        rows = [(name, val, "not scored") for name, val, _ in rows]
    return rows


PER_CLASS_HEADER = [
    "class",
    "sensitivity (95% CI)",
    "specificity (95% CI)",
    "PPV",
    "NPV",
    "calibration slope (95% CI)",
    "calibration intercept (95% CI)",
]


def _per_class_row(c: PerClass) -> list[str]:
    return [
        str((c.model_extra or {}).get("class")),
        with_interval(c.sensitivity, c.sensitivity_ci95),
        with_interval(c.specificity, c.specificity_ci95),
        number(c.ppv),
        number(c.npv),
        with_interval(c.calibration_slope, c.calibration_slope_ci95),
        with_interval(c.calibration_intercept, c.calibration_intercept_ci95),
    ]


def per_class_rows(card: ModelCard) -> list[list[str]]:
    """Multiclass: each class against the rest, at the arg-max label (Markdown and the report)."""
    return [_per_class_row(c) for c in card.test.per_class or []]


def _performance(card: ModelCard) -> list[str]:
    lines = ["## Performance", "", "| metric | validation | test |", "|---|---|---|"]
    lines += [f"| {name} | {val} | {test} |" for name, val, test in performance_rows(card)] + [""]
    per_class = per_class_rows(card)
    if per_class:
        lines += [
            "Per class, one vs rest, at the most probable class (test split):",
            "",
            "| " + " | ".join(PER_CLASS_HEADER) + " |",
            "|---" * len(PER_CLASS_HEADER) + "|",
            *("| " + " | ".join(row) + " |" for row in per_class),
            "",
        ]
    note = card.test.calibration_note
    return lines + ([f"Calibration: {note}.", ""] if note else [])


def _baselines(card: ModelCard) -> list[str]:
    baselines, test, versus = card.baselines, card.test, card.test.vs_baseline
    if not baselines:
        return []
    lines = [
        "## Baselines (same rows, same encoding, validated the same way)",
        "",
        "| model | validation AUROC | test AUROC (95% CI) | test Brier (95% CI) |",
        "|---|---|---|---|",
        f"| this model | {number(card.validation.val_auroc)} | {with_interval(test.auroc, test.auroc_ci95)} | "
        f"{with_interval(test.brier, test.brier_ci95, 4)} |",
    ]
    lines += [
        f"| {name} | {number(b.validation.get('auroc'))} | "
        f"{with_interval(b.test.get('auroc'), b.test.get('auroc_ci95'))} | "
        f"{with_interval(b.test.get('brier'), b.test.get('brier_ci95'), 4)} |"
        for name, b in baselines.items()
    ]
    if versus:
        lines += [
            "",
            f"Test AUROC minus {versus.baseline}'s, paired on the same rows (DeLong): "
            f"{number(versus.delta_auroc)} ({number(versus.delta_auroc_ci95)}). {verdict(versus)}",
        ]
    said = [words for words in (tuned_note(baselines), sampled_note(baselines)) if words]
    return lines + [line for words in said for line in ("", words)] + [""]


def _decision(card: ModelCard) -> list[str]:
    curve = card.test.decision_curve
    if not curve:
        return []
    shown = [i for i, t in enumerate(curve.thresholds) if round(t, 2) in (0.05, 0.1, 0.2, 0.3, 0.5)]
    names = ["this model", *curve.baselines, "treat all", "treat none"]
    series = [curve.model, *curve.baselines.values(), curve.treat_all, curve.treat_none]
    lines = [
        "## Clinical usefulness: net benefit (Vickers & Elkin 2006)",
        "",
        "| threshold probability | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    lines += [f"| {curve.thresholds[i]:.2f} | " + " | ".join(number(v[i]) for v in series) + " |" for i in shown]
    return lines + ["", "The whole curve is in `model_card.json` (`test.decision_curve`) and the report.", ""]


def _subgroups(card: ModelCard) -> list[str]:
    entries = card.test.subgroups or []
    if not entries:
        return []
    lines = [
        "## Performance by subgroup (test split)",
        "",
        "| column | group | n | events | observed rate | mean predicted | AUROC (95% CI) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.column} | {e.group} | {e.n} | {number(e.events)} | {number(e.observed_rate)} | "
        f"{number(e.mean_predicted)} | {number(e.auroc)} ({number(e.auroc_ci95)}) |"
        for e in entries
    ]
    return lines + ["", "n/a: too few rows, or a single class, in the group.", ""]


def _confusion(card: ModelCard) -> list[str]:
    test, classes = card.test, card.data.class_names
    lines = []
    if test.confusion is not None:
        c = test.confusion
        pos, neg = (classes[1], classes[0]) if len(classes) == 2 else ("positive", "negative")
        lines += [
            f"Test split at the threshold ({test.n} rows, {test.n_positive} `{pos}`):",
            "",
            f"| | actual `{pos}` | actual `{neg}` |",
            "|---|---|---|",
            f"| predicted `{pos}` | {c['tp']} (TP) | {c['fp']} (FP) |",
            f"| predicted `{neg}` | {c['fn']} (FN) | {c['tn']} (TN) |",
            "",
        ]
    if test.calibration_slope is None and len(classes) == 2 and not test.unscored:
        lines += [
            "The calibration slope is not estimable here: the test scores separate the classes (completely, "
            "or up to ties where they meet), so its estimate is infinite.",
            "",
        ]
    return lines


def _pick(card: ModelCard) -> list[str]:
    pick = card.pick
    if not pick:
        return []
    return [
        "## Robust pick",
        "",
        f"Chosen by `hpsearch pick` among the top {pick.top_k} configurations, each retrained with "
        f"seeds {pick.seeds}: mean validation `{card.metric}` {number(pick.mean, 4)} "
        f"(std {number(pick.std, 4)}); this model is the seed-{card.training_seed} run.",
        "",
    ]


def _objectives(card: ModelCard) -> list[str]:
    """A multi-objective or constrained sweep's record: every objective's value, the front, the floors."""
    objectives, constraints = card.objectives or [], card.constraints or {}
    if not (objectives or constraints):
        return []
    lines = ["## Objectives", ""]
    if objectives:
        front = card.pareto_rank
        lines += [
            f"The search traded off {len(objectives)} objectives; this trial is on Pareto front "
            f"{front if front is not None else '-'} (1: no trial is at least as good on every objective "
            "and better on one). Validation values, optimistic for a trial chosen on them:",
            "",
            "| objective | direction | value |",
            "|---|---|---|",
        ]
        lines += [f"| {o['metric']} | {o['mode']} | {number(o.get('value'), 4)} |" for o in objectives]
        lines.append("")
    for key, c in constraints.items():
        lines.append(
            f"Constraint `{key}` >= {c['bound']} at the validation-chosen threshold: validation value "
            f"{number(c.get('value'), 3)}."
        )
    return lines + [""]


_SECTIONS: tuple[Callable[[ModelCard], list[str]], ...] = (
    _intro,
    _warnings,
    _model,
    _data,
    _threshold,
    _performance,
    _confusion,
    _baselines,
    _decision,
    _subgroups,
    _pick,
    _objectives,
)


def card_markdown(card: ModelCard) -> str:
    """The model card as Markdown, for people (the JSON is for programs)."""
    versions_line = ", ".join(f"{k} {v}" for k, v in card.versions.items())
    return "\n".join([line for section in _SECTIONS for line in section(card)] + ["## Versions", "", versions_line, ""])
