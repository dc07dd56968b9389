"""The baselines, fitted while a sweep's last trials run, on a CPU slot they leave idle.

Contract: the baselines (`trainable.stats.baselines`) depend on the data and the
`export` config alone, never on the trials, so the driver may fit them before
the sweep ends. `EarlyBaselines(data, cfg, idle_from_start)`:
- `start(after)` (once; later calls do nothing) fits `cfg.export.baselines` in
  a background thread, after the thread `after` (the driver's import prefetch:
  two threads must not import scikit-learn at once) has ended, with one
  OpenMP thread (gradient boosting's; its result does not depend on it), so
  it takes one slot and slows no running trial. The driver starts it when no
  trial is pending and a slot is free (`search.sweep.live`'s `on_idle`);
- `result()` is `{name: Baseline}`: the early fit's, waited for, or, when it
  never started, fitted now with every thread (one on small tables:
  `trainable.stats.baselines`). An error in the early fit is
  raised here, where the export would have raised it. The result is the same
  either way (`fit_baselines` gives the same bits on any number of threads);
- `times`: when an early fit was started (a slot found idle; it begins
  once `after` has ended) and when it ended (the driver's `timings.json`).
A sweep's trials end raggedly (on a 200,000-row table, one trial trained 16 s
alone after the others ended), so the ~2-3 s of fitting mostly disappears into
that tail, instead of following the sweep.
"""

from __future__ import annotations

import threading
import time

from search.config.schema import Config
from trainable.data.dataset import Dataset
from trainable.stats.baselines import Baseline, fit_baselines

__all__ = ["EarlyBaselines"]


class EarlyBaselines:
    def __init__(self, data: Dataset, cfg: Config, idle_from_start: bool) -> None:
        self.data, self.export, self.class_weight = data, cfg.export, cfg.train.class_weight
        self.idle_from_start = idle_from_start  # fewer trials than slots: start with the sweep
        self._thread: threading.Thread | None = None
        self._fitted: dict[str, Baseline] | None = None
        self._error: BaseException | None = None
        self.times: dict[str, float] = {}  # `baselines_start`, `baselines_end` of an early fit (timings.json)

    def _fit(self, threads: int | None) -> dict[str, Baseline]:
        return fit_baselines(
            self.data,
            list(self.export.baselines),
            self.class_weight,
            self.export.seed,
            self.export.baseline_max_rows,
            self.export.baseline_grid.model_dump(),
            openmp_threads=threads,
        )

    def start(self, after: threading.Thread | None = None) -> None:
        """Fit in the background on one thread (see the module docstring); once."""
        if self._thread is not None or not self.export.baselines:
            return
        self.times["baselines_start"] = time.time()  # a slot was found idle

        def work() -> None:
            if after is not None:
                after.join()
            try:
                self._fitted = self._fit(threads=1)
            except BaseException as exc:
                self._error = exc
            self.times["baselines_end"] = time.time()

        # not a daemon: an interrupted sweep's exit waits for it rather than stopping native code mid-fit
        self._thread = threading.Thread(target=work, name="hpsearch-baselines")
        self._thread.start()

    def result(self) -> dict[str, Baseline]:
        """The fitted baselines: the early fit's (waited for), else fitted now."""
        if self._thread is None:
            return self._fit(threads=None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._fitted or {}
