"""A lost node costs a trial nothing: its loss is not counted against the trial's retries.

Contract: `forgive_node_losses()` (called before every Tuner is built; idempotent) makes Ray Tune count a
trial's failure against `search.max_failures` only when it is the trial's own: an exception in the trial,
or its worker process dying on a node that is still up. A failure caused by the loss of the trial's node
(`node_lost`) is retried like any other, from the trial's latest checkpoint, on a fresh actor that Ray
places on a live node (Tune never reuses a failed trial's actor), and leaves the trial's failure count
as it was; its `error.txt` keeps the error, with a line saying it was not counted.

A node is lost when Ray says so, or before Ray does (its health check takes ~15-30 s to mark a node
dead): an actor that cannot be reached (`ActorUnavailableError`: the actor's process is gone and its
node's raylet did not report it), or an actor that died on a node that Ray marked dead or whose raylet
stops answering TCP connections (`answers`: its node manager's port, probed every 0.25 s for 2 s; a
raylet SIGKILLed ~0.2 s earlier may still be accepting connections while its process is torn down). So
a worker process that dies on a node that stays up costs the driver 2 s and counts as the trial's own.
Ray's own preemption (a drained node, `RayActorError.preempted`) is already not counted by Tune.
Imports Ray inside functions only.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from search.sweep import _compat

__all__ = ["NOT_COUNTED", "answers", "forgive_node_losses", "node_lost"]

NOT_COUNTED = "(the trial's node was lost: not counted against search.max_failures)"
_WINDOW_S, _EVERY_S = 2.0, 0.25  # a raylet must answer every probe for this long, at this interval
_ACTOR_IP = re.compile(r"^\s*ip: (\S+)\s*$", re.MULTILINE)  # the node line of an `ActorDiedError`


def answers(host: str, port: int, window: float = _WINDOW_S, every: float = _EVERY_S) -> bool:
    """Does `host:port` accept a TCP connection at every probe, each `every` seconds apart, for
    `window` seconds (each probe waiting at most `window`)? False at the first refusal or timeout."""
    deadline = time.monotonic() + window
    while True:
        try:
            socket.create_connection((host, port), timeout=window).close()
        except OSError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(every)


def node_lost(
    exc: BaseException,
    nodes: Iterable[dict[str, Any]] | None = None,
    probe: Callable[[str, int], bool] = answers,
) -> bool:
    """Did `exc` (a trial's failure) come from the loss of the trial's node? `nodes`: Ray's `ray.nodes()`
    (read when None); `probe(host, port)`: does a node's raylet answer."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

    if isinstance(exc, RayTaskError):
        exc = exc.as_instanceof_cause()
    if isinstance(exc, ActorUnavailableError):
        return True
    if not isinstance(exc, ActorDiedError):
        return False
    found = _ACTOR_IP.search(str(exc))
    if found is None:
        return False
    if nodes is None:
        import ray

        nodes = ray.nodes()
    there = [n for n in nodes if n.get("NodeManagerAddress") == found.group(1)]
    return bool(there) and not any(
        n.get("Alive") and probe(n["NodeManagerAddress"], n["NodeManagerPort"]) for n in there
    )


def forgive_node_losses() -> bool:
    """Make Ray Tune leave node losses out of a trial's failure count (this process, once); False when
    Ray's internals moved (node losses are then counted, as Tune does by default)."""
    return _compat.uncounted_trial_errors(node_lost, NOT_COUNTED)
