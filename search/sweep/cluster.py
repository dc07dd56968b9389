"""The Ray cluster a sweep runs on: joining or starting Ray, its size, where Tune's experiment lives.

Contract: `check_address(address)` refuses at once, before anything is
written, an address (or RAY_ADDRESS) where no Ray cluster answers.
`init_ray(address, cfg)` joins that cluster, or starts a local instance (all
CPUs of this machine); it returns False when Ray was already running in this
process (a caller's instance, which the sweep then leaves alone).
`release_ray(started)` shuts down a Ray this sweep started, in a background
thread, while the driver writes its files. `concurrency(cfg)` is how many
trials run at once. `experiment_location(cfg, out, storage)` is where Ray
Tune keeps the experiment: `out/tune`, or a fresh folder under `--storage` (a
path every node shares, or a pyarrow URI such as s3://bucket/prefix).
Workers get `trainable.runtime.environment.process_env` (TensorFlow quiet,
its threads sized to `train.cpus_per_trial`, GPU memory grown as needed; Ray
sets each trial's `CUDA_VISIBLE_DEVICES` to its `train.gpus_per_trial`); on a cluster the
driver's own `trainable` package is shipped to them (Ray `py_modules`).
Imports Ray inside functions only.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

from search.config.schema import Config
from search.records.paths import TUNE_DIR
from search.sweep import _compat
from trainable.errors import HpsearchError
from trainable.runtime.environment import process_env

__all__ = ["check_address", "concurrency", "experiment_location", "init_ray", "prefetch_imports", "release_ray"]


def _address(address: str | None) -> str | None:
    return address or os.environ.get("RAY_ADDRESS") or None


def check_address(address: str | None) -> None:
    """Fail at once when no Ray cluster answers at `address`: `ray.init` would wait for minutes."""
    import socket

    address = _address(address)
    if not address or address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HpsearchError(f"--address {address}: expected HOST:PORT (the head node's GCS port, 6379 by default)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise HpsearchError(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with `ray start --head`"
        ) from None


def experiment_location(cfg: Config, out: Path, storage: str | None) -> tuple[str, str]:
    """(storage_path, experiment name) for Ray Tune: `out/tune`, or a fresh
    `<storage>/<name>-<timestamp>` so two sweeps never share an experiment."""
    if storage is None:
        return str(out), TUNE_DIR
    storage = storage.strip()
    if not storage:
        raise HpsearchError("--storage: empty path")
    if "://" in storage:
        scheme = storage.split("://", 1)[0]
        if not scheme.replace("+", "").isalnum():
            raise HpsearchError(f"--storage {storage}: not a path or a URI such as s3://bucket/prefix")
        base = storage.rstrip("/")
    else:
        base = str(Path(storage).expanduser().resolve())
        if Path(base).exists() and not Path(base).is_dir():
            raise HpsearchError(f"--storage {storage}: exists and is not a directory")
    return base, f"{cfg.name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def init_ray(address: str | None, cfg: Config, num_gpus: int | None = None, num_cpus: int | None = None) -> bool:
    """Start (or join) Ray for a sweep; False when Ray was already running in this process. `num_gpus`,
    `num_cpus`: the GPUs and CPUs a new local instance declares (default: this machine's; tests and
    `benchmarks/driver.py` declare more, logical ones)."""
    # Tune's own console output is off (hpsearch shows its progress), and of its
    # per-trial loggers only the JSON one runs (result.json feeds the report and
    # the benchmarks; `search.sweep.tuner` adds it): no CSV or TensorBoard files.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    address = _address(address)
    if not address:
        _compat.local_workers_use_this_python()
    import ray

    env = {
        **process_env(max(1, int(math.ceil(cfg.train.cpus_per_trial)))),
        # A reused actor waits this long for its previous trial's thread to end (Tune's default, 2 s, is
        # shorter than a big table's last steps, and the next trial was then lost).
        "TUNE_FUNCTION_THREAD_TIMEOUT_S": "600",
    }
    if ray.is_initialized():
        return False
    prefetch = prefetch_imports(_PREFETCH)  # after `import ray` and the variables above
    try:
        _start_ray(ray, address, env, (num_cpus, num_gpus))
    finally:
        prefetch.join()
    return True


def _start_ray(ray: Any, address: str | None, env: dict[str, str], devices: tuple[int | None, int | None]) -> None:
    """`devices`: (CPUs, GPUs) a new local instance declares (None: this machine's)."""
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address:
        import trainable

        # Trials run the driver's own `trainable` package on every node (the
        # nodes still need the same Python packages installed).
        kwargs["runtime_env"] = {"env_vars": env, "py_modules": [str(Path(trainable.__file__).parent)]}
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise HpsearchError(f"--address {address}: cannot join the Ray cluster ({exc})") from None
        return
    # "local": a new instance on this machine, even when `ray start` left a
    # cluster address behind in /tmp/ray (only --address joins a cluster).
    # Its workers inherit the environment the raylet starts with, so the
    # worker variables are set for the start only: no runtime environment to
    # build per worker (that cost ~1 s for each new trial actor).
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        ray.init(
            address="local",
            num_cpus=devices[0] or os.cpu_count() or 1,
            num_gpus=devices[1],
            _system_config=_compat.LOCAL_SYSTEM_CONFIG,
            **kwargs,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_PREFETCH = (
    # What `search.sweep.tuner` imports, slowest first: Ray Tune (~0.7 s, Ray Data
    # included), Optuna's SQLite storage (~1 s: SQLAlchemy models, Alembic).
    "ray.tune",
    "ray.tune.search.optuna",
    "ray.tune.schedulers",
    "ray.tune.logger",
    "optuna.storages._rdb.models",
    "alembic.migration",
    "alembic.command",
    "alembic.script",
)


def prefetch_imports(modules: tuple[str, ...], after: threading.Event | None = None) -> threading.Thread:
    """Import `modules` in a background thread while the driver waits: for the
    tuner's, while `ray.init` waits for Ray's processes to start (most of its
    ~3-4 s); for the export's (TensorFlow, scikit-learn's models), while the
    trials run, once `after` (a `threading.Event`) is set: the trials' first
    result, as before it the driver's import would slow Tune's start and the
    workers' own TensorFlow import (first trials ~2 s later). Start it only
    once no other thread imports the same packages (two threads importing one
    package deadlock or see it half-initialised), and join it before using
    them. A module that fails here is simply imported again (and fails
    properly) where it is used. Returns the thread."""
    import importlib

    def work() -> None:
        if after is not None:
            after.wait()
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                pass

    thread = threading.Thread(target=work, name="hpsearch-prefetch", daemon=True)
    thread.start()
    return thread


def release_ray(started: bool) -> threading.Thread | None:
    """After `fit`, nothing but the driver's files is left to do: a Ray this
    sweep started is shut down in a background thread, while the driver writes
    the leaderboard, exports and reports (Ray's shutdown mostly waits, ~1 s, for
    its processes to exit). Returns the thread to join, or None."""
    if not started:
        return None
    import ray

    thread = threading.Thread(target=ray.shutdown, name="hpsearch-ray-shutdown")
    thread.start()
    return thread


def concurrency(cfg: Config) -> int:
    """Trials at once: `search.max_concurrent`, else the cluster's CPUs / `train.cpus_per_trial` (and, with
    `train.gpus_per_trial`, no more than its GPUs / that)."""
    import ray

    if cfg.search.max_concurrent:
        return cfg.search.max_concurrent
    resources = ray.cluster_resources()
    slots = float(resources.get("CPU", 1)) // cfg.train.cpus_per_trial
    if cfg.train.gpus_per_trial:
        slots = min(slots, float(resources.get("GPU", 0)) // cfg.train.gpus_per_trial)
    return max(1, int(slots))
