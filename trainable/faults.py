"""TEST-ONLY fault injection: make chosen trial attempts of a sweep fail, for the fault tests.

Contract: `FAULT_ENV` (`HPSEARCH_FAULT`) names the variable the driver reads
into `TrialSettings.fault`, as `KIND[,KIND...]@DIR`. `FaultyReport(report,
spec)` wraps a trial's report function: at this attempt's first report, the
attempt claims the next free slot `DIR/fault-<n>` (an exclusive create, so
one claim per slot across every worker and retry of the sweep) and, right
after that report, fails as KIND number n says: `raise` (an exception in the trial), `sigkill`
(its worker process dies), `linger` (no failure, but the attempt's thread
lingers `LINGER_S` seconds after each report, its last included, as the last
steps of a big table's epoch do: Tune must wait for it before it reuses the
actor) or `none` (no failure: lets a retry through). Once every slot is
claimed, attempts run normally.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

__all__ = ["FAULT_ENV", "FaultyReport", "LINGER_S"]

FAULT_ENV = "HPSEARCH_FAULT"
LINGER_S = 5.0  # longer than Tune's default wait (2 s) for a finished trial's thread


class FaultyReport:
    def __init__(self, report: Callable[[dict[str, Any], str | None], None], spec: str) -> None:
        kinds, _, self.where = spec.partition("@")
        self.kinds = kinds.split(",")
        self.report = report
        self.kind: str | None = None  # this attempt's, once claimed (at its first report)
        self.claimed = False

    def __call__(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        if not self.claimed:
            self.claimed, self.kind = True, self._claim()
        try:
            self.report(metrics, checkpoint_dir)  # may end the thread (SystemExit) when Tune stopped the trial
        finally:
            if self.kind == "linger":
                time.sleep(LINGER_S)
        if self.kind in ("raise", "sigkill"):
            kind, self.kind = self.kind, None
            if kind == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"{FAULT_ENV}: injected failure {self.slot} ({kind})")

    def _claim(self) -> str | None:
        """The next free slot's kind (None once every slot is claimed)."""
        for n, kind in enumerate(self.kinds, start=1):
            try:
                os.close(os.open(os.path.join(self.where, f"fault-{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            self.slot = n
            return kind
        return None
