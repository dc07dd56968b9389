"""Every use of a private API of Ray, fenced: each with the version it was checked against.

Contract: nothing else in `search` reaches into Ray's private names.
`CHECKED` holds the Ray versions (major.minor) each use was read and tested
against; `unchecked_versions()` names the installed one when it differs (a
unit test fails loudly then, and when an internal below has moved: re-read
it, then add the version). At run time a moved internal is not an error: the
use is skipped and the sweep runs as without it.
- `local_workers_use_this_python()`: under `uv run`, Ray (by default) copies
  the current directory into every new Ray session and starts workers
  through `uv run` there, in a fresh virtual environment: gigabytes per
  session, and no compiled bytecode, so each worker spends seconds
  re-compiling TensorFlow. Turned off before `ray.init`; Ray reads the flag
  at import, so both the variable and the loaded constant
  (`ray._private.ray_constants`) are set.
- `LOCAL_SYSTEM_CONFIG`: Ray's `_system_config` for a local instance: no idle
  workers started ahead (`prestart_worker_first_driver`). Tune gives its trial
  actors a runtime environment (its env_vars), so they never take those, which
  cost ~1 CPU-second at start and are then killed.
- `optuna_trial(searcher, trial_id)`: the Optuna trial behind a Tune trial of
  an `OptunaSearch` (its private `_ot_trials`), to set its constraint before
  it is told.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

__all__ = ["CHECKED", "LOCAL_SYSTEM_CONFIG", "local_workers_use_this_python", "optuna_trial", "unchecked_versions"]

CHECKED = {"ray": ("2.60",)}
LOCAL_SYSTEM_CONFIG = {"prestart_worker_first_driver": False}


def unchecked_versions() -> dict[str, str]:
    installed = ".".join(metadata.version("ray").split(".")[:2])
    return {} if installed in CHECKED["ray"] else {"ray": installed}


def local_workers_use_this_python() -> None:
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    try:
        from ray._private import ray_constants

        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    except (ImportError, AttributeError):  # moved: the variable alone
        pass


def optuna_trial(searcher: Any, trial_id: str) -> Any:
    """The `optuna.Trial` of Tune's trial `trial_id`, or None."""
    trials = getattr(searcher, "_ot_trials", None)
    return None if trials is None else trials.get(trial_id)
