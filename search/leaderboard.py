"""Trial results -> a ranked results table (the leaderboard), and its files.

Contract: `trial_row(...)` turns one trial's last reported metrics and config
into a flat row; `build_leaderboard(rows, metric)` ranks them (best first by the
trial's best epoch; errored and diverged trials last, never ranked best);
`write_leaderboard(frame, path)` writes `leaderboard.csv` atomically;
`read_leaderboard(dir)` reads it back; `render(frame, fmt)` returns text in
table/csv/json/markdown form (the table shows the CI as one `lo-hi` column).
`mark_ties(frame, intervals)` fills in the validation AUROC 95% intervals and
`tied_with_best` (the trial's interval overlaps the rank-1 trial's). Imports
pandas only: safe on the CLI path.

Columns: `rank, trial_id, status, val_auroc, val_auroc_ci95_lo,
val_auroc_ci95_hi, tied_with_best, val_accuracy, val_loss, epochs, best_epoch,
train_seconds, n_params, node, error`, then one column per hyperparameter,
then `checkpoint` (the trial's best-epoch checkpoint directory). The interval
columns are computed at the end of a sweep (see `search.review`); while a
sweep runs they are empty.
"""

from __future__ import annotations

import io
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainable.errors import HpsearchError

__all__ = [
    "COLUMNS",
    "LEADERBOARD_FILE",
    "build_leaderboard",
    "mark_ties",
    "read_leaderboard",
    "render",
    "trial_row",
    "write_leaderboard",
]

LEADERBOARD_FILE = "leaderboard.csv"
METRIC_COLUMNS = ["val_auroc", "val_accuracy", "val_loss"]
TIE_COLUMNS = ["val_auroc_ci95_lo", "val_auroc_ci95_hi", "tied_with_best"]
RANKED = ("completed", "stopped")
HP_COLUMNS = ["n_layers", "units", "activation", "dropout", "l2", "learning_rate", "batch_size", "optimizer"]
COLUMNS = [
    "rank", "trial_id", "status", "val_auroc", *TIE_COLUMNS, "val_accuracy", "val_loss", "epochs", "best_epoch", "train_seconds",
    "n_params", "node", "error", *HP_COLUMNS, "checkpoint",
]
_MODES = {"val_auroc": "max", "val_accuracy": "max", "val_loss": "min"}


def _units(config: dict[str, Any]) -> str:
    n = int(config.get("n_layers", 0) or 0)
    return "-".join(str(config.get(f"units_{i}", "?")) for i in range(n))


def trial_row(
    trial_id: str,
    config: dict[str, Any],
    metrics: dict[str, Any] | None,
    *,
    max_epochs: int,
    error: str | None = None,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """One leaderboard row from a trial's config and last reported metrics."""
    metrics = metrics or {}
    epochs = int(metrics.get("epoch", 0) or 0)
    if error:
        status = "error"
    elif metrics.get("diverged"):
        status = "diverged"
    elif epochs >= max_epochs:
        status = "completed"
    elif epochs > 0:
        status = "stopped"
    else:
        status = "pending"
    ranked = status in ("completed", "stopped")
    row: dict[str, Any] = {
        "trial_id": trial_id,
        "status": status,
        **{m: metrics.get(f"best_{m}") if ranked else None for m in METRIC_COLUMNS},
        "epochs": epochs,
        "best_epoch": metrics.get("best_epoch"),
        "train_seconds": round(float(metrics.get("train_seconds", 0.0) or 0.0), 2),
        "n_params": metrics.get("n_params"),
        "node": metrics.get("node"),
        "error": (error or "").strip().splitlines()[-1][:300] if error else None,
        "n_layers": config.get("n_layers"),
        "units": _units(config),
        **{k: config.get(k) for k in HP_COLUMNS[2:]},
        "checkpoint": checkpoint,
    }
    return row


def build_leaderboard(rows: list[dict[str, Any]], metric: str = "val_auroc") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    ascending = _MODES.get(metric, "max") == "min"
    tiebreak = "val_auroc" if metric == "val_loss" else "val_loss"
    frame = frame.sort_values(
        [metric, tiebreak, "trial_id"], ascending=[ascending, not ascending, True], na_position="last", kind="stable"
    ).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def mark_ties(frame: pd.DataFrame, intervals: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Fill the AUROC interval columns from `intervals` (trial_id -> (lo, hi)) and
    flag the trials whose interval overlaps the best-ranked trial's."""
    frame = frame.copy()
    lo = frame["trial_id"].map(lambda t: intervals.get(t, (math.nan, math.nan))[0]).astype(float)
    hi = frame["trial_id"].map(lambda t: intervals.get(t, (math.nan, math.nan))[1]).astype(float)
    frame["val_auroc_ci95_lo"], frame["val_auroc_ci95_hi"] = lo, hi
    ranked = frame["status"].isin(RANKED) & lo.notna() & hi.notna()
    tied = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if ranked.any():
        best = frame.index[ranked][0]
        overlap = (hi >= lo[best]) & (lo <= hi[best])
        tied[ranked] = overlap[ranked].astype(bool)
    frame["tied_with_best"] = tied
    return frame


def write_leaderboard(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)


def read_leaderboard(results_dir: str | Path) -> pd.DataFrame:
    path = Path(results_dir) / LEADERBOARD_FILE
    if not Path(results_dir).is_dir():
        raise HpsearchError(f"{results_dir}: results directory not found")
    if not path.is_file():
        raise HpsearchError(f"{path}: no leaderboard yet (no trial has finished in this sweep)")
    return pd.read_csv(path, dtype={"trial_id": str, "node": str, "units": str, "error": str, "checkpoint": str})


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def render(frame: pd.DataFrame, fmt: str = "table", *, columns: list[str] | None = None, title: str = "") -> str:
    """The leaderboard as text: `table` (rich), `csv`, `json` or `markdown`."""
    if fmt == "csv":
        return frame.to_csv(index=False, float_format="%.6g")
    if fmt == "json":
        import json

        records = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return json.dumps(records, indent=2, default=str)
    shown = _merge_interval(frame[columns] if columns else frame)
    if fmt == "markdown":
        header = "| " + " | ".join(shown.columns) + " |"
        rule = "|" + "---|" * len(shown.columns)
        body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in shown.itertuples(index=False)]
        return "\n".join([header, rule, *body])
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for col in shown.columns:
        table.add_column(col, justify="right" if pd.api.types.is_numeric_dtype(shown[col]) else "left")
    for row in shown.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    buffer = io.StringIO()
    width = shutil.get_terminal_size((160, 24)).columns
    Console(file=buffer, width=width, force_terminal=False).print(table)
    return buffer.getvalue()


def _merge_interval(frame: pd.DataFrame) -> pd.DataFrame:
    """For display: the two interval columns as one `lo-hi` text column."""
    lo, hi = TIE_COLUMNS[:2]
    if lo not in frame.columns or hi not in frame.columns:
        return frame
    text = [
        "" if pd.isna(a) or pd.isna(b) else f"{a:.3f}-{b:.3f}" for a, b in zip(frame[lo], frame[hi])
    ]
    merged = frame.drop(columns=[hi]).rename(columns={lo: "val_auroc_ci95", "tied_with_best": "tied"})
    merged["val_auroc_ci95"] = text
    return merged


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
