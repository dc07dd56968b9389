"""The sweep driver: the only place that starts Ray and builds a `Tuner`.

Contract: `run_sweep(cfg, address=..., storage=..., overwrite=...)` validates
the data before writing anything, then runs the sweep and leaves in
`cfg.out_dir`: `config.yaml` (the resolved config), `sweep.json` (the sweep
record, below), `tune/` (Ray Tune's experiment folder, unless `storage`),
`study.db` (the Optuna study), `leaderboard.csv` (rewritten as trials finish,
final at the end, with validation AUROC 95% intervals and ties: see
`search.review`), `best/` (exported model + model card) and `report.html`
(`search.report`). Returns a
`SweepOutcome`. User mistakes raise `HpsearchError` before any file is written.

Ray runs locally by default (all CPUs of this machine); `address` (or
RAY_ADDRESS) joins an existing cluster, and `storage` (a shared path or a
pyarrow URI such as `s3://bucket/prefix`) puts Ray Tune's experiment there
instead of `tune/` (the leaderboard, `best/` and the report stay in the results
folder). Trials are sampled by OptunaSearch (seeded TPE, the article's model
enqueued first), stopped early by ASHA, retried up to `search.max_failures`
times by `FailureConfig`, and get the dataset through the object store.

Faults: `sweep.json` records where the experiment lives and whether the sweep
finished. Ctrl-C (SIGINT) lets Ray Tune stop the trials in flight and save its
state; the outcome is then `interrupted` (nothing exported). `resume_sweep(dir)`
continues an interrupted or killed sweep with `Tuner.restore` (finished trials
are kept, unfinished ones continue from their checkpoints, errored ones are
retried) and the searcher's saved state (the Optuna study in `study.db`), then
ends like `run_sweep`. `HPSEARCH_FAULT` (TEST-ONLY) is handed to every trial to
inject failures: see `trainable.train._with_fault`.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from search.config import Config
from search.errors import HpsearchError
from search.leaderboard import LEADERBOARD_FILE, build_leaderboard, trial_row, write_leaderboard
from trainable.data import Dataset, load_dataset

__all__ = [
    "SweepOutcome", "init_ray", "load_data", "quiet_tensorflow", "resume_sweep", "run_sweep", "sweep_finished",
    "TUNE_DIR", "CONFIG_FILE", "BEST_DIR", "SWEEP_FILE",
]

TUNE_DIR = "tune"
CONFIG_FILE = "config.yaml"
BEST_DIR = "best"
STUDY_FILE = "study.db"
SWEEP_FILE = "sweep.json"  # where the Tune experiment lives, the data fingerprint, finished or not
FAULT_ENV = "HPSEARCH_FAULT"  # TEST-ONLY: `KIND[,KIND...]@DIR`, see trainable.train._with_fault
TIMINGS_FILE = "timings.json"  # wall-clock marks (Ray start, sweep end) for benchmarks
_WORKER_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONWARNINGS": "ignore",
    "CUDA_VISIBLE_DEVICES": "",
    "KERAS_BACKEND": "tensorflow",
}


@dataclass
class SweepOutcome:
    out_dir: Path
    leaderboard: pd.DataFrame
    card: dict[str, Any] | None
    best_dir: Path | None
    wall_seconds: float
    interrupted: bool = False  # Ctrl-C: the leaderboard holds the trials that finished; resume_sweep continues


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and Python log lines out of the user's terminal (driver and workers)."""
    for key, value in _WORKER_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def load_data(cfg: Config) -> Dataset:
    d = cfg.data
    return load_dataset(
        d.source,
        d.target,
        val_fraction=d.val_fraction,
        test_fraction=d.test_fraction,
        seed=d.seed,
        features=d.features,
        drop=d.drop,
        missing=d.missing,
        positive=d.positive,
    )


def _prepare_out_dir(out: Path, overwrite: bool) -> Path | None:
    """Make room for a new sweep in `out`; returns where an older finished sweep was moved."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise HpsearchError(f"{out}: exists and is not a directory")
    if not any(out.iterdir()):
        return None
    if overwrite:
        shutil.rmtree(out)
        return None
    if not sweep_finished(out):
        raise HpsearchError(
            f"{out}: holds an unfinished sweep; continue it with `hpsearch resume {out}`, "
            "or start afresh with --overwrite (deletes it)"
        )
    marker = next((out / f for f in (LEADERBOARD_FILE, SWEEP_FILE) if (out / f).is_file()), out)
    stamp = _dt.datetime.fromtimestamp(marker.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    archived = out.with_name(f"{out.name}@{stamp}")
    n = 1
    while archived.exists():
        n += 1
        archived = out.with_name(f"{out.name}@{stamp}-{n}")
    os.replace(out, archived)
    return archived


def _read_record(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / SWEEP_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise HpsearchError(f"{out / SWEEP_FILE}: unreadable sweep record ({exc})") from None


def _write_record(out: Path, record: dict[str, Any]) -> None:
    tmp = out / (SWEEP_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, out / SWEEP_FILE)


def sweep_finished(out: str | Path) -> bool:
    """Did the sweep in `out` run to its end (leaderboard final, best model exported if any)?"""
    out = Path(out)
    record = _read_record(out)
    if record is None:  # a folder from before sweep.json existed
        return (out / BEST_DIR).is_dir() and (out / LEADERBOARD_FILE).is_file()
    return bool(record.get("finished"))


def _experiment_location(cfg: Config, out: Path, storage: str | None) -> tuple[str, str]:
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


def _check_address(address: str | None) -> None:
    """Fail at once, before anything is written, when no Ray cluster answers at
    `address` (or RAY_ADDRESS): `ray.init` would wait for minutes."""
    import socket

    address = address or os.environ.get("RAY_ADDRESS") or None
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


def _local_workers_use_this_python() -> None:
    """On this machine, trial workers run this very interpreter and venv.

    Under `uv run`, Ray (by default) copies the current directory into every new
    Ray session and starts workers through `uv run` there, in a fresh virtual
    environment: gigabytes per session, and no compiled bytecode, so each worker
    spends seconds re-compiling TensorFlow. Must be off before `ray.init`; Ray
    reads the flag at import, so both the variable and the loaded constant are set."""
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    try:
        from ray._private import ray_constants

        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    except (ImportError, AttributeError):  # another Ray: the variable alone
        pass


def init_ray(address: str | None, cfg: Config) -> bool:
    """Start (or join) Ray for a sweep; False when Ray was already running in
    this process (a caller's own instance, which the sweep then leaves alone)."""
    # Tune's own console output is off (hpsearch shows its progress), and of its
    # per-trial loggers only the JSON one runs (result.json feeds the report and
    # the benchmarks; `_make_tuner` adds it): no CSV or TensorBoard files.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address:
        _local_workers_use_this_python()
    import ray

    env = {**_WORKER_ENV}
    cpus = max(1, int(math.ceil(cfg.train.cpus_per_trial)))
    env["TF_NUM_INTRAOP_THREADS"] = str(cpus)
    env["TF_NUM_INTEROP_THREADS"] = str(cpus)
    if ray.is_initialized():
        return False
    prefetch = _prefetch_imports()  # after `import ray` and the variables above
    try:
        _start_ray(ray, address, env)
    finally:
        prefetch.join()
    return True


def _start_ray(ray, address: str | None, env: dict[str, str]) -> None:
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
        ray.init(address="local", num_cpus=os.cpu_count() or 1, **kwargs)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_PREFETCH = (
    # What `_make_tuner` imports, slowest first: Ray Tune (~0.7 s, Ray Data
    # included), Optuna's SQLite storage (~1 s: SQLAlchemy models, Alembic).
    "ray.tune", "ray.tune.search.optuna", "ray.tune.schedulers", "ray.tune.logger",
    "optuna.storages._rdb.models", "alembic.migration", "alembic.command", "alembic.script",
)


def _prefetch_imports():
    """Import the tuner's modules in a background thread while `ray.init` waits
    for Ray's processes to start (most of its ~3-4 s). Start it only once `ray`
    itself is imported (two threads importing one package deadlock or see it
    half-initialised), and join it before building the tuner. A module that
    fails here is simply imported again (and fails properly) where it is used."""
    import importlib
    import threading

    def work() -> None:
        for name in _PREFETCH:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (reported where the module is really used)
                pass

    thread = threading.Thread(target=work, name="hpsearch-prefetch", daemon=True)
    thread.start()
    return thread


def _release_ray(started: bool):
    """After `fit`, nothing but the driver's files is left to do: a Ray this
    sweep started is shut down in a background thread, while the driver writes
    the leaderboard, exports and reports (Ray's shutdown mostly waits, ~1 s, for
    its processes to exit). Returns the thread to join, or None."""
    if not started:
        return None
    import threading

    import ray

    thread = threading.Thread(target=ray.shutdown, name="hpsearch-ray-shutdown")
    thread.start()
    return thread


def _concurrency(cfg: Config) -> int:
    import ray

    if cfg.search.max_concurrent:
        return cfg.search.max_concurrent
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(1, int(cpus // cfg.train.cpus_per_trial))


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def _checkpoint_epochs(cfg: Config) -> list[int] | None:
    """Epochs at which a trial saves its best model so far: where ASHA may stop
    it (grace_period * reduction_factor^k) and the last epoch. None (save at
    every improvement) under a time budget, which may stop a trial anywhere."""
    if cfg.search.time_budget_s is not None:
        return None
    es = cfg.search.early_stopping
    epochs = {cfg.train.max_epochs}
    if es.enabled:
        rung = min(es.grace_period, cfg.train.max_epochs)
        while rung < cfg.train.max_epochs:
            epochs.add(rung)
            rung *= es.reduction_factor
    return sorted(epochs)


def _trainable(cfg: Config, data: Dataset):
    """The trial function with its data and resources (the same for a run and a resume)."""
    from ray import tune

    from trainable.train import train_trial

    return tune.with_resources(tune.with_parameters(train_trial, data=data), {"cpu": cfg.train.cpus_per_trial})


def _make_tuner(cfg: Config, data: Dataset, out: Path, callbacks: list, location: tuple[str, str]):
    import optuna
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from search._searcher import FinalScoreOptunaSearch

    from search.space import define_by_run, seed_point

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tune_metric = f"best_{cfg.search.metric}"
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / STUDY_FILE}")
    searcher = FinalScoreOptunaSearch(
        define_by_run(cfg.space),
        metric=tune_metric,
        mode=cfg.search.mode,
        points_to_evaluate=([seed_point(cfg.space)] if cfg.search.seed_trial else []) + list(cfg.search.enqueue) or None,
        sampler=optuna.samplers.TPESampler(seed=cfg.search.seed, n_startup_trials=min(10, cfg.search.trials)),
        study_name=cfg.name,
        storage=storage,
    )
    es = cfg.search.early_stopping
    scheduler = (
        ASHAScheduler(
            time_attr="epoch",
            max_t=cfg.train.max_epochs,
            grace_period=min(es.grace_period, cfg.train.max_epochs),
            reduction_factor=es.reduction_factor,
        )
        if es.enabled
        else FIFOScheduler()
    )
    cpus = cfg.train.cpus_per_trial
    param_space = {
        "max_epochs": cfg.train.max_epochs,
        "metric": cfg.search.metric,
        "seed": cfg.search.seed,
        "cpus": max(1, int(math.ceil(cpus))),
        "class_weight": cfg.train.class_weight,
        "checkpoint_epochs": _checkpoint_epochs(cfg),
    }
    if os.environ.get(FAULT_ENV):
        param_space["fault"] = os.environ[FAULT_ENV]
    return tune.Tuner(
        _trainable(cfg, data),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=tune_metric,
            mode=cfg.search.mode,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=cfg.search.trials,
            max_concurrent_trials=_concurrency(cfg),
            time_budget_s=cfg.search.time_budget_s,
            reuse_actors=True,
            trial_name_creator=_trial_dirname,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=location[1],
            storage_path=location[0],
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[*callbacks, JsonLoggerCallback()],
            verbose=0,
        ),
    )


def _local_checkpoint(checkpoint, out: Path, trial_id: str) -> str | None:
    """The checkpoint's folder on this machine: as is on a local or shared path;
    copied into `out/checkpoints/<trial>` from remote storage (s3://...), so the
    leaderboard, export and report read it like any other."""
    if checkpoint is None:
        return None
    if checkpoint.filesystem.type_name == "local":
        return checkpoint.path
    target = out / "checkpoints" / trial_id
    if not (target / "state.json").is_file():
        checkpoint.to_directory(str(target))
    return str(target)


def _final_rows(results, cfg: Config, out: Path) -> list[dict[str, Any]]:
    from search._live import error_text

    rows = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name.removeprefix("trial_")
        rows.append(
            trial_row(
                trial_id,
                result.config or {},
                metrics,
                max_epochs=cfg.train.max_epochs,
                error=error_text(result) if result.error else None,
                checkpoint=_local_checkpoint(result.checkpoint, out, trial_id),
            )
        )
    return rows


def export_best(cfg: Config, data: Dataset, board: pd.DataFrame, results_by_id: dict[str, dict]) -> tuple[dict | None, Path | None]:
    from search.export import export_model

    ranked = board[board["status"].isin(["completed", "stopped"]) & board["checkpoint"].notna()]
    if ranked.empty:
        return None, None
    top = ranked.iloc[0]
    validation = {k: float(top[k]) for k in ("val_auroc", "val_accuracy", "val_loss")}
    validation["epoch"] = int(top["best_epoch"])
    best_dir = cfg.out_dir / BEST_DIR
    card = export_model(
        top["checkpoint"], top["trial_id"], results_by_id[top["trial_id"]], validation, data, cfg.search.metric, best_dir,
        settings=cfg.export,
    )
    return card, best_dir


def run_sweep(
    cfg: Config,
    *,
    address: str | None = None,
    storage: str | None = None,
    overwrite: bool = False,
    on_start: Callable[[Dataset, Path | None], None] | None = None,
    on_update: Callable[[int, int, float | None], None] | None = None,
) -> SweepOutcome:
    import time

    quiet_tensorflow()
    started = time.perf_counter()
    data = load_data(cfg)  # every data mistake surfaces here, before any file is written
    out = cfg.out_dir
    location = _experiment_location(cfg, out, storage)
    _check_address(address)
    archived = _prepare_out_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(cfg.to_yaml())
    _write_record(out, {
        "experiment": f"{location[0]}/{location[1]}",
        "out_dir": str(out),
        "data_sha256": data.sha256,
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "finished": None,
    })
    if on_start:
        on_start(data, archived)
    timings = {"ray_init_start": time.time()}
    owned = init_ray(address, cfg)
    timings["ray_ready"] = time.time()
    from search._live import LiveLeaderboard

    live = LiveLeaderboard(out, cfg.search.metric, cfg.search.mode, cfg.train.max_epochs, cfg.search.trials)
    tuner = _make_tuner(cfg, data, out, [live], location)
    timings["fit_start"] = time.time()
    results = _fit(tuner, out, on_update)
    if results is None:
        return _interrupted(out, started)
    timings["fit_end"] = time.time()
    shutdown = _release_ray(owned)
    outcome = _finish(cfg, data, out, results, started, timings)
    timings["finish_end"] = time.time()  # leaderboard, intervals, export, report
    if shutdown is not None:
        shutdown.join()
        timings["ray_stopped"] = time.time()
    (out / TIMINGS_FILE).write_text(json.dumps(timings) + "\n")
    return outcome


def _fit(tuner, out: Path, on_update):
    """`tuner.fit()` with the progress display attached; None when Ctrl-C stopped it."""
    from search._live import attach

    with attach(out, on_update) as watch:
        try:
            results = tuner.fit()
        except KeyboardInterrupt:  # a second Ctrl-C, or Tune's own handler disabled
            return None
    return None if watch.interrupted else results


def _interrupted(out: Path, started: float) -> SweepOutcome:
    """What an interrupted sweep leaves: the leaderboard of the trials that finished."""
    import time

    from search.leaderboard import COLUMNS, read_leaderboard

    board = read_leaderboard(out) if (out / LEADERBOARD_FILE).is_file() else pd.DataFrame(columns=COLUMNS)
    return SweepOutcome(out, board, None, None, time.perf_counter() - started, interrupted=True)


def _close_study(cfg: Config, out: Path) -> None:
    """Mark as failed the Optuna trials left RUNNING by a driver that died after
    asking for them but before Tune saved its state (Tune never ran them)."""
    import optuna

    study = optuna.load_study(study_name=cfg.name, storage=f"sqlite:///{out / STUDY_FILE}")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _finish(cfg: Config, data: Dataset, out: Path, results, started: float, marks: dict | None = None) -> SweepOutcome:
    """The end of a sweep, run or resumed: final leaderboard, best model, report.
    `marks` (if given) gets the wall-clock time at which each step ended."""
    import time

    marks = {} if marks is None else marks
    rows = _final_rows(results, cfg, out)
    board = build_leaderboard(rows, cfg.search.metric)
    write_leaderboard(board, out / LEADERBOARD_FILE)
    from search.review import validation_intervals

    marks["leaderboard_end"] = time.time()
    board = validation_intervals(board, data, cfg.export, out)  # validation AUROC 95% CIs and ties
    write_leaderboard(board, out / LEADERBOARD_FILE)
    marks["intervals_end"] = time.time()
    configs = {r["trial_id"]: res.config for r, res in zip(rows, results)}
    card, best_dir = export_best(cfg, data, board, configs)
    marks["export_end"] = time.time()
    _close_study(cfg, out)
    record = _read_record(out) or {}
    _write_record(out, {**record, "finished": _dt.datetime.now().isoformat(timespec="seconds")})
    from search.report import write_report

    write_report(out, data=data)  # last: it reads the final leaderboard, best/ and study.db
    return SweepOutcome(out, board, card, best_dir, time.perf_counter() - started)


def _resumable(out: Path) -> tuple[Config, dict[str, Any]]:
    """The config and sweep record of the unfinished sweep in `out`, or HpsearchError."""
    from search.config import load_config

    if not out.is_dir():
        raise HpsearchError(f"{out}: results directory not found")
    if not (out / CONFIG_FILE).is_file():
        raise HpsearchError(f"{out}: no sweep here ({CONFIG_FILE} is missing)")
    record = _read_record(out) or {"experiment": str(out / TUNE_DIR), "out_dir": str(out)}
    if record.get("finished"):
        raise HpsearchError(f"{out}: the sweep already finished; nothing to resume")
    if Path(record.get("out_dir", out)) != out:
        raise HpsearchError(
            f"{out}: this sweep ran in {record['out_dir']} and its Ray Tune and Optuna state name "
            "that folder; move it back there to resume it"
        )
    cfg = load_config(out / CONFIG_FILE)
    # results_dir may be relative to wherever the sweep started: pin it to this folder.
    cfg = cfg.model_copy(update={"results_dir": str(out.parent)})
    return cfg, record


def _state_saved(experiment: str) -> bool:
    """Has Ray Tune saved the experiment's state at least once (not just `tuner.pkl`)?"""
    import pyarrow.fs

    if "://" in experiment:
        fs, path = pyarrow.fs.FileSystem.from_uri(experiment)
    else:
        fs, path = pyarrow.fs.LocalFileSystem(), experiment
    found = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return any(Path(info.path).name.startswith("experiment_state-") for info in found)


def resume_sweep(
    results_dir: str | Path,
    *,
    address: str | None = None,
    on_start: Callable[[Config, Dataset], None] | None = None,
    on_update: Callable[[int, int, float | None], None] | None = None,
) -> SweepOutcome:
    """Continue the interrupted (or killed) sweep in `results_dir`; ends like `run_sweep`."""
    import time

    quiet_tensorflow()
    started = time.perf_counter()
    out = Path(results_dir).resolve()  # as cfg.out_dir was when the sweep started
    cfg, record = _resumable(out)
    from ray import tune

    data = load_data(cfg)
    if record.get("data_sha256") and data.sha256 != record["data_sha256"]:
        raise HpsearchError(
            f"{cfg.data.source}: the data changed since the sweep started (sha256 {data.sha256[:12]}, "
            f"was {record['data_sha256'][:12]}); a resumed sweep must train on the same data"
        )
    experiment = record["experiment"]
    if not (tune.Tuner.can_restore(experiment) and _state_saved(experiment)):
        raise HpsearchError(
            f"{out}: no saved Ray Tune state at {experiment} (the sweep stopped before its first trials); "
            f"start it again with `hpsearch run {out / CONFIG_FILE} --overwrite`"
        )
    _check_address(address)
    if on_start:
        on_start(cfg, data)
    owned = init_ray(address, cfg)
    tuner = tune.Tuner.restore(experiment, trainable=_trainable(cfg, data), resume_errored=True)
    results = _fit(tuner, out, on_update)
    if results is None:
        return _interrupted(out, started)
    shutdown = _release_ray(owned)
    outcome = _finish(cfg, data, out, results, started)
    if shutdown is not None:
        shutdown.join()
    return outcome
