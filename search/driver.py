"""The sweep driver: the only place that starts Ray and builds a `Tuner`.

Contract: `run_sweep(cfg, address=..., overwrite=...)` validates the data
before writing anything, then runs the sweep and leaves in `cfg.out_dir`:
`config.yaml` (the resolved config), `tune/` (Ray Tune's experiment folder),
`study.db` (the Optuna study), `leaderboard.csv` (rewritten as trials finish,
final at the end) and `best/` (exported model + model card). Returns a
`SweepOutcome`. User mistakes raise `HpsearchError` before any file is written.

Ray runs locally by default (all CPUs of this machine); `address` (or
RAY_ADDRESS) joins an existing cluster. Trials are sampled by OptunaSearch
(seeded TPE, the article's model enqueued first), stopped early by ASHA,
retried by `FailureConfig`, and get the dataset through the object store.
"""

from __future__ import annotations

import datetime as _dt
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

__all__ = ["SweepOutcome", "init_ray", "load_data", "quiet_tensorflow", "run_sweep", "TUNE_DIR", "CONFIG_FILE", "BEST_DIR"]

TUNE_DIR = "tune"
CONFIG_FILE = "config.yaml"
BEST_DIR = "best"
STUDY_FILE = "study.db"
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


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and Python log lines out of the user's terminal (driver and workers)."""
    for key, value in _WORKER_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def load_data(cfg: Config) -> Dataset:
    d = cfg.data
    return load_dataset(
        d.source, d.target, val_fraction=d.val_fraction, test_fraction=d.test_fraction, seed=d.seed
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
    finished = (out / BEST_DIR).is_dir() and (out / LEADERBOARD_FILE).is_file()
    if not finished:
        raise HpsearchError(
            f"{out}: holds an unfinished sweep; continue it with `hpsearch resume {out}`, "
            "or start afresh with --overwrite (deletes it)"
        )
    stamp = _dt.datetime.fromtimestamp((out / LEADERBOARD_FILE).stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    archived = out.with_name(f"{out.name}@{stamp}")
    n = 1
    while archived.exists():
        n += 1
        archived = out.with_name(f"{out.name}@{stamp}-{n}")
    os.replace(out, archived)
    return archived


def init_ray(address: str | None, cfg: Config) -> None:
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    env = {**_WORKER_ENV}
    cpus = max(1, int(math.ceil(cfg.train.cpus_per_trial)))
    env["TF_NUM_INTRAOP_THREADS"] = str(cpus)
    env["TF_NUM_INTEROP_THREADS"] = str(cpus)
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": env},
    )
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise HpsearchError(f"--address {address}: cannot join the Ray cluster ({exc})") from None
    else:
        ray.init(num_cpus=os.cpu_count() or 1, **kwargs)


def _concurrency(cfg: Config) -> int:
    import ray

    if cfg.search.max_concurrent:
        return cfg.search.max_concurrent
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(1, int(cpus // cfg.train.cpus_per_trial))


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def _make_tuner(cfg: Config, data: Dataset, out: Path, callbacks: list):
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search.optuna import OptunaSearch

    from search.space import define_by_run, seed_point
    from trainable.train import train_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tune_metric = f"best_{cfg.search.metric}"
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / STUDY_FILE}")
    searcher = OptunaSearch(
        define_by_run(cfg.space),
        metric=tune_metric,
        mode=cfg.search.mode,
        points_to_evaluate=[seed_point(cfg.space)] if cfg.search.seed_trial else None,
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
    trainable = tune.with_resources(tune.with_parameters(train_trial, data=data), {"cpu": cpus})
    return tune.Tuner(
        trainable,
        param_space={
            "max_epochs": cfg.train.max_epochs,
            "metric": cfg.search.metric,
            "seed": cfg.search.seed,
            "cpus": max(1, int(math.ceil(cpus))),
        },
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
            name=TUNE_DIR,
            storage_path=str(out),
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
            verbose=0,
        ),
    )


def _final_rows(results, cfg: Config) -> list[dict[str, Any]]:
    from search._live import error_text

    rows = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        rows.append(
            trial_row(
                trial_id,
                result.config or {},
                metrics,
                max_epochs=cfg.train.max_epochs,
                error=error_text(result) if result.error else None,
                checkpoint=result.checkpoint.path if result.checkpoint else None,
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
        top["checkpoint"], top["trial_id"], results_by_id[top["trial_id"]], validation, data, cfg.search.metric, best_dir
    )
    return card, best_dir


def run_sweep(
    cfg: Config,
    *,
    address: str | None = None,
    overwrite: bool = False,
    on_start: Callable[[Dataset, Path | None], None] | None = None,
    on_update: Callable[[int, int, float | None], None] | None = None,
) -> SweepOutcome:
    import time

    quiet_tensorflow()
    started = time.perf_counter()
    data = load_data(cfg)  # every data mistake surfaces here, before any file is written
    out = cfg.out_dir
    archived = _prepare_out_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(cfg.to_yaml())
    if on_start:
        on_start(data, archived)
    init_ray(address, cfg)
    from search._live import LiveLeaderboard

    live = LiveLeaderboard(out, cfg.search.metric, cfg.search.mode, cfg.train.max_epochs, cfg.search.trials, on_update)
    tuner = _make_tuner(cfg, data, out, [live])
    results = tuner.fit()
    rows = _final_rows(results, cfg)
    board = build_leaderboard(rows, cfg.search.metric)
    write_leaderboard(board, out / LEADERBOARD_FILE)
    configs = {r["trial_id"]: res.config for r, res in zip(rows, results)}
    card, best_dir = export_best(cfg, data, board, configs)
    return SweepOutcome(out, board, card, best_dir, time.perf_counter() - started)
