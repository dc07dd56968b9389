"""TEST-ONLY fault injection: make chosen trial attempts of a sweep fail, for the fault tests.

Contract: `FAULT_ENV` (`HPSEARCH_FAULT`) names the variable the driver reads
into `TrialSettings.fault`, as `KIND[,KIND...]@DIR`. `FaultyReport(report,
spec)` wraps a trial's report function: right after this attempt's first
report, the attempt claims the next free slot `DIR/fault-<n>` (an exclusive
create, so one claim per slot across every worker and retry of the sweep) and
fails as KIND number n says: `raise` (an exception in the trial), `sigkill`
(its worker process dies) or `none` (no failure: lets a retry through). Once
every slot is claimed, attempts run normally.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Callable

__all__ = ["FAULT_ENV", "FaultyReport"]

FAULT_ENV = "HPSEARCH_FAULT"


class FaultyReport:
    def __init__(self, report: Callable[[dict[str, Any], str | None], None], spec: str) -> None:
        kinds, _, self.where = spec.partition("@")
        self.kinds = kinds.split(",")
        self.report = report
        self.fired = False

    def __call__(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        self.report(metrics, checkpoint_dir)
        if not self.fired:
            self.fired = True
            self._fail()

    def _fail(self) -> None:
        for n, kind in enumerate(self.kinds, start=1):
            try:
                os.close(os.open(os.path.join(self.where, f"fault-{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            if kind == "none":
                return
            if kind == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"{FAULT_ENV}: injected failure {n} ({kind})")
