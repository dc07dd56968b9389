"""TEST-ONLY fault injection: a trial function that makes chosen trial attempts of a sweep fail.

`faulty_trial(kinds, where)` is what a sweep's trials run instead of
`trainable.trial.train.train_trial` (`run_sweep(cfg, trial=...)`): the same
trial, with this worker's `ray.tune.report` wrapped for its duration. At an
attempt's first report, the attempt claims the next free slot
`where/fault-<n>` (an exclusive create, so one claim per slot across every
worker and retry of the sweep) and, right after that report, fails as
`kinds[n - 1]` says: `raise` (an exception in the trial), `sigkill` (its
worker process dies), `linger` (no failure, but the attempt's thread lingers
`LINGER_S` seconds after each report, its last included, as the last steps of
a big table's epoch do: Tune must wait for it before it reuses the actor) or
`none` (no failure: lets a retry through). Once every slot is claimed,
attempts run normally. `node_killer(ip, epoch, where)` loses a node instead:
the first trial on the node at `ip` to report `epoch` SIGKILLs that node's
raylet, then its own process. Nothing of this is in the production packages:
this module is shipped to Ray's workers by value.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray.cloudpickle

LINGER_S = 5.0  # longer than Tune's default wait (2 s) for a finished trial's thread

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the tests


class FaultyReport:
    def __init__(self, report: Callable[..., None], kinds: list[str], where: Path) -> None:
        self.report, self.kinds, self.where = report, kinds, Path(where)
        self.kind: str | None = None  # this attempt's, once claimed (at its first report)
        self.claimed = False
        self.slot = 0

    def __call__(self, metrics: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if not self.claimed:
            self.claimed, self.kind = True, self._claim()
        try:
            self.report(metrics, *args, **kwargs)  # may end the thread when Tune stopped the trial
        finally:
            if self.kind == "linger":
                time.sleep(LINGER_S)
        if self.kind in ("raise", "sigkill"):
            kind, self.kind = self.kind, None
            if kind == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"injected failure {self.slot} ({kind})")

    def _claim(self) -> str | None:
        """The next free slot's kind (None once every slot is claimed)."""
        for n, kind in enumerate(self.kinds, start=1):
            try:
                os.close(os.open(self.where / f"fault-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            self.slot = n
            return kind
        return None


def _reporting_through(
    wrap: Callable[[Callable[..., None]], Callable[..., None]],
) -> Callable[[dict[str, Any], Any, Any], None]:
    """`train_trial`, with this worker's `ray.tune.report` replaced by `wrap(report)` for its duration."""

    def trial(config: dict[str, Any], data: Any, settings: Any) -> None:
        from ray import tune

        from trainable.trial.train import train_trial

        report = tune.report
        tune.report = wrap(report)
        try:
            train_trial(config, data, settings)
        finally:
            tune.report = report

    return trial


def faulty_trial(kinds: list[str], where: Path) -> Callable[[dict[str, Any], Any, Any], None]:
    return _reporting_through(lambda report: FaultyReport(report, kinds, where))


def _raylet() -> int:
    """The raylet this worker process descends from (its parent, or further up through Ray's worker set-up)."""
    pid = os.getppid()
    while Path(f"/proc/{pid}/comm").read_text().strip() != "raylet":
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert pid > 1, "no raylet above this worker"
    return pid


class NodeKiller:
    """Wraps `ray.tune.report` in a trial on the node at `ip`: right after that trial's report of epoch
    `epoch`, the first such attempt (one claim, `where/raylet-killed`) SIGKILLs its node's raylet and then
    itself, as on a lost machine."""

    def __init__(self, report: Callable[..., None], ip: str, epoch: int, where: Path) -> None:
        self.report, self.ip, self.epoch, self.where = report, ip, epoch, Path(where)

    def __call__(self, metrics: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        self.report(metrics, *args, **kwargs)
        if metrics.get("epoch") == self.epoch and self._here() and self._claim():
            raylet = _raylet()
            os.kill(raylet, signal.SIGKILL)
            (self.where / "raylet-killed").write_text(f"{raylet} {os.getpid()} {time.time()}")
            os.kill(os.getpid(), signal.SIGKILL)  # and this worker with it, as on a lost machine

    def _here(self) -> bool:
        import ray

        return ray.util.get_node_ip_address() == self.ip

    def _claim(self) -> bool:
        try:
            os.close(os.open(self.where / "raylet-killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


def node_killer(ip: str, epoch: int, where: Path) -> Callable[[dict[str, Any], Any, Any], None]:
    """A trial that kills its node's raylet after its report of `epoch` on the node at `ip` (once a sweep)."""
    return _reporting_through(lambda report: NodeKiller(report, ip, epoch, where))
