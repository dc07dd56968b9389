"""The review report's section on the exported model: what it scored on the test split, in tables and plots.

Contract: `model_section(sweep, data)` returns the HTML of the exported model's
(`best/`) evaluation, as its card recorded it: how many models the test split
has scored (a warning when more than one: the estimate is no longer
unbiased), the clinical metrics (validation and test, with intervals; the
class-weight note beside calibration), the ROC curve with the operating point
and the calibration plot (from `best/predictions.npz`), the baselines beside
the model with the paired difference and a plain verdict, the decision curve
with the operating threshold marked, and performance by subgroup. Plotly is
imported inside functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from search.card import PER_CLASS_HEADER, per_class_rows, performance_rows, sampled_note, validated_on, verdict
from search.formatting import number
from search.layout import BEST_DIR, CARD_FILE, MODEL_FILE, PREDICTIONS_FILE
from search.page import esc, figure, note, num, table
from search.results import Sweep

__all__ = ["model_section"]


def _scorings(card: dict[str, Any], n: int) -> str:
    if n <= 1:
        return note("The test split was scored once, for this model: its numbers are an unbiased estimate.")
    return (f"<p class=warn>The test split of this sweep has scored {n} different models (--reuse-test): "
            "choosing among them on it makes these test numbers optimistic; the estimate is no longer "
            "unbiased.</p>")


def _baselines(card: dict[str, Any]) -> str:
    baselines, test, versus = card.get("baselines") or {}, card["test"], card["test"].get("vs_baseline")
    if not baselines:
        return ""
    rows = [["this model (exported)", num(card["validation"].get("val_auroc")), num(test.get("auroc")),
             num(test.get("auroc_ci95")), num(test.get("brier"), 4), num(test.get("auprc"))]]
    rows += [[esc(name.replace("_", " ")), num(b["validation"].get("auroc")), num(b["test"].get("auroc")),
              num(b["test"].get("auroc_ci95")), num(b["test"].get("brier"), 4), num(b["test"].get("auprc"))]
             for name, b in baselines.items()]
    header = ["model", "validation AUROC", "test AUROC", "95% CI", "test Brier", "test AUPRC"]
    text = "<h2>Baselines on the same rows</h2>" + table(header, rows)
    if versus:
        lo, hi = versus["delta_auroc_ci95"]
        text += (f"<p>Test AUROC of this model minus {esc(versus['baseline'].replace('_', ' '))}'s (the better "
                 f"baseline on validation): {number(versus['delta_auroc'])} (95% CI {number(lo)} to {number(hi)}; "
                 f"paired on the same test rows, DeLong). <b>{esc(verdict(versus))}</b></p>")
    note = sampled_note(baselines)
    return text + (f"<p>{esc(note)}</p>" if note else "")


def _decision_curve(card: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    curve = card["test"].get("decision_curve")
    if not curve:
        return ""
    fig, t = go.Figure(), curve["thresholds"]
    fig.add_trace(go.Scatter(x=t, y=curve["model"], mode="lines", name="this model", line=dict(width=2.5)))
    for name, values in curve["baselines"].items():
        fig.add_trace(go.Scatter(x=t, y=values, mode="lines", name=name.replace("_", " "), line=dict(dash="dot")))
    fig.add_trace(go.Scatter(x=t, y=curve["treat_all"], mode="lines", name="treat all", line=dict(color="grey")))
    fig.add_trace(go.Scatter(x=t, y=curve["treat_none"], mode="lines", name="treat none",
                             line=dict(color="black", dash="dash")))
    threshold = card["test"].get("threshold")
    if threshold is not None:
        fig.add_vline(x=threshold, line=dict(color="crimson", dash="dash"),
                      annotation_text=f"operating threshold {threshold:.3f}")
    top = max(max(curve["model"]), max(curve["treat_all"]), *(max(v) for v in curve["baselines"].values()), 0.01)
    fig.update_layout(title="Decision curve, test split (net benefit; Vickers & Elkin 2006)",
                      xaxis_title="threshold probability", yaxis_title="net benefit")
    fig.update_yaxes(range=[-0.05 * top, 1.1 * top])
    return "<h2>Clinical usefulness</h2>" + figure(fig) + note(
        "Net benefit = true positives / n - false positives / n x t / (1 - t): the benefit of acting on the "
        "model at threshold probability t, in true positives per patient, net of the harm of false positives.")


def _subgroups(card: dict[str, Any]) -> str:
    entries = card["test"].get("subgroups") or []
    if not entries:
        return ""
    rows = [[esc(e["column"]), esc(e["group"]), e["n"], "" if e["events"] is None else e["events"],
             num(e["observed_rate"]), num(e["mean_predicted"]), num(e["auroc"]), num(e["auroc_ci95"])]
            for e in entries]
    header = ["column", "group", "n", "events", "observed rate", "mean predicted", "AUROC", "95% CI"]
    return ("<h2>Performance by subgroup (test split)</h2>" + table(header, rows, left=2)
            + note("n/a: too few rows, or a single class, in the group for an AUROC."))


def _metrics_table(card: dict[str, Any], scorings: int) -> str:
    thr, test = card.get("threshold") or {}, card["test"]
    rows = [[esc(name), esc(val), esc(test)] for name, val, test in performance_rows(card)]
    rule = thr.get("rule", "").replace("`", "")
    if thr.get("value") is not None:
        rule = rule.replace("value", f"{thr['value']:.4f}") + f" (chosen on the {validated_on(card)}: {thr.get('method')})"
    hp = card.get("hyperparameters", {})
    arch = f"units {hp.get('units')}, {hp.get('activation')}, dropout {num(hp.get('dropout'))}, " \
           f"{hp.get('optimizer')} lr {num(hp.get('learning_rate'), 5)}, batch {hp.get('batch_size')}"
    n = f"{test.get('n', '?')} test rows" + (f", {test['n_positive']} positive" if "n_positive" in test else "")
    return (
        f"<p>Trial <b>{esc(card['trial_id'])}</b> ({esc(arch)}). Operating threshold: {esc(rule)}. "
        f"{esc(n)}.</p>"
        + table(["metric", "validation", "test"], rows)
        + (table(PER_CLASS_HEADER, [[esc(v) for v in r] for r in per_class_rows(card)]) if per_class_rows(card) else "")
        + note(f"Validation: the {validated_on(card)}. Those numbers are optimistic, because they were used to "
               "choose this model among the trials" + ("; the test split was scored once and is not." if scorings <= 1
                                                        else "; so, now, are the test numbers."))
        + (note(test["calibration_note"]) if test.get("calibration_note") else "")
    )


def _roc_and_calibration(card: dict[str, Any], y_test: np.ndarray, proba: np.ndarray,
                         y_val: np.ndarray, val_proba: np.ndarray, class_names: list[str]) -> str:
    import plotly.graph_objects as go
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    from trainable.stats import as_class_proba

    full, val_full = as_class_proba(proba), as_class_proba(val_proba)
    classes = [1] if full.shape[1] == 2 else list(range(full.shape[1]))
    roc, cal = go.Figure(), go.Figure()
    for k in classes:
        label = class_names[k]
        fpr, tpr, _ = roc_curve(y_test == k, full[:, k])
        roc.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"test: {label}", line=dict(width=2.5)))
        vfpr, vtpr, _ = roc_curve(y_val == k, val_full[:, k])
        roc.add_trace(go.Scatter(x=vfpr, y=vtpr, mode="lines", name=f"validation: {label}",
                                 line=dict(dash="dot", width=1.5)))
        n_bins = int(max(3, min(10, len(y_test) // 15)))
        observed, predicted = calibration_curve(y_test == k, full[:, k], n_bins=n_bins, strategy="quantile")
        cal.add_trace(go.Scatter(x=predicted, y=observed, mode="lines+markers", name=f"test: {label}"))
    test = card["test"]
    if test.get("threshold") is not None and test.get("sensitivity") is not None:
        x, y = 1 - test["specificity"], test["sensitivity"]
        roc.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers", marker=dict(size=13, symbol="x", color="crimson"),
            name=f"operating point (threshold {test['threshold']:.3f})",
            hovertext=f"sensitivity {y:.3f}, specificity {1 - x:.3f}",
        ))
    diagonal = dict(mode="lines", line=dict(color="grey", dash="dash", width=1), showlegend=False)
    roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], **diagonal))
    cal.add_trace(go.Scatter(x=[0, 1], y=[0, 1], **diagonal))
    roc.update_layout(title=f"ROC, test split (AUROC {test['auroc']:.3f}, 95% CI {num(test.get('auroc_ci95'))})",
                      xaxis_title="1 - specificity (false-positive rate)", yaxis_title="sensitivity",
                      legend=dict(x=0.45, y=0.05))
    slope, intercept = test.get("calibration_slope"), test.get("calibration_intercept")
    cal.update_layout(title=f"Calibration, test split (slope {num(slope, 2)}, intercept {num(intercept, 2)}, "
                            f"Brier {num(test.get('brier'))})",
                      xaxis_title="mean predicted probability (quantile bins)", yaxis_title="observed fraction",
                      legend=dict(x=0.02, y=0.98))
    for fig in (roc, cal):
        fig.update_xaxes(range=[-0.02, 1.02])
        fig.update_yaxes(range=[-0.02, 1.02])
    return f"<div class=grid><div>{figure(roc)}</div><div>{figure(cal)}</div></div>"


def model_section(sweep: Sweep, data) -> str:
    best = sweep.path / BEST_DIR
    card_file = best / CARD_FILE
    if not card_file.is_file():
        return "<h2>Exported model</h2>" + note("No exported model yet (the sweep has not finished).")
    card = json.loads(card_file.read_text())
    from search.ledger import Ledger

    scorings = max(Ledger(sweep.path).count(), card["test"].get("scorings", 1))  # as of now, not of the export
    parts = ["<h2>Exported model: clinical metrics</h2>", _scorings(card, scorings), _metrics_table(card, scorings)]
    if card.get("pick"):
        pick = card["pick"]
        parts.append(note(f"Chosen by hpsearch pick: mean validation {card.get('metric')} "
                           f"{num(pick.get('mean'), 4)} (std {num(pick.get('std'), 4)}) over seeds {pick.get('seeds')}."))
    if "test" not in card or "auroc_ci95" not in card["test"]:
        return "".join(parts) + note("This model card predates the clinical metrics; re-export to see them.")
    data = data if data is not None else sweep.data()
    val_proba, proba = _exported_predictions(best, data)
    parts.append(_roc_and_calibration(card, data.y_test, proba, data.y_val, val_proba, list(data.class_names)))
    parts += [_baselines(card), _decision_curve(card), _subgroups(card)]
    return "".join(parts)


def _exported_predictions(best: Path, data) -> tuple[np.ndarray, np.ndarray]:
    """The exported model's (validation, test) probabilities, as its card was computed from them."""
    saved = best / PREDICTIONS_FILE
    if saved.is_file():
        with np.load(saved) as arrays:
            return arrays["validation"], arrays["test"]
    from trainable.model import load_model, predict_proba  # an export from before predictions.npz

    model = load_model(best / MODEL_FILE)
    return predict_proba(model, data.X_val), predict_proba(model, data.X_test)
