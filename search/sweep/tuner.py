"""Ray Tune's side of a sweep: the trial settings, the searcher, the scheduler, and the `Tuner`.

Contract: `trial_settings(cfg)` is the frozen `TrialSettings` every trial gets
(with `tune.with_parameters`, next to the data without its test rows: those
stay on the driver, for the one test scoring); Tune's `config` carries only
the sampled hyperparameters. A trial runs `TrialFn` (by default
`trainable.trial.train.train_trial`; tests and benchmarks pass their own
stand-in). A Tune trial trains a pack of configurations
(`sweep_pack_sizes`: `search.sweep.packing`). `make_tuner(cfg, data, out,
callbacks, location, trial)` builds the sweep's `Tuner`: Optuna's seeded TPE
(past 225 finished trials, on the best and the most recent: `search.sweep.window_tpe`)
through `PackSearch` (each configuration its own Optuna trial; the article's
model and `search.enqueue` first; the study in `study.db`, read back through
`search.sweep.study_storage`; Optuna gets each
configuration's final score only), early stopping per configuration by the
sweep's referee (`search.sweep.early_stopping`, named in the trial settings;
Tune's own scheduler is FIFO), `search.max_failures` retries (a lost node's
trials are retried without counting: `search.sweep.node_loss`), reused trial
actors, 1 checkpoint kept per trial, experiment snapshots within a budget
(`search.sweep.snapshots`). `restore_tuner(cfg, data,
experiment, trial)` continues a saved experiment (errored trials retried);
`check_restorable(out, experiment)` refuses first when Tune never saved one. `grid_tuner(...)` runs a plain grid
(`hpsearch pick`) with the same resources, retries and checkpoints.
`close_study(cfg, out)` fails the Optuna trials a dead driver left RUNNING;
`seal_study(out)` leaves `study.db` one self-contained file (the end of a
run, a resume, a pick, and Ctrl-C).
Imports Ray and Optuna inside functions only.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from search.config.schema import Config
from search.records.paths import CONFIG_FILE, STUDY_FILE, TUNER_FILE, study_url, trial_dirname
from search.sweep.cluster import concurrency
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError
from trainable.names import reported
from trainable.trial.settings import TrialSettings

__all__ = [
    "TrialFn",
    "check_restorable",
    "close_study",
    "grid_tuner",
    "make_tuner",
    "restore_tuner",
    "seal_study",
    "sweep_pack_sizes",
    "trial_settings",
]

TrialFn = Callable[[dict[str, Any], Dataset, TrialSettings], None]  # what a trial runs: (config, data, settings)


def _checkpoint_epochs(cfg: Config) -> tuple[int, ...] | None:
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
    return tuple(sorted(epochs))


def trial_settings(cfg: Config, rungs: str | None = None) -> TrialSettings:
    """The sweep's trial settings; `rungs` names its early-stopping referee (`search.sweep.early_stopping`)."""
    return TrialSettings(
        max_epochs=cfg.train.max_epochs,
        metric=cfg.search.metric,
        seed=cfg.search.seed,
        cpus=max(1, int(math.ceil(cfg.train.cpus_per_trial))),
        class_weight=cfg.train.class_weight,
        checkpoint_epochs=_checkpoint_epochs(cfg),
        operating_point=(cfg.export.threshold, cfg.export.target_sensitivity) if cfg.search.constraints else None,
        rungs=rungs,
    )


def _trainable(cfg: Config, fn: Callable[..., None], **parameters: Any) -> Any:
    """`fn` with its parameters (through the object store) and a trial's CPUs (and GPUs); a lost node
    costs its trials no retry (`search.sweep.node_loss`)."""
    from ray import tune

    from search.sweep._compat import cached_trainable_lookups
    from search.sweep.node_loss import forgive_node_losses
    from search.sweep.snapshots import budget_snapshots

    forgive_node_losses()
    budget_snapshots()
    cached_trainable_lookups()

    resources = {"cpu": cfg.train.cpus_per_trial}
    if cfg.train.gpus_per_trial:
        resources["gpu"] = cfg.train.gpus_per_trial
    return tune.with_resources(tune.with_parameters(fn, **parameters), resources)


def _sweep_trainable(cfg: Config, data: Dataset, trial: TrialFn | None) -> tuple[Any, str | None]:
    """The sweep's trainable, its settings naming a fresh early-stopping referee (Ray is up), and that name."""
    from search.sweep.early_stopping import start_referee
    from trainable.trial.train import train_trial

    metrics, modes = _targets(cfg)
    referee = start_referee(cfg, metrics[0], modes[0])
    settings = trial_settings(cfg, referee)
    return _trainable(cfg, trial or train_trial, data=data.without_test(), settings=settings), referee


def sweep_pack_sizes(cfg: Config, data: Dataset) -> list[int]:
    """The configurations of each of the sweep's packs (its Tune trials), in order."""
    from search.sweep.packing import pack_size, pack_sizes

    return pack_sizes(cfg.search.trials, pack_size(cfg, len(data.y_train), concurrency(cfg)))


def _name(trial: Any) -> str:
    return trial_dirname(trial.trial_id)


def _study_storage(out: Path) -> Any:
    """Optuna's storage for the sweep's study.db: SQLite in WAL mode, committing without waiting for the
    disk (safe against a crashed process, not a lost machine): each sampled value is a commit, and the
    driver shares the CPUs with the trials. Read through `DriverStudyStorage` (only the driver writes it)."""
    import optuna
    from sqlalchemy import event

    from search.sweep.study_storage import DriverStudyStorage

    storage = optuna.storages.RDBStorage(study_url(out))

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # reconnect with the pragmas
    driver = DriverStudyStorage(storage)
    _STORAGES[str(out)] = (driver, storage)
    return driver


_STORAGES: dict[str, Any] = {}  # (driver, SQLite) storages this driver opened, by sweep folder: `seal_study`


def seal_study(out: Path) -> None:
    """Leave `study.db` one self-contained file: this driver's connections closed, the write-ahead log
    checkpointed into it and, when no other process holds it open, the journal back to SQLite's default
    (no `-wal` or `-shm` file beside it). Copied alone, it holds every trial."""
    import contextlib
    import gc
    import sqlite3

    opened = _STORAGES.pop(str(out), None)
    if opened is not None:
        opened[0].flush()
        opened[1].engine.dispose()
    gc.collect()  # the connections of studies loaded and dropped since (the report's) close with them
    path = out / STUDY_FILE
    if not path.is_file():
        return
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with contextlib.suppress(sqlite3.OperationalError):  # another connection still open: the log is empty
            db.execute("PRAGMA journal_mode=DELETE")


def _targets(cfg: Config) -> tuple[list[str], list[str]]:
    """The reported keys the search optimises, and their modes: the objectives, or the one metric."""
    ranking = cfg.search.ranking
    pairs = ranking.objectives or ((ranking.metric, cfg.search.mode),)
    return [reported(m) for m, _ in pairs], [mode for _, mode in pairs]


# TPE models the TPE_BEST best finished trials and the TPE_WINDOW most recent others: its cost per ask stops
# growing with the sweep (`search.sweep.window_tpe`; quality and cost: docs/performance.md).
TPE_WINDOW, TPE_BEST = 200, 25


def _sampler(cfg: Config) -> Any:
    """Seeded TPE (multi-objective when there are several objectives; past TPE_WINDOW + TPE_BEST finished
    trials, single-objective TPE models a window of them) or NSGA-II; both read each trial's constraint, set
    as it is told (`search.sweep.optuna_searcher`)."""
    import optuna

    from search.sweep._compat import vectorised_log_ndtr

    vectorised_log_ndtr()
    if cfg.search.objectives and cfg.search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=cfg.search.seed)
    from search.sweep.window_tpe import WindowTPESampler

    return WindowTPESampler(
        window=TPE_WINDOW, best=TPE_BEST, seed=cfg.search.seed, n_startup_trials=min(10, cfg.search.trials)
    )


def _searcher(cfg: Config, out: Path, sizes: list[int]) -> Any:
    import optuna

    from search.config.space import define_by_run, seed_point
    from search.sweep.optuna_searcher import PackSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    first = ([seed_point(cfg.space)] if cfg.search.seed_trial else []) + list(cfg.search.enqueue)
    metrics, modes = _targets(cfg)
    return PackSearch(
        define_by_run(cfg.space),
        metric=metrics if len(metrics) > 1 else metrics[0],
        mode=modes if len(modes) > 1 else modes[0],
        points=first,
        sampler=_sampler(cfg),
        study_name=cfg.name,
        storage=_study_storage(out),
        constraints=dict(cfg.search.ranking.constraints),
        pack_sizes=sizes,
    )


def _run_config(cfg: Config, location: tuple[str, str], callbacks: list[Any]) -> Any:
    """One checkpoint kept per trial. Tune then asks for a snapshot of the whole experiment (O(trials)) at
    every checkpoint of every trial; `search.sweep.snapshots` takes them while they cost at most a
    twentieth of the time, and deletes a replaced checkpoint only once a written snapshot no longer names
    it."""
    from ray import tune

    return tune.RunConfig(
        name=location[1],
        storage_path=location[0],
        failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=callbacks,
        verbose=0,
    )


def make_tuner(
    cfg: Config, data: Dataset, out: Path, callbacks: list[Any], location: tuple[str, str], trial: TrialFn | None
) -> Any:
    """The sweep's `Tuner`; `location` is (storage path, experiment name); `trial`: None for `train_trial`."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from search.sweep.early_stopping import RungRecords

    sizes = sweep_pack_sizes(cfg, data)
    trainable, referee = _sweep_trainable(cfg, data, trial)
    records = [RungRecords(referee)] if referee else []
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(  # metric and mode live on the searcher (several objectives)
            search_alg=_searcher(cfg, out, sizes),
            num_samples=len(sizes),
            max_concurrent_trials=concurrency(cfg),
            time_budget_s=cfg.search.time_budget_s,
            reuse_actors=True,
            trial_name_creator=_name,
            trial_dirname_creator=_name,
        ),
        run_config=_run_config(cfg, location, [*callbacks, *records, JsonLoggerCallback()]),
    )


def _files(experiment: str) -> tuple[Any, str]:
    import pyarrow.fs

    if "://" in experiment:
        return pyarrow.fs.FileSystem.from_uri(experiment)
    return pyarrow.fs.LocalFileSystem(), experiment


def _state_saved(experiment: str) -> bool:
    """Has Ray Tune saved the experiment's state at least once (not just `tuner.pkl`)?"""
    import pyarrow.fs

    fs, path = _files(experiment)
    found = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return any(Path(info.path).name.startswith("experiment_state-") for info in found)


def _unpickle_error(experiment: str) -> str | None:
    """Why the saved `tuner.pkl` does not load here (it pickles hpsearch's own
    callback: one saved by another version may not), or None when it does."""
    fs, path = _files(experiment)
    try:
        with fs.open_input_stream(f"{path}/{TUNER_FILE}") as stream:
            pickle.loads(stream.read())
    except (ImportError, AttributeError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_restorable(out: Path, experiment: str) -> None:
    """Refuse, before Ray starts, a sweep whose Ray Tune state is missing or does not load."""
    from ray import tune

    again = f"start it again with `hpsearch run {out / CONFIG_FILE} --overwrite`"
    if not (tune.Tuner.can_restore(experiment) and _state_saved(experiment)):
        raise HpsearchError(
            f"{out}: no saved Ray Tune state at {experiment} (the sweep stopped before its first trials); {again}"
        )
    error = _unpickle_error(experiment)
    if error:
        raise HpsearchError(
            f"{experiment}: cannot load the saved Ray Tune state ({error}); it was probably "
            f"saved by another version of hpsearch: {again}"
        )


def restore_tuner(cfg: Config, data: Dataset, experiment: str, trial: TrialFn | None) -> Any:
    """The saved sweep's `Tuner` (call `check_restorable` first): finished trials
    kept, unfinished ones continued from their checkpoints, errored ones retried."""
    from ray import tune

    trainable, _ = _sweep_trainable(cfg, data, trial)  # the same referee name: its records come back (RungRecords)
    return tune.Tuner.restore(experiment, trainable=trainable, resume_errored=True)


def grid_tuner(
    cfg: Config,
    fn: Callable[..., None],
    grid: dict[str, list[Any]],
    location: tuple[str, str],
    callbacks: list[Any],
    name: Callable[[Any], str],
    **parameters: Any,
) -> Any:
    """A `Tuner` over every combination of `grid`, each run `fn(config, **parameters)`."""
    from ray import tune

    return tune.Tuner(
        _trainable(cfg, fn, **parameters),
        param_space={key: tune.grid_search(values) for key, values in grid.items()},
        tune_config=tune.TuneConfig(
            num_samples=1,
            max_concurrent_trials=concurrency(cfg),
            reuse_actors=True,
            trial_name_creator=name,
            trial_dirname_creator=name,
        ),
        run_config=_run_config(cfg, location, callbacks),
    )


def close_study(cfg: Config, out: Path) -> None:
    """Mark as failed the Optuna trials left RUNNING by a driver that died after
    asking for them but before Tune saved its state (Tune never ran them)."""
    import optuna

    storage = optuna.storages.RDBStorage(study_url(out))
    try:
        study = optuna.load_study(study_name=cfg.name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    finally:
        storage.engine.dispose()
