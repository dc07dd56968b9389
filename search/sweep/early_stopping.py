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
(`trainable.trial.epoch_callback`). The referee lives as long as the driver's
Ray session; a resumed sweep starts a new one, whose records start empty.
Imports Ray inside functions only.
"""

from __future__ import annotations

import os
import time
from typing import Any

from search.config.schema import Config
from trainable.trial.rungs import Rungs

__all__ = ["RungReferee", "start_referee"]

_LIVE: dict[str, Any] = {}  # the driver holds its referees' handles: Ray ends an actor nobody holds


class RungReferee:
    """ASHA's rule on `key`, the reported value of the first objective."""

    def __init__(self, key: str, max_t: int, grace_period: int, reduction_factor: float, mode: str) -> None:
        self.key = key
        self.rungs = Rungs(max_t, grace_period, reduction_factor, mode)

    def decide(self, asked: dict[str, tuple[int, dict[str, Any]]]) -> list[str]:
        return self.rungs.decide({member: (epoch, metrics.get(self.key)) for member, (epoch, metrics) in asked.items()})


def start_referee(cfg: Config, key: str, mode: str) -> str | None:
    """Start the sweep's referee (Ray must be up); its actor name, or None without early stopping."""
    es = cfg.search.early_stopping
    if not es.enabled:
        return None
    import ray

    name = f"hpsearch-rungs-{os.getpid()}-{time.time_ns()}"
    actor = ray.remote(RungReferee).options(name=name, num_cpus=0, max_restarts=-1)
    grace = min(es.grace_period, cfg.train.max_epochs)
    _LIVE[name] = actor.remote(key, cfg.train.max_epochs, grace, es.reduction_factor, mode)
    return name
