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
- `budgeted_experiment_snapshots(budget)`: wraps Tune's
  `_ExperimentCheckpointManager.sync_up_experiment_state` (reading its
  `_should_force_sync_up`, `_last_save_time`, `_checkpoint_period`) and
  replaces `ray.train._internal.checkpoint_manager._delete_fs_path` (how a
  trial's checkpoint manager deletes a replaced checkpoint) so that
  `search.sweep.snapshots.SnapshotBudget` decides when to snapshot and when a
  replaced checkpoint goes. A snapshot it allows is taken as Tune's forced one
  (the previous one's upload waited for).
- `cached_trainable_lookups()`: Tune looks its trainable up in Ray's
  key-value store (`ray.tune.registry._Registry.get`/`contains`, a GCS
  round trip and an unpickling each) ~9 times per trial; it is looked up
  once per registration instead (a `register` or `unregister` of the key
  forgets it; every Tuner registers its trainable).
- `vectorised_log_ndtr()`: Optuna's TPE computes log Phi(x) (the normal
  log-CDF) one number at a time (`_truncnorm._log_ndtr`: `np.frompyfunc` over
  a 1,000-entry cache; its file is SciPy's code). `scipy.special.log_ndtr` is
  the same function, vectorised: largest absolute difference 3.4e-13 on
  [-40, 40], 20x faster, TPE's largest cost per ask.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

__all__ = [
    "CHECKED",
    "LOCAL_SYSTEM_CONFIG",
    "budgeted_experiment_snapshots",
    "cached_trainable_lookups",
    "local_workers_use_this_python",
    "optuna_trial",
    "unchecked_versions",
    "uncounted_trial_errors",
    "vectorised_log_ndtr",
]

logger = logging.getLogger(__name__)

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


_SNAPSHOTS: dict[str, Any] = {}  # the budget in force, and Tune's originals (budgeted_experiment_snapshots)


def budgeted_experiment_snapshots(budget: Any) -> bool:
    """Tune's experiment snapshots and checkpoint deletions go through `budget` (a
    `search.sweep.snapshots.SnapshotBudget`) from now on; idempotent (the last budget wins). False when
    the internals moved (nothing is changed then)."""
    try:
        from ray.train._internal import checkpoint_manager
        from ray.tune.execution.experiment_state import _ExperimentCheckpointManager as Manager
    except ImportError:
        return False
    sync_up = getattr(Manager, "sync_up_experiment_state", None)
    delete = getattr(checkpoint_manager, "_delete_fs_path", None)
    if sync_up is None or delete is None:
        return False
    _SNAPSHOTS["budget"] = budget
    if _SNAPSHOTS.get("wrapped") is sync_up:
        return True
    _SNAPSHOTS.update(sync_up=sync_up, delete=delete)

    def snapshot(self: Any, save_fn: Any, force: bool = False, wait: bool = False) -> None:
        plan = _SNAPSHOTS["budget"]
        try:
            requested = bool(self._should_force_sync_up)
            period_due = time.monotonic() - self._last_save_time >= self._checkpoint_period
        except AttributeError:  # moved: Tune's own rule
            return sync_up(self, save_fn, force=force, wait=wait)
        if not plan.due(force=force, requested=requested, period_due=period_due):
            return None
        plan.begin()
        self._should_force_sync_up = False  # (taken as forced below; Tune warns of frequent requested ones)
        started = time.monotonic()
        try:
            sync_up(self, save_fn, force=True, wait=wait)
        except BaseException:
            plan.failed()
            raise
        for filesystem, path in plan.end(time.monotonic() - started, written=wait):
            _delete_checkpoint(filesystem, path)
        return None

    def deferred(fs: Any, fs_path: str) -> None:
        _SNAPSHOTS["budget"].replace(fs, fs_path)

    Manager.sync_up_experiment_state = snapshot  # type: ignore[method-assign]
    checkpoint_manager._delete_fs_path = deferred
    _SNAPSHOTS["wrapped"] = snapshot
    return True


def _delete_checkpoint(filesystem: Any, path: str) -> None:
    """Delete a replaced checkpoint as Tune would have (a failure is logged, not raised)."""
    try:
        _SNAPSHOTS["delete"](fs=filesystem, fs_path=path)
    except Exception as exc:  # a checkpoint left on disk: never in the way of the sweep
        logger.warning("a replaced checkpoint was not deleted: %s: %s", path, exc)


def vectorised_log_ndtr() -> bool:
    """Optuna's TPE computes the normal log-CDF with SciPy's vectorised `log_ndtr`; False when moved."""
    try:
        import scipy.special
        from optuna.samplers._tpe import _truncnorm
    except ImportError:
        return False
    if not callable(getattr(_truncnorm, "_log_ndtr", None)):
        return False
    _truncnorm._log_ndtr = scipy.special.log_ndtr
    return True


def cached_trainable_lookups() -> bool:
    """Tune's trainable lookups in this process are served from memory after the first (see the module);
    idempotent. False when the registry moved (nothing is changed then)."""
    try:
        from ray.tune import registry
    except ImportError:
        return False
    cls, kind = getattr(registry, "_Registry", None), getattr(registry, "TRAINABLE_CLASS", None)
    names = ("get", "contains", "register", "unregister")
    if cls is None or kind is None or not all(callable(getattr(cls, name, None)) for name in names):
        return False
    if getattr(cls, "_hpsearch_cached", False):
        return True
    get, contains, register, unregister = (getattr(cls, name) for name in names)

    def found(registry_: Any) -> dict[tuple[str, str], Any]:
        return registry_.__dict__.setdefault("_hpsearch_found", {})

    def cached_get(self: Any, category: str, key: str) -> Any:
        if category != kind:
            return get(self, category, key)
        known = found(self)
        if (category, key) not in known:
            known[(category, key)] = get(self, category, key)
        return known[(category, key)]

    def cached_contains(self: Any, category: str, key: str) -> bool:
        return (category, key) in found(self) or bool(contains(self, category, key))

    def forgetting(method: Callable[..., Any]) -> Callable[..., Any]:
        def forget(self: Any, category: str, key: str, *args: Any, **kwargs: Any) -> Any:
            found(self).pop((category, key), None)
            return method(self, category, key, *args, **kwargs)

        return forget

    cls.get, cls.contains = cached_get, cached_contains
    cls.register, cls.unregister = forgetting(register), forgetting(unregister)
    cls._hpsearch_cached = True
    return True
