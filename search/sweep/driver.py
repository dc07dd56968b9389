"""The drive of a sweep, run or resumed: one path from the data to `best/` and the report.

Contract: `run_sweep(cfg, address=..., storage=..., overwrite=...)` loads and
checks the data before writing anything (user mistakes raise
`HpsearchError`), prepares the results folder (`search.sweep.folder`), writes
`config.yaml` and `sweep.json`, then drives, holding the folder's lock
(`search.records.lock`: a live sweep is never archived, overwritten or
resumed under itself). `resume_sweep(dir)` continues an interrupted or killed
sweep: the same config and data (refused if the data changed), Ray Tune's
saved experiment (`Tuner.restore`: finished trials kept, unfinished ones
continued from their checkpoints, errored ones retried) and the searcher's
saved state (the Optuna study in `study.db`), then drives the same way. The
drive: join or start Ray (`search.sweep.cluster`), build or restore the
`Tuner` (`search.sweep.tuner`), `fit` it with the live leaderboard and the
progress display attached (`search.sweep.live`), then finish: the final
leaderboard, validation intervals and ties (`search.review.ties`), the one
scoring of the test split as the best trial is exported to `best/` (not
scored when another sweep of the results folder scored the same test split,
unless `reuse_test`: `search.export.ledger`; its
baselines fitted while the last trials ran, on the slot they left idle:
`search.sweep.early_baselines`; `search.export.export`; with `pick.enabled`,
the robust pick runs first, on the same Ray, and its winner is what is scored
and exported: `search.sweep.pick`), the sweep marked finished, and
`report.html` (`search.review.report`). Ctrl-C (SIGINT) lets Ray Tune stop
the trials in flight and save its state; the outcome is then `interrupted`
(nothing exported). Both return a `SweepOutcome`. `trial` replaces what each
trial runs (`search.sweep.tuner.TrialFn`; tests and benchmarks only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from search.config.schema import Config
from search.records.lock import SweepLock, check_free
from search.records.model_card import ModelCard
from search.records.paths import BEST_DIR, CONFIG_FILE, LEADERBOARD_FILE, TIMINGS_FILE, atomic_write_text
from search.records.sweep_record import write_record
from search.review.leaderboard import COLUMNS, build_leaderboard, ranked, read_leaderboard, write_leaderboard
from search.sweep import folder
from search.sweep.cluster import (
    check_address,
    concurrency,
    experiment_location,
    init_ray,
    prefetch_imports,
    release_ray,
)
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError
from trainable.runtime.environment import prepare_tensorflow

if TYPE_CHECKING:
    from search.sweep.early_baselines import EarlyBaselines
    from search.sweep.live import OnUpdate
    from search.sweep.pick import PickOutcome
    from search.sweep.tracking import SweepTracking
    from search.sweep.tuner import TrialFn

__all__ = ["SweepOutcome", "resume_sweep", "run_sweep"]

# What the end of a sweep imports, heaviest first: TensorFlow and Keras (the export loads the model),
# scikit-learn's baselines.
_EXPORT_IMPORTS = ("trainable.trial.layers", "sklearn.ensemble", "sklearn.linear_model", "plotly.graph_objects")


@dataclass
class SweepOutcome:
    out_dir: Path
    leaderboard: pd.DataFrame
    card: ModelCard | None
    best_dir: Path | None
    wall_seconds: float
    interrupted: bool = False  # Ctrl-C: the leaderboard holds the trials that finished; resume_sweep continues
    pick: PickOutcome | None = None  # with `pick.enabled`


@dataclass
class _Drive:
    """What a run or a resume drives: the sweep, how it was started, and when."""

    cfg: Config
    data: Dataset
    address: str | None
    command: str  # run or resume: the command that scores the test split
    tracking: SweepTracking | None
    started: float  # perf_counter at the command's start
    reuse_test: bool = False  # `run --reuse-test`: score the test split even if another sweep scored it
    marks: dict[str, float] = field(default_factory=dict)  # timings.json

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def run_sweep(
    cfg: Config,
    *,
    address: str | None = None,
    storage: str | None = None,
    overwrite: bool = False,
    reuse_test: bool = False,
    on_start: Callable[[Dataset, list[str]], None] | None = None,
    on_update: OnUpdate | None = None,
    trial: TrialFn | None = None,
) -> SweepOutcome:
    """`on_start(data, notes)`: called once the sweep starts; `notes` (lines for the user) say what was moved
    aside or taken over. `reuse_test`: score the test split even if another sweep of the results folder
    scored it (kept in `sweep.json`, so a resume does too)."""
    prepare_tensorflow()
    started = time.perf_counter()
    data = cfg.load_data()  # every data mistake surfaces here, before any file is written
    if cfg.search.constraints and data.n_classes != 2:
        raise HpsearchError(
            f"search.constraints: a sensitivity or specificity floor needs a binary outcome, "
            f"got {data.n_classes} classes in {cfg.data.target or cfg.data.source}"
        )
    out = cfg.out_dir
    location = experiment_location(cfg, out, storage)
    check_address(address)
    tracked = _tracking_check(cfg)  # refused before anything is written when MLflow is missing
    from search.export.onnx_file import check_onnx

    check_onnx(cfg)  # likewise the ONNX packages, with export.onnx
    stale = check_free(out)  # a live sweep there is refused before anything is moved or deleted
    archived = folder.prepare(out, overwrite)
    with SweepLock(out) as lock:
        atomic_write_text(out / CONFIG_FILE, cfg.to_yaml())
        record = folder.start(out, f"{location[0]}/{location[1]}", data, storage, reuse_test)
        tracking = _start_tracking(cfg, out) if tracked else None
        if tracking is not None:
            write_record(out, record.model_copy(update={"mlflow_run_id": tracking.run_id}))
        if on_start:
            on_start(data, _notes(archived, stale or lock.took_over))

        def new_tuner() -> Any:
            from search.sweep.live import LiveLeaderboard
            from search.sweep.tuner import make_tuner
            from search.sweep.tuner import sweep_pack_sizes as packs

            live = LiveLeaderboard(out, cfg.train.max_epochs, cfg.search.trials, cfg.search.ranking, packs(cfg, data))
            return make_tuner(cfg, data, out, [live, *([tracking.callback()] if tracking else [])], location, trial)

        return _run(_Drive(cfg, data, address, "run", tracking, started, reuse_test=reuse_test), new_tuner, on_update)


def _tracking_check(cfg: Config) -> bool:
    """Whether the sweep is tracked in MLflow; refused in one line when MLflow is not installed."""
    if cfg.mlflow.tracking_uri is None:
        return False
    from search.sweep.tracking import check_mlflow

    check_mlflow()
    return True


def _start_tracking(cfg: Config, out: Path) -> SweepTracking:
    """The sweep's MLflow parent run (its id is kept in `sweep.json` for a resume)."""
    from search.sweep.tracking import SweepTracking

    return SweepTracking.start(cfg, out)


def _notes(archived: Path | None, stale: dict[str, Any] | None) -> list[str]:
    notes = [f"previous sweep moved to {archived}"] if archived is not None else []
    if stale is not None:
        notes.append(f"took over a stale lock (pid {stale.get('pid')} on {stale.get('host')} is gone)")
    return notes


def resume_sweep(
    results_dir: str | Path,
    *,
    address: str | None = None,
    on_start: Callable[[Config, Dataset, list[str]], None] | None = None,
    on_update: OnUpdate | None = None,
    trial: TrialFn | None = None,
) -> SweepOutcome:
    """Continue the interrupted (or killed) sweep in `results_dir`; ends like `run_sweep`."""
    from search.sweep.tuner import check_restorable, restore_tuner

    prepare_tensorflow()
    started = time.perf_counter()
    out = Path(results_dir).resolve()  # as cfg.out_dir was when the sweep started
    cfg, record = folder.resumable(out)
    check_free(out)  # a sweep still running is not resumed under itself
    data = cfg.load_data()
    record.check_same_data(data, "a resumed sweep must train on the same data")
    check_restorable(out, record.experiment)
    check_address(address)
    tracking = None
    if _tracking_check(cfg) and record.mlflow_run_id:  # Tune restores its MLflow callback itself
        from search.sweep.tracking import SweepTracking

        tracking = SweepTracking.resume(cfg, record.mlflow_run_id)
    with SweepLock(out) as lock:
        if on_start:
            on_start(cfg, data, _notes(None, lock.took_over))
        drive = _Drive(cfg, data, address, "resume", tracking, started, reuse_test=record.reuse_test)
        return _run(drive, lambda: restore_tuner(cfg, data, record.experiment, trial), on_update)


def _run(drive: _Drive, new_tuner: Callable[[], Any], on_update: OnUpdate | None) -> SweepOutcome:
    """Ray up, `fit`, Ray down while the driver finishes (after the pick, which needs it, when there is one);
    `timings.json` records when each step ended."""
    cfg, out, marks = drive.cfg, drive.cfg.out_dir, drive.marks
    marks.update(command_start=time.time() - drive.seconds(), ray_init_start=time.time())
    owned = init_ray(drive.address, cfg)
    marks["ray_ready"] = time.time()
    tuner = new_tuner()
    marks["fit_start"] = time.time()
    early = _early_baselines(cfg, drive.data)
    results = _fit(tuner, out, on_update, early)
    if results is None:
        return _interrupted(out, drive.started)
    marks["fit_end"] = time.time()
    shutdown = None if cfg.pick.enabled else release_ray(owned)
    try:
        outcome = _finish(drive, results, early)
    finally:
        shutdown = release_ray(owned) if cfg.pick.enabled else shutdown
    if drive.tracking:
        drive.tracking.finish(out, outcome.card)
    marks["finish_end"] = time.time()  # leaderboard, intervals, (pick,) export, report
    marks.update(early.times if early is not None else {})  # baselines fitted before the sweep ended
    if shutdown is not None:
        shutdown.join()
        marks["ray_stopped"] = time.time()
    from trainable.runtime.tf import peak_rss_mb

    marks["driver_peak_rss_mb"] = peak_rss_mb()
    atomic_write_text(out / TIMINGS_FILE, json.dumps(marks) + "\n")
    return outcome


def _early_baselines(cfg: Config, data: Dataset) -> EarlyBaselines | None:
    """The baselines to fit on the slot the sweep's last trials leave idle (at once when there are fewer
    trials than slots), or None: with `pick.enabled` (its export fits them after the pick) or none asked."""
    if cfg.pick.enabled or not cfg.export.baselines:
        return None
    from search.sweep.early_baselines import EarlyBaselines

    return EarlyBaselines(data, cfg, idle_from_start=cfg.search.trials < concurrency(cfg))


def _fit(tuner: Any, out: Path, on_update: OnUpdate | None, early: EarlyBaselines | None) -> Any:
    """`tuner.fit()` with the progress display attached, and `early` started when a slot is left idle;
    None when Ctrl-C stopped it."""
    from search.sweep.live import attach

    with attach(out, on_update) as watch:
        warm = prefetch_imports(_EXPORT_IMPORTS, after=watch.reporting)  # the driver idles while trials run
        if early is not None:
            watch.on_idle = lambda: early.start(after=warm)
            if early.idle_from_start:
                early.start(after=warm)
        try:
            results = tuner.fit()
        except KeyboardInterrupt:  # a second Ctrl-C, or Tune's own handler disabled
            return None
        finally:
            watch.reporting.set()
            warm.join()
    return None if watch.interrupted else results


def _interrupted(out: Path, started: float) -> SweepOutcome:
    """What an interrupted sweep leaves: the leaderboard of the trials that finished, and a whole study.db."""
    from search.sweep.tuner import seal_study

    seal_study(out)
    board = read_leaderboard(out) if (out / LEADERBOARD_FILE).is_file() else pd.DataFrame(columns=COLUMNS)
    return SweepOutcome(out, board, None, None, time.perf_counter() - started, interrupted=True)


def _export_best(
    drive: _Drive, board: pd.DataFrame, sampled: dict[str, dict[str, Any]], early: EarlyBaselines | None
) -> tuple[ModelCard | None, Path | None, PickOutcome | None]:
    """The best ranked trial exported to `best/` (or, with `pick.enabled`, the pick's winner):
    (its card, the folder, the pick's outcome), or Nones when no trial has a model."""
    from search.export.export import Scoring, export_model
    from search.export.ledger import Ledger

    cfg = drive.cfg
    top = ranked(board)
    if top.empty:
        return None, None, None
    if cfg.pick.enabled:
        from search.review.sweep_results import open_sweep
        from search.sweep.pick import PickRequest, pick_and_export

        # the sweep's own scoring (see below); the pick runs where the sweep did (its `storage`)
        own = f"hpsearch pick {cfg.out_dir} --reuse-test"
        request = PickRequest(address=drive.address, reuse_test=drive.reuse_test, own=own)
        picked = pick_and_export(open_sweep(cfg.out_dir), drive.data, request, drive.command)
        return picked.card, picked.best_dir, picked
    # The sweep's own scoring is never refused: one made since it started (`hpsearch export` while it ran)
    # only makes this one the next, and the card says so. When another sweep of the results folder scored
    # the same test split, the best model is exported unscored (unless --reuse-test): `search.export.ledger`.
    row, best_dir = top.iloc[0], cfg.out_dir / BEST_DIR
    scoring = Scoring(
        Ledger(cfg.out_dir),
        drive.command,
        reuse_test=drive.reuse_test,
        baselines=early.result if early is not None else None,
        own=f"hpsearch export {cfg.out_dir} --out {best_dir} --reuse-test",
    )
    card = export_model(
        row,
        row["checkpoint"],
        sampled[row["trial_id"]],
        drive.data,
        best_dir,
        cfg=cfg,
        training_seed=cfg.search.seed,
        scoring=scoring,
    )
    return card, best_dir, None


def _finish(drive: _Drive, results: Any, early: EarlyBaselines | None) -> SweepOutcome:
    """The end of a sweep, run or resumed: final leaderboard, intervals, (pick,) best model, report."""
    from search.review.report import write_report
    from search.review.ties import validation_intervals
    from search.sweep.tune_rows import rows_of_results
    from search.sweep.tuner import close_study, seal_study

    cfg, data, marks = drive.cfg, drive.data, drive.marks
    out = cfg.out_dir
    rows, sampled = rows_of_results(results, cfg.train.max_epochs, out)
    board = build_leaderboard(rows, cfg.search.ranking)
    write_leaderboard(board, out / LEADERBOARD_FILE)
    marks["leaderboard_end"] = time.time()
    board = validation_intervals(board, data, cfg.export, cfg.search.metric, out)
    write_leaderboard(board, out / LEADERBOARD_FILE)
    marks["intervals_end"] = time.time()
    card, best_dir, picked = _export_best(drive, board, sampled, early)
    marks["export_end"] = time.time()
    close_study(cfg, out)
    folder.mark_finished(out)
    write_report(out, data=data)  # it reads the final leaderboard, best/, pick.csv and study.db
    seal_study(out)
    return SweepOutcome(out, board, card, best_dir, drive.seconds(), pick=picked)
