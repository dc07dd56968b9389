"""A sweep's review report: one self-contained HTML file, `RESULTS_DIR/report.html`.

Contract: `write_report(results_dir, data=None)` reads a sweep folder and
writes `report.html` atomically; returns its path. The file opens offline:
plotly.js is inlined once in the head, every figure is a plotly div, nothing
is fetched from a CDN. Sections, each present when its inputs exist (so a
report of a sweep that is still running shows what has finished):
- the exported model (`best/`, `search.review.model_section`): the one test scoring
  as its card recorded it (clinical metrics, ROC and calibration, baselines,
  decision curve, subgroups);
- for several objectives, the Pareto front (`search.review.pareto_section`);
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
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.config.space import BRIEF
from search.records.paths import PICK_FILE, REPORT_FILE, STUDY_FILE, TUNE_RESULT_FILE, atomic_write_text, study_url
from search.review.html import STYLE, esc, figure, note, num, table
from search.review.model_section import model_section
from search.review.numbers import number
from search.review.pareto_section import pareto_section
from search.review.sweep_results import SweepResults, open_sweep
from trainable.data.dataset import Dataset
from trainable.names import EPOCH, VAL_AUROC, VAL_LOSS, member_metrics

__all__ = ["write_report"]

_TOP = 5  # trials in the learning curves
_TABLE_ROWS = 10


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


# -- trials --------------------------------------------------------------------------------------


def _interval(row: pd.Series, name: str, digits: int) -> str:
    lo, hi = row.get(f"{name}_lo"), row.get(f"{name}_hi")
    return "" if lo is None or pd.isna(lo) else f"{number(float(lo), digits)} to {number(float(hi), digits)}"


def _leaderboard_section(sweep: SweepResults) -> str:
    board = sweep.board
    metric = sweep.config.search.metric
    shown = board.head(_TABLE_ROWS)
    rows = []
    for _, r in shown.iterrows():
        tied = r.get("tied_with_best")
        tied = (
            ""
            if tied is None or (isinstance(tied, float) and np.isnan(tied))
            else ("yes" if str(tied) == "True" else "no")
        )
        rows.append(
            [
                r["rank"],
                esc(r["trial_id"]),
                esc(r["status"]),
                num(_float(r[VAL_LOSS]), 4),
                esc(_interval(r, "delta_ci95", 4)),
                tied,
                num(_float(r[VAL_AUROC])),
                esc(_interval(r, f"{VAL_AUROC}_ci95", 3)),
                r["epochs"],
                *(num(r[h], 5) for h in BRIEF),
            ]
        )
    header = [
        "rank",
        "trial",
        "status",
        "val loss",
        f"{metric} minus best's (95% CI)",
        "tied with best",
        "val AUROC",
        "95% CI",
        "epochs",
        *(h.replace("_", " ") for h in BRIEF),
    ]
    text = (
        f"<h2>Leaderboard (top {len(shown)} of {len(board)} trials, ranked by "
        f"{esc(sweep.config.search.ranking.describe())})</h2>"
    )
    tied_col = board.get("tied_with_best")
    if tied_col is not None and tied_col.notna().any():
        n_tied = int((tied_col.astype(str) == "True").sum())
        n_ranked = int(tied_col.notna().sum())
        text += (
            f"<p>{n_tied} of {n_ranked} ranked trials are statistically tied with the best (the best "
            f"included): the 95% interval of their {esc(metric)} minus the best trial's, paired on the same "
            "validation rows, contains 0. Among tied trials prefer the simpler or better-calibrated model, or "
            "run <code>hpsearch pick</code> to rank the top configurations by their mean over several "
            "seeds.</p>"
        )
    return text + table(header, rows, left=3)


def _pick_section(sweep: SweepResults) -> str:
    path = sweep.path / PICK_FILE
    if not path.is_file():
        return ""
    pick = pd.read_csv(path, dtype={"trial_id": str, "values": str, "seeds": str})
    metric = sweep.config.search.metric
    rows = [
        [
            r["rank"],
            esc(r["trial_id"]),
            num(r[f"mean_{metric}"], 4),
            num(r[f"std_{metric}"], 4),
            esc(r["values"]),
            num(r[f"sweep_{metric}"], 4),
            r["sweep_rank"],
            esc(r["units"]),
        ]
        for _, r in pick.iterrows()
    ]
    header = ["rank", "trial", f"mean {metric}", "std", "per seed", "in the sweep", "sweep rank", "units"]
    return f"<h2>Robust pick (top configurations retrained with seeds {esc(pick['seeds'].iloc[0])})</h2>" + table(
        header, rows, left=2
    )


def _study(sweep: SweepResults) -> Any:
    import optuna

    if not (sweep.path / STUDY_FILE).is_file():
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = study_url(sweep.path)
    names = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=sweep.config.name, storage=storage) if sweep.config.name in names else None


def _optuna_section(sweep: SweepResults) -> str:
    import optuna
    from optuna import visualization as vis

    parts = ["<h2>Search</h2>"]
    study = _study(sweep)
    complete = (
        [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE] if study else []
    )
    if not complete:
        return "".join(parts) + note("No completed trial in study.db yet.")
    metric = sweep.config.search.metric
    target = None
    if sweep.config.search.objectives:  # several objectives: these plots show the first
        metric = sweep.config.search.objectives[0].metric

        def target(t: Any) -> float:
            return t.values[0]

    plots = [
        ("Optimisation history", lambda: vis.plot_optimization_history(study, target=target, target_name=metric)),
        ("Parallel coordinates", lambda: vis.plot_parallel_coordinate(study, target=target, target_name=metric)),
        ("Hyperparameter importance", lambda: vis.plot_param_importances(study, target=target, target_name=metric)),
    ]
    for title, make in plots:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = make()
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            parts.append(note(f"{title}: not available ({exc})."))
            continue
        fig.update_layout(title=f"{title} ({metric}, {len(complete)} completed trials)")
        parts.append(figure(fig))
    return "".join(parts)


def _member_epochs(path: Path, trial_id: str) -> list[dict[str, Any]]:
    """Configuration `trial_id`'s metrics at each of its epochs, from its pack's `result.json` (a frozen
    member's metrics repeat in the pack's later reports: kept once)."""
    epochs: dict[Any, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            own = member_metrics(json.loads(line)).get(trial_id)
            if own is not None:
                epochs.setdefault(own.get(EPOCH), own)
    return list(epochs.values())


def _learning_curves(sweep: SweepResults) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation AUROC", "loss (solid: validation, dotted: train)"))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    shown = 0
    for i, (_, row) in enumerate(sweep.ranked().head(_TOP).iterrows()):
        path = sweep.trial_file(str(row["trial_id"]), TUNE_RESULT_FILE)
        if not path.is_file():
            continue
        epochs = _member_epochs(path, str(row["trial_id"]))
        if not epochs:
            continue
        x = [e.get(EPOCH) for e in epochs]
        color = palette[i % len(palette)]
        name = f"#{row['rank']} {row['trial_id']}"
        fig.add_trace(
            go.Scatter(x=x, y=[e.get(VAL_AUROC) for e in epochs], name=name, legendgroup=name, line=dict(color=color)),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e.get(VAL_LOSS) for e in epochs],
                name=name,
                legendgroup=name,
                showlegend=False,
                line=dict(color=color),
            ),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e.get("loss") for e in epochs],
                name=f"{name} train",
                legendgroup=name,
                showlegend=False,
                line=dict(color=color, dash="dot"),
            ),
            row=1,
            col=2,
        )
        shown += 1
    title = f"<h2>Learning curves (top {shown} trials)</h2>"
    if not shown:
        return title + note("No per-epoch results found.")
    fig.update_xaxes(title_text="epoch", dtick=max(1, sweep.config.train.max_epochs // 10))
    return title + figure(fig)


def write_report(results_dir: str | Path, *, data: Dataset | None = None) -> Path:
    """Write `results_dir/report.html` (see the module docstring); returns its path."""
    from plotly.offline import get_plotlyjs

    from trainable.runtime.environment import prepare_tensorflow

    prepare_tensorflow()
    sweep = open_sweep(results_dir)
    cfg = sweep.config
    body = [
        f"<h1>hpsearch report: {esc(cfg.name)}</h1>",
        f"<p class=meta>{esc(cfg.data.source)}; {len(sweep.board)} trials ranked by "
        f"{esc(cfg.search.ranking.describe())} "
        f"on the validation rows; written {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}. "
        f"Folder: {esc(sweep.path)}</p>",
        model_section(sweep, data),
        pareto_section(sweep),
        _leaderboard_section(sweep),
        _pick_section(sweep),
        _learning_curves(sweep),
        _optuna_section(sweep),
    ]
    page = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>hpsearch report: {esc(cfg.name)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>\n'
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    out = sweep.path / REPORT_FILE
    atomic_write_text(out, page)
    return out
