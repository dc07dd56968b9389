"""The report's section on a multi-objective sweep: the Pareto front of the first two objectives, and its table.

Contract: `pareto_section(sweep)` returns HTML ("" for a single-objective
sweep): a plotly scatter of every trial with a model on the first two
objectives (`search.config.ranking`; the front, `pareto_rank` 1, drawn as a step
line; infeasible trials, which miss `search.constraints`, grey; the exported
trial of `best/` ringed), then the front's trials in a table with every
objective. Values are the validation numbers the search chose on
(optimistic for the chosen trials); sizes and latencies are measured, not
estimated. Imports plotly inside the function.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from search.records.model_card import read_card
from search.records.paths import BEST_DIR, CARD_FILE
from search.review.html import esc, figure, note, num, table
from search.review.leaderboard import Status
from search.review.sweep_results import SweepResults
from trainable.names import LATENCY_MS, N_PARAMS, VAL_ACCURACY, VAL_AUROC, VAL_LOSS

__all__ = ["pareto_section"]

_LABELS = {
    VAL_LOSS: "validation loss",
    VAL_AUROC: "validation AUROC",
    VAL_ACCURACY: "validation accuracy",
    N_PARAMS: "parameters",
    LATENCY_MS: "ms to predict 1,000 rows",
}
_COSTS = (N_PARAMS, LATENCY_MS)  # drawn on a log axis


def _exported(sweep: SweepResults) -> str | None:
    best = sweep.path / BEST_DIR
    return read_card(best).trial_id if (best / CARD_FILE).is_file() else None


def _figure(board: pd.DataFrame, objectives: list[tuple[str, str]], exported: str | None) -> Any:
    import plotly.graph_objects as go

    (x, _), (y, _) = objectives[:2]
    fig = go.Figure()
    groups = [
        ("front (pareto_rank 1)", board["pareto_rank"] == 1, "#d62728", 10),
        ("dominated", board["pareto_rank"] > 1, "#1f77b4", 7),
        ("infeasible (misses the constraint)", board["status"] == Status.INFEASIBLE, "#aaaaaa", 7),
    ]
    for name, mask, color, size in groups:
        part = board[mask]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="markers",
                name=name,
                text=part["trial_id"],
                marker=dict(color=color, size=size),
                hovertemplate="trial %{text}<br>" + f"{x} %{{x}}<br>{y} %{{y}}<extra></extra>",
            )
        )
    front = board[board["pareto_rank"] == 1].sort_values(x)
    fig.add_trace(
        go.Scatter(
            x=front[x],
            y=front[y],
            mode="lines",
            line=dict(color="#d62728", shape="hv"),
            name="front",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    chosen = board[board["trial_id"] == exported]
    if not chosen.empty:
        fig.add_trace(
            go.Scatter(
                x=chosen[x],
                y=chosen[y],
                mode="markers",
                name=f"exported ({exported})",
                marker=dict(size=20, color="rgba(0,0,0,0)", line=dict(color="black", width=2)),
            )
        )
    fig.update_layout(
        title=f"Pareto front: {_LABELS.get(x, x)} vs {_LABELS.get(y, y)}",
        xaxis_title=_LABELS.get(x, x),
        yaxis_title=_LABELS.get(y, y),
    )
    if x in _COSTS:
        fig.update_xaxes(type="log")
    if y in _COSTS:
        fig.update_yaxes(type="log")
    return fig


def pareto_section(sweep: SweepResults) -> str:
    ranking = sweep.config.search.ranking
    if not ranking.multi:
        return ""
    board, objectives = sweep.board, list(ranking.objectives)
    names = [m for m, _ in objectives]
    title = f"<h2>Pareto front ({', '.join(f'{m} ({mode})' for m, mode in objectives)})</h2>"
    if not (board["pareto_rank"] == 1).any():
        return title + note("No trial with every objective measured yet.")
    exported = _exported(sweep)
    front = board[board["pareto_rank"] == 1]
    rows = [
        [
            r["rank"],
            esc(r["trial_id"]) + (" (exported)" if r["trial_id"] == exported else ""),
            *(num(r[m], 4) for m in names),
            num(r[VAL_AUROC], 3),
            esc(r["units"]),
        ]
        for _, r in front.iterrows()
    ]
    text = (
        f"<p>{len(front)} of {int(board['pareto_rank'].notna().sum())} trials with a model are on the front: "
        "no other trial is at least as good on every objective and better on one. The default export is the "
        f"front's best on {esc(names[0])}; <code>hpsearch export --trial ID</code> exports any other. "
        "Validation numbers: optimistic for the trials the search chose.</p>"
    )
    return (
        title
        + text
        + figure(_figure(board, objectives, exported))
        + table(["rank", "trial", *names, "val AUROC", "units"], rows, left=2)
    )
