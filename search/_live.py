"""A Tune callback, run on the driver, that keeps leaderboard.csv current, and
the driver's watch over a running `Tuner.fit` (progress display, Ctrl-C).

Contract: `LiveLeaderboard` rewrites `<out>/leaderboard.csv` atomically each
time a trial finishes (or fails for good). Its rows are part of Tune's saved
experiment state (`get_state`/`set_state`), so a restored sweep keeps the
trials that finished before the interruption. Tune pickles callbacks, so the
callback holds no reference to the terminal: the driver wraps `fit` in
`attach(out, on_update)`, and the callback of the sweep in `out` (the original
one, or the copy `Tuner.restore` unpickled) finds the display hook there and
calls `on_update(done, total, best)`. While attached, the first Ctrl-C
(SIGINT) still goes to Ray Tune, which stops the trials in flight and saves its
state; the watch records it (`Watch.interrupted`), and on leaving `attach` the
SIGINT handler of before `fit` is back in place.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
from ray.tune import Callback

from search.leaderboard import LEADERBOARD_FILE, build_leaderboard, trial_row, write_leaderboard

__all__ = ["LiveLeaderboard", "Watch", "attach", "error_text"]


@dataclass
class Watch:
    """The driver's side of a running sweep: its display hook, and whether Ctrl-C stopped it."""

    on_update: Callable[[int, int, float | None], None] | None
    interrupted: bool = False


_WATCHES: dict[str, Watch] = {}


def _key(out: Path | str) -> str:
    return str(Path(out).absolute())


@contextmanager
def attach(out: Path | str, on_update: Callable[[int, int, float | None], None] | None) -> Iterator[Watch]:
    """Watch the sweep in `out` while the block runs (wrap `tuner.fit()` in it)."""
    watch = Watch(on_update)
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    _WATCHES[_key(out)] = watch
    try:
        yield watch
    finally:
        _WATCHES.pop(_key(out), None)
        if main and before is not None:
            signal.signal(signal.SIGINT, before)  # Tune leaves its own handler installed after fit


_WORKER_DIED = "the trial's worker process died (killed, out of memory, or crashed)"


def error_text(trial_or_result: Any) -> str:
    """One line for a failed trial's error: the exception's last line (its
    type and message), or, when the worker process died, a line saying so."""
    from ray.exceptions import RayActorError

    err = getattr(trial_or_result, "error", None)
    if isinstance(err, RayActorError):
        return f"{type(err).__name__}: {_WORKER_DIED}"
    if err is not None and not isinstance(err, str):
        text = f"{type(err).__name__}: {err}".strip()
        return text.splitlines()[-1] if text else type(err).__name__
    path = getattr(trial_or_result, "error_file", None) or ""
    try:
        text = Path(path).read_text().strip().rsplit("Failure # ", 1)[-1]  # the file lists every failure
    except OSError:
        return "trial failed"
    if "The actor died unexpectedly" in text:
        return f"ActorDiedError: {_WORKER_DIED}"
    return text.splitlines()[-1] if text else "trial failed"


class LiveLeaderboard(Callback):
    def __init__(self, out: Path, metric: str, mode: str, max_epochs: int, total: int) -> None:
        self.out, self.metric, self.sign = Path(out), metric, (1 if mode == "max" else -1)
        self.max_epochs, self.total = max_epochs, total
        self.rows: dict[str, dict[str, Any]] = {}
        self.best: float | None = None

    def get_state(self) -> dict[str, Any]:
        return {"rows": dict(self.rows), "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rows, self.best = dict(state["rows"]), state["best"]

    def setup(self, **info: Any) -> None:
        """Called by Tune after it installed its SIGINT handler: note a Ctrl-C, then let Tune stop."""
        watch = _WATCHES.get(_key(self.out))
        if watch is None or threading.current_thread() is not threading.main_thread():
            return
        tune_handler = signal.getsignal(signal.SIGINT)
        if not callable(tune_handler):
            return

        def on_sigint(signum: int, frame: Any) -> None:
            watch.interrupted = True
            tune_handler(signum, frame)

        signal.signal(signal.SIGINT, on_sigint)

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
        watch = _WATCHES.get(_key(self.out))
        if watch is not None and watch.on_update is not None:
            watch.on_update(len(self.rows), self.total, self.best)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, error_text(trial))
