"""A live sweep's lock: one command at a time writes a sweep folder.

Contract: `SweepLock(out)` is a context manager held by `run`, `resume` and
`pick` while they work on the sweep folder `out`: it creates `out/.lock`
(exclusively) holding this process's pid and host, and removes it on the way
out, Ctrl-C included. `check_free(out)` refuses (`HpsearchError`, exit 2) when
another live process holds it: `<out>: is running (pid N on HOST)`; `run`
asks before it archives or deletes (`--overwrite`) anything. A lock whose
process is gone (killed, a machine that rebooted) is stale: it is taken over,
and `SweepLock.took_over` says from whom (the CLI notes it). A lock held on
another host cannot be checked from here and counts as live.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from search.records.paths import LOCK_FILE
from trainable.errors import HpsearchError

__all__ = ["SweepLock", "check_free"]


def _holder(out: Path) -> dict | None:
    try:
        holder = json.loads((out / LOCK_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return {}  # unreadable: stale
    return holder if isinstance(holder, dict) else {}


def _alive(holder: dict) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: this one cannot tell, so it is live
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def check_free(out: Path) -> dict | None:
    """None when no process holds `out`'s lock; its holder when that is gone (a stale lock, removed
    here); HpsearchError while it lives."""
    holder = _holder(Path(out))
    if holder is None:
        return None
    if _alive(holder):
        raise HpsearchError(f"{out}: is running (pid {holder.get('pid')} on {holder.get('host')})")
    (Path(out) / LOCK_FILE).unlink(missing_ok=True)
    return holder


class SweepLock:
    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.took_over: dict | None = None
        self.held = False

    def __enter__(self) -> SweepLock:
        self.took_over = check_free(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.out / LOCK_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another process took it between the check and here
            check_free(self.out)
            raise HpsearchError(f"{self.out}: is locked by another command; try again") from None
        with os.fdopen(fd, "w") as fh:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, fh)
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held and (_holder(self.out) or {}).get("pid") == os.getpid():
            (self.out / LOCK_FILE).unlink(missing_ok=True)
        self.held = False
