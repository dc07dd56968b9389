"""The review report's section on the exported model: what it scored on the test split, in tables and plots.

Contract: `model_section(sweep, data)` returns the HTML of the exported model's
(`best/`) evaluation, as its card recorded it: how many models the test split
has scored, across the sweeps of the results folder (a warning when more
than one: the estimate is no longer unbiased), the card's `warnings` (too
few test rows or events), the clinical metrics (validation and test, with
intervals; the class-weight note beside calibration), the test rows and how
they were split (by patient, with the patients per split, under
`data.group`), the ROC curve with the operating point and the calibration
plot (from `best/predictions.npz`), the baselines beside the model with the
paired difference and the verdict (`vs_baseline.verdict`), the decision
curve with the operating threshold marked, and performance by subgroup. A
model exported unscored (another sweep scored its test split first) gets a
warning saying which sweep, and how to score it anyway, and its validation
metrics alone. Plotly is imported inside functions.
"""

from __future__ import annotations

import numpy as np

from search.records.model_card import ModelCard, read_card
from search.records.paths import BEST_DIR, CARD_FILE, PREDICTIONS_FILE
from search.records.test_ledger import distinct_models, sweep_scorings
from search.review.baseline_text import sampled_note, tuned_note, verdict
from search.review.card_text import PER_CLASS_HEADER, per_class_rows, performance_rows, split_text, validated_on
from search.review.html import esc, figure, note, num, table
from search.review.numbers import number
from search.review.sweep_results import SweepResults
from search.review.test_scoring_text import not_scored, reused, score_anyway
from trainable.data.dataset import Dataset

__all__ = ["model_section"]


def _scorings(card: ModelCard, n: int) -> str:
    if card.test.unscored:
        return f"<p class=warn>{esc(not_scored(card.test))}<br>{esc(score_anyway(card.test))}</p>"
    if n <= 1:
        return note("The test split was scored once, for this model: its numbers are an unbiased estimate.")
    return f"<p class=warn>{esc(reused(n))}</p>"


def _warnings(card: ModelCard) -> str:
    if not card.warnings:
        return ""
    return "<ul class=warn>" + "".join(f"<li>{esc(w)}</li>" for w in card.warnings) + "</ul>"


def _baselines(card: ModelCard) -> str:
    baselines, test, versus = card.baselines, card.test, card.test.vs_baseline
    if not baselines:
        return ""
    rows = [
        [
            "this model (exported)",
            num(card.validation.val_auroc),
            num(test.auroc),
            num(test.auroc_ci95),
            num(test.brier, 4),
            num(test.auprc),
        ]
    ]
    rows += [
        [
            esc(name.replace("_", " ")),
            num(b.validation.get("auroc")),
            num(b.test.get("auroc")),
            num(b.test.get("auroc_ci95")),
            num(b.test.get("brier"), 4),
            num(b.test.get("auprc")),
        ]
        for name, b in baselines.items()
    ]
    header = ["model", "validation AUROC", "test AUROC", "95% CI", "test Brier", "test AUPRC"]
    text = "<h2>Baselines on the same rows</h2>" + table(header, rows)
    if versus:
        lo, hi = versus.delta_auroc_ci95
        text += (
            f"<p>Test AUROC of this model minus {esc(versus.baseline.replace('_', ' '))}'s (the better "
            f"baseline on validation): {number(versus.delta_auroc)} (95% CI {number(lo)} to {number(hi)}; "
            f"paired on the same test rows, DeLong). <b>{esc(verdict(versus))}</b></p>"
        )
    said = [words for words in (tuned_note(baselines), sampled_note(baselines)) if words]
    return text + "".join(f"<p>{esc(words)}</p>" for words in said)


def _decision_curve(card: ModelCard) -> str:
    import plotly.graph_objects as go

    curve = card.test.decision_curve
    if not curve:
        return ""
    fig, t = go.Figure(), curve.thresholds
    fig.add_trace(go.Scatter(x=t, y=curve.model, mode="lines", name="this model", line=dict(width=2.5)))
    for name, values in curve.baselines.items():
        fig.add_trace(go.Scatter(x=t, y=values, mode="lines", name=name.replace("_", " "), line=dict(dash="dot")))
    fig.add_trace(go.Scatter(x=t, y=curve.treat_all, mode="lines", name="treat all", line=dict(color="grey")))
    fig.add_trace(
        go.Scatter(x=t, y=curve.treat_none, mode="lines", name="treat none", line=dict(color="black", dash="dash"))
    )
    threshold = card.test.threshold
    if threshold is not None:
        fig.add_vline(
            x=threshold, line=dict(color="crimson", dash="dash"), annotation_text=f"operating threshold {threshold:.3f}"
        )
    top = max(max(curve.model), max(curve.treat_all), *(max(v) for v in curve.baselines.values()), 0.01)
    fig.update_layout(
        title="Decision curve, test split (net benefit; Vickers & Elkin 2006)",
        xaxis_title="threshold probability",
        yaxis_title="net benefit",
    )
    fig.update_yaxes(range=[-0.05 * top, 1.1 * top])
    return (
        "<h2>Clinical usefulness</h2>"
        + figure(fig)
        + note(
            "Net benefit = true positives / n - false positives / n x t / (1 - t): the benefit of acting on the "
            "model at threshold probability t, in true positives per patient, net of the harm of false positives."
        )
    )


def _subgroups(card: ModelCard) -> str:
    entries = card.test.subgroups or []
    if not entries:
        return ""
    rows = [
        [
            esc(e.column),
            esc(e.group),
            e.n,
            "" if e.events is None else e.events,
            num(e.observed_rate),
            num(e.mean_predicted),
            num(e.auroc),
            num(e.auroc_ci95),
        ]
        for e in entries
    ]
    header = ["column", "group", "n", "events", "observed rate", "mean predicted", "AUROC", "95% CI"]
    return (
        "<h2>Performance by subgroup (test split)</h2>"
        + table(header, rows, left=2)
        + note("n/a: too few rows, or a single class, in the group for an AUROC.")
    )


def _architecture(hp: dict[str, object]) -> str:
    """A trial's hyperparameters in one line, as the report shows them (every one but the layer count)."""

    def value(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{name.replace('_', ' ')} {value(v)}" for name, v in hp.items() if name != "n_layers")


def _metrics_table(card: ModelCard, scorings: int) -> str:
    thr, test = card.threshold, card.test
    rows = [[esc(name), esc(val), esc(test)] for name, val, test in performance_rows(card)]
    rule = thr.rule.replace("`", "")
    if thr.value is not None:
        rule = rule.replace("value", f"{thr.value:.4f}") + f" (chosen on the {validated_on(card)}: {thr.method})"
    n = f"{test.n} test rows" + (f", {test.n_positive} positive" if test.n_positive is not None else "")
    return (
        f"<p>Trial <b>{esc(card.trial_id)}</b> ({esc(_architecture(card.hyperparameters))}). "
        f"Operating threshold: {esc(rule)}. {esc(n)}.</p>"
        + table(["metric", "validation", "test"], rows)
        + (table(PER_CLASS_HEADER, [[esc(v) for v in r] for r in per_class_rows(card)]) if per_class_rows(card) else "")
        + note(
            f"Validation: the {validated_on(card)}. Those numbers are optimistic, because they were used to "
            "choose this model among the trials"
            + (
                "; this model was not scored on the test split."
                if test.unscored
                else "; the test split was scored once and is not."
                if scorings <= 1
                else "; so, now, are the test numbers."
            )
        )
        + (note(test.calibration_note) if test.calibration_note else "")
    )


def _roc_and_calibration(
    card: ModelCard,
    y_test: np.ndarray,
    proba: np.ndarray,
    y_val: np.ndarray,
    val_proba: np.ndarray,
    class_names: list[str],
) -> str:
    import plotly.graph_objects as go
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    from trainable.stats.intervals import as_class_proba

    full, val_full = as_class_proba(proba), as_class_proba(val_proba)
    classes = [1] if full.shape[1] == 2 else list(range(full.shape[1]))
    roc, cal = go.Figure(), go.Figure()
    for k in classes:
        label = class_names[k]
        fpr, tpr, _ = roc_curve(y_test == k, full[:, k])
        roc.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"test: {label}", line=dict(width=2.5)))
        vfpr, vtpr, _ = roc_curve(y_val == k, val_full[:, k])
        roc.add_trace(
            go.Scatter(x=vfpr, y=vtpr, mode="lines", name=f"validation: {label}", line=dict(dash="dot", width=1.5))
        )
        n_bins = int(max(3, min(10, len(y_test) // 15)))
        observed, predicted = calibration_curve(y_test == k, full[:, k], n_bins=n_bins, strategy="quantile")
        cal.add_trace(go.Scatter(x=predicted, y=observed, mode="lines+markers", name=f"test: {label}"))
    test = card.test
    if test.threshold is not None and test.sensitivity is not None and test.specificity is not None:
        x, y = 1 - test.specificity, test.sensitivity
        roc.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                marker=dict(size=13, symbol="x", color="crimson"),
                name=f"operating point (threshold {test.threshold:.3f})",
                hovertext=f"sensitivity {y:.3f}, specificity {1 - x:.3f}",
            )
        )
    diagonal = dict(mode="lines", line=dict(color="grey", dash="dash", width=1), showlegend=False)
    roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], **diagonal))
    cal.add_trace(go.Scatter(x=[0, 1], y=[0, 1], **diagonal))
    roc.update_layout(
        title=f"ROC, test split (AUROC {test.auroc:.3f}, 95% CI {num(test.auroc_ci95)})",
        xaxis_title="1 - specificity (false-positive rate)",
        yaxis_title="sensitivity",
        legend=dict(x=0.45, y=0.05),
    )
    slope, intercept = test.calibration_slope, test.calibration_intercept
    cal.update_layout(
        title=f"Calibration, test split (slope {num(slope, 2)}, intercept {num(intercept, 2)}, "
        f"Brier {num(test.brier)})",
        xaxis_title="mean predicted probability (quantile bins)",
        yaxis_title="observed fraction",
        legend=dict(x=0.02, y=0.98),
    )
    for fig in (roc, cal):
        fig.update_xaxes(range=[-0.02, 1.02])
        fig.update_yaxes(range=[-0.02, 1.02])
    return f"<div class=grid><div>{figure(roc)}</div><div>{figure(cal)}</div></div>"


def model_section(sweep: SweepResults, data: Dataset | None) -> str:
    best = sweep.path / BEST_DIR
    if not (best / CARD_FILE).is_file():
        return "<h2>Exported model</h2>" + note("No exported model yet (the sweep has not finished).")
    card = read_card(best)
    scorings = max(distinct_models(sweep_scorings(sweep.path)), card.test.scorings or 1)  # now, across sweeps
    parts = [
        "<h2>Exported model: clinical metrics</h2>",
        _scorings(card, scorings),
        _warnings(card),
        _metrics_table(card, scorings),
        note(f"{card.data.n_test} test rows, {split_text(card)}."),
    ]
    if card.pick:
        pick = card.pick
        parts.append(
            note(
                f"Chosen by hpsearch pick: mean validation {card.metric} "
                f"{num(pick.mean, 4)} (std {num(pick.std, 4)}) over seeds {pick.seeds}."
            )
        )
    if card.test.unscored:
        return "".join(parts)
    data = data if data is not None else sweep.data()
    with np.load(best / PREDICTIONS_FILE) as arrays:  # the probabilities the card was computed from
        val_proba, proba = arrays["validation"], arrays["test"]
    parts.append(_roc_and_calibration(card, data.y_test, proba, data.y_val, val_proba, list(data.class_names)))
    parts += [_baselines(card), _decision_curve(card), _subgroups(card)]
    return "".join(parts)
