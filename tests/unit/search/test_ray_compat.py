"""The fenced private APIs of Ray: still where `search.sweep._compat` reaches for them, in the version it was
checked against. A failure here means an upgrade moved an internal: re-read it, then update `_compat`."""

from __future__ import annotations

import optuna

from search.sweep import _compat


def test_the_installed_ray_is_the_version_the_internals_were_checked_against():
    assert _compat.unchecked_versions() == {}, (
        f"re-check search/sweep/_compat.py (and study_storage, window_tpe for Optuna) against "
        f"{_compat.unchecked_versions()}, then add the version"
    )


def test_the_uv_run_switch_is_where_ray_reads_it(monkeypatch):
    from ray._private import ray_constants

    monkeypatch.setattr(ray_constants, "RAY_ENABLE_UV_RUN_RUNTIME_ENV", True)
    monkeypatch.delenv("RAY_ENABLE_UV_RUN_RUNTIME_ENV", raising=False)
    _compat.local_workers_use_this_python()
    assert ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV is False


def test_the_system_config_keys_are_ones_ray_knows():
    """Ray refuses an unknown `_system_config` key at start; its keys are compiled into the raylet."""
    from pathlib import Path

    import ray._raylet

    compiled = Path(ray._raylet.__file__).read_bytes()
    assert all(key.encode() in compiled for key in _compat.LOCAL_SYSTEM_CONFIG), _compat.LOCAL_SYSTEM_CONFIG


def test_the_optuna_trial_of_a_tune_trial_is_found():
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def space(trial):
        trial.suggest_float("x", 0, 1)

    searcher = OptunaSearch(space=space, metric="loss", mode="min", seed=0)
    config = searcher.suggest("t1")
    assert config is not None and _compat.optuna_trial(searcher, "t1") is not None
    assert _compat.optuna_trial(searcher, "nope") is None


def test_tpe_computes_the_normal_log_cdf_as_before_with_scipy():
    import numpy as np
    import scipy.special
    from optuna.samplers._tpe import _truncnorm

    assert _compat.vectorised_log_ndtr()
    assert _truncnorm._log_ndtr is scipy.special.log_ndtr
    x = np.concatenate([np.linspace(-40.0, 40.0, 8001), [-1e3, -20.0, 6.0, 1e3]])
    optunas_own = np.frompyfunc(_truncnorm._log_ndtr_single, 1, 1)(x).astype(float)  # what it computed before
    assert np.max(np.abs(_truncnorm._log_ndtr(x) - optunas_own)) < 1e-12


def test_tunes_trainable_is_looked_up_once_per_registration():
    from ray.tune import registry

    assert _compat.cached_trainable_lookups()
    names = registry._Registry(prefix="hpsearch-test")  # (no Ray: the values stay in the process)
    names.register(registry.TRAINABLE_CLASS, "t", {"version": 1})
    first = names.get(registry.TRAINABLE_CLASS, "t")
    assert first == {"version": 1} and names.get(registry.TRAINABLE_CLASS, "t") is first  # from memory
    assert names.contains(registry.TRAINABLE_CLASS, "t")
    names.register(registry.TRAINABLE_CLASS, "t", {"version": 2})  # a new Tuner registers its own
    assert names.get(registry.TRAINABLE_CLASS, "t") == {"version": 2}
    names.unregister(registry.TRAINABLE_CLASS, "t")
    assert not names.contains(registry.TRAINABLE_CLASS, "t")
