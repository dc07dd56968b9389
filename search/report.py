"""A sweep's review report: one self-contained HTML file, `RESULTS_DIR/report.html`.

Contract: `write_report(results_dir, data=None)` reads a sweep folder and
writes `report.html` atomically; returns its path. The file opens offline:
plotly.js is inlined once in the head, every figure is a plotly div, nothing
is fetched from a CDN. Sections, each present when its inputs exist (so a
report of a sweep that is still running shows what has finished):
- the exported model (`best/`): its card's clinical metrics on the test split,
  and, recomputed from `best/model.keras` on the test split, the ROC curve
  with the operating point and the calibration (reliability) plot;
- the leaderboard's top trials, with validation AUROC 95% intervals and ties;
- the robust pick (`pick.csv`), if `hpsearch pick` ran;
- optimisation history, parallel coordinates and hyperparameter importance
  (`optuna.visualization` on `study.db`);
- learning curves of the top trials (each trial's `result.json`).
`data` (the sweep's `Dataset`) saves reloading it when the driver calls this
at the end of a sweep. Heavy imports (optuna, plotly, Keras) are inside
functions.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.card import performance_rows, validated_on
from search.formatting import number
from search.layout import (
    BEST_DIR, CARD_FILE, MODEL_FILE, PICK_FILE, PREDICTIONS_FILE, REPORT_FILE, STUDY_FILE, TUNE_RESULT_FILE, atomic_write_text, study_url,
)
from search.results import Sweep, open_sweep
from search.space import BRIEF

__all__ = ["write_report"]

_TOP = 5  # trials in the learning curves
_TABLE_ROWS = 10
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
.meta, .note { color: #555; } .note { font-style: italic; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th { background: #f5f5f5; } td.l, th.l { text-align: left; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    return _esc(number(value, digits))


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    def cell(tag: str, i: int, v: Any) -> str:
        return f"<{tag}{' class=l' if i < left else ''}>{v}</{tag}>"

    head = "".join(cell("th", i, _esc(h)) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(fig) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=30, t=80, b=50), title_font_size=15)
    if fig.layout.height is None:
        fig.update_layout(height=450)
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _note(text: str) -> str:
    return f"<p class=note>{_esc(text)}</p>"


# -- the exported model --------------------------------------------------------------------------


def _metrics_table(card: dict[str, Any]) -> str:
    thr, test = card.get("threshold") or {}, card["test"]
    rows = [[_esc(name), _esc(val), _esc(test)] for name, val, test in performance_rows(card)]
    rule = thr.get("rule", "").replace("`", "")
    if thr.get("value") is not None:
        rule = rule.replace("value", f"{thr['value']:.4f}") + f" (chosen on the {validated_on(card)}: {thr.get('method')})"
    hp = card.get("hyperparameters", {})
    arch = f"units {hp.get('units')}, {hp.get('activation')}, dropout {_num(hp.get('dropout'))}, " \
           f"{hp.get('optimizer')} lr {_num(hp.get('learning_rate'), 5)}, batch {hp.get('batch_size')}"
    n = f"{test.get('n', '?')} test rows" + (f", {test['n_positive']} positive" if "n_positive" in test else "")
    return (
        f"<p>Trial <b>{_esc(card['trial_id'])}</b> ({_esc(arch)}). Operating threshold: {_esc(rule)}. "
        f"{_esc(n)}.</p>"
        + _table(["metric", "validation", "test"], rows)
        + _note(f"Validation: the {validated_on(card)}. Those numbers are optimistic, because they were used to "
                "choose this model among the trials; the test split was scored once and is not.")
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
    roc.update_layout(title=f"ROC, test split (AUROC {test['auroc']:.3f}, 95% CI {_num(test.get('auroc_ci95'))})",
                      xaxis_title="1 - specificity (false-positive rate)", yaxis_title="sensitivity",
                      legend=dict(x=0.45, y=0.05))
    slope, intercept = test.get("calibration_slope"), test.get("calibration_intercept")
    cal.update_layout(title=f"Calibration, test split (slope {_num(slope, 2)}, intercept {_num(intercept, 2)}, "
                            f"Brier {_num(test.get('brier'))})",
                      xaxis_title="mean predicted probability (quantile bins)", yaxis_title="observed fraction",
                      legend=dict(x=0.02, y=0.98))
    for fig in (roc, cal):
        fig.update_xaxes(range=[-0.02, 1.02])
        fig.update_yaxes(range=[-0.02, 1.02])
    return f"<div class=grid><div>{_figure(roc)}</div><div>{_figure(cal)}</div></div>"


def _model_section(sweep: Sweep, data) -> str:
    best = sweep.path / BEST_DIR
    card_file = best / CARD_FILE
    if not card_file.is_file():
        return "<h2>Exported model</h2>" + _note("No exported model yet (the sweep has not finished).")
    card = json.loads(card_file.read_text())
    parts = ["<h2>Exported model: clinical metrics</h2>", _metrics_table(card)]
    if card.get("pick"):
        pick = card["pick"]
        parts.append(_note(f"Chosen by hpsearch pick: mean validation {card.get('metric')} "
                           f"{_num(pick.get('mean'), 4)} (std {_num(pick.get('std'), 4)}) over seeds {pick.get('seeds')}."))
    if "test" not in card or "auroc_ci95" not in card["test"]:
        return "".join(parts) + _note("This model card predates the clinical metrics; re-export to see them.")
    data = data if data is not None else sweep.data()
    val_proba, proba = _exported_predictions(best, data)
    parts.append(_roc_and_calibration(card, data.y_test, proba, data.y_val, val_proba, list(data.class_names)))
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


# -- trials --------------------------------------------------------------------------------------


def _interval(row: pd.Series, name: str, digits: int) -> str:
    lo, hi = row.get(f"{name}_lo"), row.get(f"{name}_hi")
    return "" if lo is None or pd.isna(lo) else f"{number(float(lo), digits)} to {number(float(hi), digits)}"


def _leaderboard_section(sweep: Sweep) -> str:
    board = sweep.board
    metric = sweep.config.search.metric
    shown = board.head(_TABLE_ROWS)
    rows = []
    for _, r in shown.iterrows():
        tied = r.get("tied_with_best")
        tied = "" if tied is None or (isinstance(tied, float) and np.isnan(tied)) else ("yes" if str(tied) == "True" else "no")
        rows.append([r["rank"], _esc(r["trial_id"]), _esc(r["status"]), _num(_float(r["val_loss"]), 4),
                     _esc(_interval(r, "delta_ci95", 4)), tied, _num(_float(r["val_auroc"])),
                     _esc(_interval(r, "val_auroc_ci95", 3)), r["epochs"], *(_num(r[h], 5) for h in BRIEF)])
    header = ["rank", "trial", "status", "val loss", f"{metric} minus best's (95% CI)", "tied with best",
              "val AUROC", "95% CI", "epochs", *(h.replace("_", " ") for h in BRIEF)]
    text = f"<h2>Leaderboard (top {len(shown)} of {len(board)} trials, ranked by {_esc(metric)})</h2>"
    tied_col = board.get("tied_with_best")
    if tied_col is not None and tied_col.notna().any():
        n_tied = int((tied_col.astype(str) == "True").sum())
        n_ranked = int(tied_col.notna().sum())
        text += (f"<p>{n_tied} of {n_ranked} ranked trials are statistically tied with the best (the best "
                 f"included): the 95% interval of their {_esc(metric)} minus the best trial's, paired on the same "
                 "validation rows, contains 0. Among tied trials prefer the simpler or better-calibrated model, or "
                 "run <code>hpsearch pick</code> to rank the top configurations by their mean over several "
                 "seeds.</p>")
    return text + _table(header, rows, left=3)


def _pick_section(sweep: Sweep) -> str:
    path = sweep.path / PICK_FILE
    if not path.is_file():
        return ""
    pick = pd.read_csv(path, dtype={"trial_id": str, "values": str, "seeds": str})
    metric = sweep.config.search.metric
    rows = [[r["rank"], _esc(r["trial_id"]), _num(r[f"mean_{metric}"], 4), _num(r[f"std_{metric}"], 4),
             _esc(r["values"]), _num(r[f"sweep_{metric}"], 4), r["sweep_rank"], _esc(r["units"])]
            for _, r in pick.iterrows()]
    header = ["rank", "trial", f"mean {metric}", "std", "per seed", "in the sweep", "sweep rank", "units"]
    return (f"<h2>Robust pick (top configurations retrained with seeds {_esc(pick['seeds'].iloc[0])})</h2>"
            + _table(header, rows, left=2))


def _study(sweep: Sweep):
    import optuna

    if not (sweep.path / STUDY_FILE).is_file():
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = study_url(sweep.path)
    names = optuna.get_all_study_names(storage)
    name = sweep.config.name if sweep.config.name in names else (names[0] if len(names) == 1 else None)
    return optuna.load_study(study_name=name, storage=storage) if name else None


def _optuna_section(sweep: Sweep) -> str:
    import optuna
    from optuna import visualization as vis

    parts = ["<h2>Search</h2>"]
    study = _study(sweep)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE] if study else []
    if not complete:
        return "".join(parts) + _note("No completed trial in study.db yet.")
    metric = sweep.config.search.metric
    plots = [
        ("Optimisation history", lambda: vis.plot_optimization_history(study, target_name=metric)),
        ("Parallel coordinates", lambda: vis.plot_parallel_coordinate(study, target_name=metric)),
        ("Hyperparameter importance", lambda: vis.plot_param_importances(study, target_name=metric)),
    ]
    for title, make in plots:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = make()
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            parts.append(_note(f"{title}: not available ({exc})."))
            continue
        fig.update_layout(title=f"{title} ({metric}, {len(complete)} completed trials)")
        parts.append(_figure(fig))
    return "".join(parts)


def _learning_curves(sweep: Sweep) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation AUROC", "loss (solid: validation, dotted: train)"))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    shown = 0
    for i, (_, row) in enumerate(sweep.ranked().head(_TOP).iterrows()):
        path = sweep.trial_file(str(row["trial_id"]), TUNE_RESULT_FILE)
        if not path.is_file():
            continue
        epochs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not epochs:
            continue
        x = [e.get("epoch") for e in epochs]
        color = palette[i % len(palette)]
        name = f"#{row['rank']} {row['trial_id']}"
        fig.add_trace(go.Scatter(x=x, y=[e.get("val_auroc") for e in epochs], name=name, legendgroup=name,
                                 line=dict(color=color)), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[e.get("val_loss") for e in epochs], name=name, legendgroup=name,
                                 showlegend=False, line=dict(color=color)), row=1, col=2)
        fig.add_trace(go.Scatter(x=x, y=[e.get("loss") for e in epochs], name=f"{name} train", legendgroup=name,
                                 showlegend=False, line=dict(color=color, dash="dot")), row=1, col=2)
        shown += 1
    title = f"<h2>Learning curves (top {shown} trials)</h2>"
    if not shown:
        return title + _note("No per-epoch results found.")
    fig.update_xaxes(title_text="epoch", dtick=max(1, sweep.config.train.max_epochs // 10))
    return title + _figure(fig)


def write_report(results_dir: str | Path, *, data=None) -> Path:
    """Write `results_dir/report.html` (see the module docstring); returns its path."""
    from plotly.offline import get_plotlyjs

    from trainable.quiet import quiet_tensorflow

    quiet_tensorflow()
    sweep = open_sweep(results_dir)
    cfg = sweep.config
    body = [
        f"<h1>hpsearch report: {_esc(cfg.name)}</h1>",
        f"<p class=meta>{_esc(cfg.data.source)}; {len(sweep.board)} trials ranked by {_esc(cfg.search.metric)} "
        f"on the validation rows; written {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. "
        f"Folder: {_esc(sweep.path)}</p>",
        _model_section(sweep, data),
        _leaderboard_section(sweep),
        _pick_section(sweep),
        _learning_curves(sweep),
        _optuna_section(sweep),
    ]
    page = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>hpsearch report: {_esc(cfg.name)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>\n'
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    out = sweep.path / REPORT_FILE
    atomic_write_text(out, page)
    return out
