"""The driver's live view of a running `Tuner.fit`: progress, the leaderboard kept current, Ctrl-C.

Contract: Tune pickles its callbacks with the experiment, so no callback holds
the terminal. The driver wraps `fit` in `attach(key, on_update)`; a callback
made with the same `key` (the original one, or the copy `Tuner.restore`
unpickled) finds the display hook there and calls `on_update(done, total,
best)` each time a trial finishes or fails for good; `Watch.reporting` is set
at the first result (the driver sets it at the end too), and `Watch.on_idle` (if set) is called once, when a
trial ends with every trial created and none pending (its slot stays free).
While attached, the first
Ctrl-C (SIGINT) still goes to Ray Tune, which stops the trials in flight and
saves its state; the watch records it (`Watch.interrupted`), and on leaving
`attach` the SIGINT handler of before `fit` is back in place.
- `TrialCounter(key, total, packs)` counts finished configurations (`total`
  of them, trained by `packs` Tune trials) (`hpsearch pick`).
- `LiveLeaderboard(out, max_epochs, total, ranking, packs)` (`packs`: the
  sizes of the sweep's packs) also rewrites
  `<out>/leaderboard.csv` atomically as trials finish: at once after a quiet
  spell, else at most once a second (a rewrite costs O(trials): at every
  trial, O(trials^2) for a sweep), and always when the experiment ends or is
  interrupted; once a rewrite costs more than 1/19 s, at most every 19
  times its cost (a twentieth of the driver's time). Its rows are part of
  Tune's saved state
  (`get_state`/`set_state`), so a restored sweep keeps the trials that
  finished before the interruption.
Imports Ray: load it lazily (driver only).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ray.tune import Callback

from search.config.ranking import Ranking
from search.records.paths import LEADERBOARD_FILE
from search.review.leaderboard import build_leaderboard, write_leaderboard
from search.sweep.tune_rows import rows_of_trial
from trainable.names import MEMBERS
from trainable.stats.metrics import better

__all__ = ["LiveLeaderboard", "TrialCounter", "Watch", "attach"]

OnUpdate = Callable[[int, int, "float | None"], None]


@dataclass
class Watch:
    """The driver's side of a running fit: its display hook, and whether Ctrl-C stopped it."""

    on_update: OnUpdate | None
    interrupted: bool = False
    reporting: threading.Event = field(default_factory=threading.Event)  # set at the first result
    on_idle: Callable[[], None] | None = None  # called once, when a trial ends and none is left to start


_WATCHES: dict[str, Watch] = {}


def _key(key: Path | str) -> str:
    return str(Path(key).absolute())


@contextmanager
def attach(key: Path | str, on_update: OnUpdate | None) -> Iterator[Watch]:
    """Watch the fit whose callbacks were made with `key` while the block runs (wrap `tuner.fit()` in it)."""
    watch = Watch(on_update)
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    _WATCHES[_key(key)] = watch
    try:
        yield watch
    finally:
        _WATCHES.pop(_key(key), None)
        if main and before is not None:
            signal.signal(signal.SIGINT, before)  # Tune leaves its own handler installed after fit


class TrialCounter(Callback):
    """Counts configurations (`total`) as the Tune trials training them (`packs`, default `total`) end."""

    def __init__(self, key: Path | str, total: int, packs: int | None = None) -> None:
        self.key, self.total, self.done = _key(key), total, 0
        self.packs = total if packs is None else packs
        self.best: float | None = None

    def setup(
        self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None, **info: Any
    ) -> None:
        """Called by Tune after it installed its SIGINT handler: note a Ctrl-C, then let Tune stop."""
        watch = _WATCHES.get(self.key)
        if watch is None or threading.current_thread() is not threading.main_thread():
            return
        tune_handler = signal.getsignal(signal.SIGINT)
        if not callable(tune_handler):
            return

        def on_sigint(signum: int, frame: Any) -> None:
            watch.interrupted = True
            tune_handler(signum, frame)

        signal.signal(signal.SIGINT, on_sigint)

    def _finished(self, trial: Any, failed: bool) -> None:
        self.done += max(1, len((trial.config or {}).get(MEMBERS) or ()))

    def _tell(self) -> None:
        watch = _WATCHES.get(self.key)
        if watch is not None and watch.on_update is not None:
            watch.on_update(self.done, self.total, self.best)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        watch = _WATCHES.get(self.key)
        if watch is not None:
            watch.reporting.set()

    def _idle(self, trials: list) -> None:
        """A trial ended; with every trial created and none pending, its slot stays free: tell the driver."""
        watch = _WATCHES.get(self.key)
        if watch is None or watch.on_idle is None or len(trials) < self.packs:
            return
        if not any(t.status == "PENDING" for t in trials):
            told, watch.on_idle = watch.on_idle, None
            told()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finished(trial, failed=False)
        self._tell()
        self._idle(trials)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finished(trial, failed=True)
        self._tell()
        self._idle(trials)


class LiveLeaderboard(TrialCounter):
    every = 1.0  # (for one pickled by a version without it)

    def __init__(
        self, out: Path, max_epochs: int, total: int, ranking: Ranking, packs: list[int] | None = None
    ) -> None:
        super().__init__(out, total, None if packs is None else len(packs))
        self.out, self.metric, self.max_epochs, self.ranking = Path(out), ranking.metric, max_epochs, ranking
        self.rows: dict[str, dict[str, Any]] = {}
        self.written_at = 0.0  # monotonic time of the last rewrite
        self.every = 1.0  # seconds between rewrites: 1, or 19 x the last one's cost (a twentieth of the time)
        self.unwritten = False

    def get_state(self) -> dict[str, Any]:
        return {"rows": dict(self.rows), "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rows, self.best = dict(state["rows"]), state["best"]
        self.done = len(self.rows)

    def _finished(self, trial: Any, failed: bool) -> None:
        for row in rows_of_trial(trial, self.max_epochs, failed):
            self.rows[row["trial_id"]] = row
            value = row[self.metric]
            if (
                value is not None
                and not pd.isna(value)
                and (self.best is None or better(self.metric, value, self.best))
            ):
                self.best = float(value)
        self.done = len(self.rows)
        self.unwritten = True
        if time.monotonic() - self.written_at >= self.every or self.done >= self.total:
            self._write()

    def _write(self) -> None:
        started = time.monotonic()
        write_leaderboard(build_leaderboard(list(self.rows.values()), self.ranking), self.out / LEADERBOARD_FILE)
        self.written_at, self.unwritten = time.monotonic(), False
        self.every = max(1.0, 19 * (self.written_at - started))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self.unwritten:
            self._write()
