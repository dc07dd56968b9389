"""Tables for people: a leaderboard that fits the terminal, with whole values only, and its other text forms.

Contract: `render(frame, fmt)` returns the leaderboard as text in `table`,
`csv`, `json` or `markdown` form (`VIEW` is the CLI's choice of columns for
Markdown). `fit_table(frame, metric, width, title, wide)` returns `(text,
hidden)`: a rich table of `frame` no wider than `width` columns, showing
whole columns in priority order (`priority(metric)`: rank, trial, the ranking
metric and its interval, tied, epochs, status, then the hyperparameters, then
the rest) as long as they fit, and the names of those that did not (`wide`
shows them all, however wide). A value is never cut: numbers are rounded for
reading (4 significant digits; whole numbers stay whole, `units` is text),
and each pair of `<x>_lo`/`<x>_hi` columns is one `[lo, hi]` column.
`hidden_note(hidden, width)` is what to print under such a table.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from typing import Any

import numpy as np
import pandas as pd

from search.config.space import BRIEF, HYPERPARAMETERS
from trainable.names import LATENCY_MS, N_PARAMS, VAL_ACCURACY, VAL_AUROC, VAL_LOSS, VAL_SENSITIVITY, VAL_SPECIFICITY

__all__ = ["FORMATS", "VIEW", "fit_table", "hidden_note", "markdown_table", "priority", "render"]

FORMATS = ("table", "csv", "json", "markdown")
VIEW = [
    "rank",
    "pareto_rank",
    "trial_id",
    "status",
    VAL_LOSS,
    "delta_ci95_lo",
    "delta_ci95_hi",
    "tied_with_best",
    VAL_AUROC,
    f"{VAL_AUROC}_ci95_lo",
    f"{VAL_AUROC}_ci95_hi",
    "epochs",
    *BRIEF,
    N_PARAMS,
    LATENCY_MS,
]

_OPTIONAL = ("pareto_rank", VAL_SENSITIVITY, VAL_SPECIFICITY, LATENCY_MS)
_INTERVALS = {f"{VAL_AUROC}_ci95": f"{VAL_AUROC} 95% CI", "delta_ci95": "vs best 95% CI"}


def priority(metric: str | None, pareto: bool = False) -> list[str]:
    """Columns in the order they earn their place on a narrow screen; `pareto`: a multi-objective
    leaderboard, whose front (`pareto_rank`) and measured costs come right after the rank."""
    ranked_by = metric or VAL_LOSS
    ranking = [ranked_by, "delta_ci95" if ranked_by in (VAL_LOSS, VAL_ACCURACY) else f"{VAL_AUROC}_ci95"]
    if pareto:
        ranking = ["pareto_rank", "trial_id", ranked_by, N_PARAMS, LATENCY_MS, VAL_AUROC]
    rest = [VAL_AUROC, f"{VAL_AUROC}_ci95", VAL_LOSS, "delta_ci95", VAL_ACCURACY]
    front = ["rank", "trial_id", *ranking, "tied_with_best", "epochs", "status"]
    return list(dict.fromkeys(front + [*BRIEF, *HYPERPARAMETERS] + rest))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e6 else f"{number:.4g}"
    return str(value)


def _columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Column name -> formatted cells, interval pairs merged; the front marked in `pareto_rank`; the
    columns only some sweeps fill (`_OPTIONAL`) left out when empty."""
    out: dict[str, list[str]] = {}
    for name in frame.columns:
        if name in _OPTIONAL and frame[name].isna().all():
            continue
        if name == "pareto_rank":
            out[name] = ["" if pd.isna(v) else ("front" if v == 1 else str(int(v))) for v in frame[name]]
            continue
        if name.endswith("_hi") and name[:-3] + "_lo" in frame.columns:
            continue
        if name.endswith("_lo") and name[:-3] + "_hi" in frame.columns:
            base = name[:-3]
            out[base] = [
                "" if pd.isna(a) or pd.isna(b) else f"[{a:.3g}, {b:.3g}]"
                for a, b in zip(frame[name], frame[base + "_hi"])
            ]
        else:
            out[name] = [_cell(v) for v in frame[name]]
    return out


def _header(name: str) -> str:
    return _INTERVALS.get(name, {"tied_with_best": "tied", "trial_id": "trial"}.get(name, name))


def _render(cells: dict[str, list[str]], names: list[str], title: str, width: int) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for name in names:
        numeric = all(
            c.replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).isdigit() or not c for c in cells[name]
        )
        size = max([len(_header(name)), *map(len, cells[name])])
        table.add_column(_header(name), justify="right" if numeric else "left", no_wrap=True, min_width=size)
    for i in range(len(next(iter(cells.values()), []))):
        table.add_row(*(cells[name][i] for name in names))
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False).print(table)
    return buffer.getvalue()


def fit_table(
    frame: pd.DataFrame, metric: str | None, width: int, title: str = "", wide: bool = False
) -> tuple[str, list[str]]:
    cells = _columns(frame)
    first = priority(metric, pareto="pareto_rank" in cells)
    order = [c for c in first if c in cells] + [c for c in cells if c not in first]
    shown, hidden, used = [], [], 1  # the table's left border
    for name in order:
        need = max([len(_header(name)), *map(len, cells[name])]) + 3  # padding and a border
        if wide or used + need <= width:
            shown.append(name)
            used += need
        else:
            hidden.append(name)
    return _render(cells, shown, title, max(width, used) if wide else width), hidden


def markdown_table(frame: pd.DataFrame) -> str:
    """`frame` as a Markdown table, its cells as in the terminal's."""
    cells = _columns(frame)
    names = list(cells)
    lines = ["| " + " | ".join(_header(n) for n in names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cells[n][i] for n in names) + " |" for i in range(len(frame))]
    return "\n".join(lines)


def hidden_note(hidden: list[str], width: int) -> str:
    """The columns left out, wrapped to `width`."""
    import textwrap

    text = (
        f"not shown, too wide for this terminal: {', '.join(_header(h) for h in hidden)} "
        "(see them with --wide, or --format csv|json|markdown)"
    )
    return "\n".join(textwrap.wrap(text, width=max(width, 20), break_on_hyphens=False))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def render(
    frame: pd.DataFrame,
    fmt: str = "table",
    *,
    columns: list[str] | None = None,
    title: str = "",
    metric: str | None = None,
    width: int | None = None,
    wide: bool = False,
) -> str:
    """The leaderboard as text: `table` (rich, fitted to `width`, by default the terminal's), `csv`, `json`
    or `markdown`."""
    if fmt == "csv":
        return str(frame.to_csv(index=False, float_format="%.6g"))
    if fmt == "json":
        records = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return json.dumps(records, indent=2, default=str)
    if fmt == "markdown":
        return markdown_table(frame[columns] if columns else frame)
    width = width or shutil.get_terminal_size((120, 24)).columns
    text, hidden = fit_table(frame[columns] if columns else frame, metric, width, title, wide)
    return text + (hidden_note(hidden, width) + "\n" if hidden else "")
