"""A Tune callback, run on the driver, that keeps leaderboard.csv current.

Each time a trial finishes (or fails for good) it rewrites the leaderboard
atomically and calls `on_update(done, total, best)` for the progress display.
Tune pickles callbacks with the experiment state; the display hook is not
pickled (it holds terminal locks) and is None after a restore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd
from ray.tune import Callback

from search.leaderboard import LEADERBOARD_FILE, build_leaderboard, trial_row, write_leaderboard

__all__ = ["LiveLeaderboard", "error_text"]


def error_text(trial_or_result: Any) -> str:
    """The last line of a failed trial's error."""
    err = getattr(trial_or_result, "error", None)
    if err is not None and not isinstance(err, str):
        text = f"{type(err).__name__}: {err}".strip()
        return text.splitlines()[-1] if text else type(err).__name__
    path = getattr(trial_or_result, "error_file", None) or ""
    try:
        return Path(path).read_text().strip().splitlines()[-1]
    except (OSError, IndexError):
        return "trial failed"


class LiveLeaderboard(Callback):
    def __init__(
        self,
        out: Path,
        metric: str,
        mode: str,
        max_epochs: int,
        total: int,
        on_update: Callable[[int, int, float | None], None] | None = None,
    ) -> None:
        self.out, self.metric, self.sign = Path(out), metric, (1 if mode == "max" else -1)
        self.max_epochs, self.total = max_epochs, total
        self.rows: dict[str, dict[str, Any]] = {}
        self.best: float | None = None
        self.on_update = on_update

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "on_update": None}

    def _finish(self, trial: Any, error: str | None) -> None:
        ckpt = getattr(trial, "checkpoint", None)
        row = trial_row(
            trial.trial_id,
            trial.config,
            trial.last_result,
            max_epochs=self.max_epochs,
            error=error,
            checkpoint=getattr(ckpt, "path", None),
        )
        self.rows[trial.trial_id] = row
        value = row[self.metric]
        if value is not None and not pd.isna(value) and (self.best is None or self.sign * value > self.sign * self.best):
            self.best = float(value)
        write_leaderboard(build_leaderboard(list(self.rows.values()), self.metric), self.out / LEADERBOARD_FILE)
        if self.on_update:
            self.on_update(len(self.rows), self.total, self.best)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, error_text(trial))
