"""Early stopping per configuration: ASHA's rule applied to every member of every pack, by one referee.

Contract: a pack trains several configurations in one Tune trial, so Tune's
own ASHA scheduler (which stops whole trials) cannot stop one of them. Instead
`start_referee(cfg)` starts `RungReferee`, a named Ray actor (no CPU of its
own) holding ASHA's rung records (`trainable.trial.rungs.Rungs`: the same
milestones, cutoffs and records as Tune's `ASHAScheduler` with
`search.early_stopping`'s grace period and reduction factor, on the first
objective), and returns its name for `TrialSettings.rungs`; None when early
stopping is off. After every epoch each pack sends its members still training
(`decide`: member id -> (epochs, metrics)) and freezes those the referee stops
(`trainable.trial.epoch_callback`). The referee lives as long as the driver;
its name follows from the sweep folder, so a resumed sweep's referee has the
same one. `RungRecords(name)` is the Tune callback that keeps the records in
Tune's saved state (`get_state`, at every experiment checkpoint) and hands
them to the resumed sweep's referee (`set_state`): a resumed sweep judges its
configurations against every one recorded before the interruption.
Imports Ray (`RungRecords` is a Tune callback): load it lazily (driver only).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ray.tune import Callback

from search.config.schema import Config
from trainable.trial.rungs import Rungs

__all__ = ["RungRecords", "RungReferee", "referee_name", "start_referee"]

_LIVE: dict[str, Any] = {}  # the driver holds its referees' handles: Ray ends an actor nobody holds


class RungReferee:
    """ASHA's rule on `key`, the reported value of the first objective."""

    def __init__(self, key: str, max_t: int, grace_period: int, reduction_factor: float, mode: str) -> None:
        self.key = key
        self.rungs = Rungs(max_t, grace_period, reduction_factor, mode)

    def decide(self, asked: dict[str, tuple[int, dict[str, Any]]]) -> list[str]:
        return self.rungs.decide({member: (epoch, metrics.get(self.key)) for member, (epoch, metrics) in asked.items()})

    def state(self) -> dict[str, Any]:
        return self.rungs.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.rungs = Rungs.from_state(state)


class RungRecords(Callback):
    """The referee's records in Tune's saved state (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[str, Any] | None = None

    def get_state(self) -> dict[str, Any] | None:
        import ray

        try:
            self.records = dict(ray.get(ray.get_actor(self.name).state.remote(), timeout=30))
        except Exception:  # the referee is gone (the sweep is ending): the last records read stand
            pass
        return {"records": self.records}

    def set_state(self, state: dict[str, Any]) -> None:
        import ray

        self.records = state.get("records")
        if self.records is not None:
            ray.get(ray.get_actor(self.name).restore.remote(self.records), timeout=30)


def referee_name(out: Path) -> str:
    return f"hpsearch-rungs-{hashlib.sha1(str(Path(out).resolve()).encode()).hexdigest()[:16]}"


def start_referee(cfg: Config, key: str, mode: str) -> str | None:
    """Start the sweep's referee, with empty records (Ray must be up); its actor name, or None without early
    stopping."""
    es = cfg.search.early_stopping
    if not es.enabled:
        return None
    import ray

    name = referee_name(cfg.out_dir)
    try:
        ray.kill(ray.get_actor(name))  # one left by an earlier run of the same sweep in this Ray session
    except ValueError:
        pass
    actor = ray.remote(RungReferee).options(name=name, num_cpus=0, max_restarts=-1)
    grace = min(es.grace_period, cfg.train.max_epochs)
    _LIVE[name] = actor.remote(key, cfg.train.max_epochs, grace, es.reduction_factor, mode)
    return name
