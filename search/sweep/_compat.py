"""Every use of a private API of Ray, fenced: each with the version it was checked against.

Contract: nothing else in `search` reaches into Ray's private names.
`CHECKED` holds the Ray versions (major.minor) each use was read and tested
against, and the Optuna versions that `search.sweep.study_storage` and
`search.sweep.window_tpe` (which subclass Optuna's cached storage and TPE,
private parts included) were; `unchecked_versions()` names an installed one
that differs (a unit test fails loudly then, and when an internal below has
moved: re-read it, then add the version). At run time a moved Ray internal
is not an error: the use is skipped and the sweep runs as without it.
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
- `uncounted_trial_errors(forgiven, note)`: wraps Tune's
  `Trial.handle_error` (which counts a failure, then writes `error.txt`) so
  that an error `forgiven(error)` says is not the trial's own leaves its
  failure counts (`run_metadata.num_failures`,
  `temporary_state.num_restore_failures`) as they were: Tune's
  `should_recover()` then sees the trial's own failures only. Tune offers no
  public hook before it decides (`Callback.on_trial_recover` comes after).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

__all__ = [
    "CHECKED",
    "LOCAL_SYSTEM_CONFIG",
    "local_workers_use_this_python",
    "optuna_trial",
    "unchecked_versions",
    "uncounted_trial_errors",
]

CHECKED = {"ray": ("2.60",), "optuna": ("5.0",)}
LOCAL_SYSTEM_CONFIG = {"prestart_worker_first_driver": False}


def unchecked_versions() -> dict[str, str]:
    installed = {name: ".".join(metadata.version(name).split(".")[:2]) for name in CHECKED}
    return {name: version for name, version in installed.items() if version not in CHECKED[name]}


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


_FORGIVING: dict[str, Any] = {}  # uncounted_trial_errors' choice, read by the wrapped `Trial.handle_error`


def uncounted_trial_errors(forgiven: Callable[[BaseException], bool], note: str) -> bool:
    """Tune's trials no longer count the errors `forgiven` picks (their `error.txt` gets `note` after the
    error); idempotent. False when `Trial.handle_error` moved (nothing is changed then)."""
    try:
        from ray.tune.experiment.trial import Trial
    except ImportError:
        return False
    handle_error = getattr(Trial, "handle_error", None)
    if handle_error is None:
        return False
    _FORGIVING.update(forgiven=forgiven, note=note)
    if _FORGIVING.get("wrapped") is handle_error:
        return True

    def handle(self: Any, exc: BaseException | None = None) -> None:
        try:
            forgive = exc is not None and _FORGIVING["forgiven"](exc)
            counts = (self.run_metadata.num_failures, self.temporary_state.num_restore_failures)
        except Exception:  # never in the way of Tune's own handling: the error is then counted
            forgive = False
        handle_error(self, exc)
        if forgive:
            self.run_metadata.num_failures, self.temporary_state.num_restore_failures = counts
            self.run_metadata.invalidate_cache()
            if self.error_file:
                with open(self.error_file, "a") as f:
                    f.write(_FORGIVING["note"] + "\n")

    Trial.handle_error = handle  # type: ignore[method-assign]
    _FORGIVING["wrapped"] = handle
    return True
