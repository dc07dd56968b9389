"""Robust pick: retrain the top configurations with fresh seeds, rank by the mean.

Contract: `pick_sweep(results_dir, request)` (`hpsearch pick`) takes the sweep's top-k
ranked trials, retrains each configuration `repeats` times with seeds
`search.seed + 1 .. search.seed + repeats` (fresh seeds: the sweep's own seed
is what made the top trial look best, so it is not reused), all in parallel
as one small Ray Tune run (`RESULTS_DIR/pick/`: every configuration x seed,
packed as the sweep packs (runs of one batch size together, the top
configuration's first), the same `trainable.trial.train.train_trial` as the
sweep, no early stopping,
`train.max_epochs` epochs, best epoch kept). Configurations are ranked by
their mean validation metric over the seeds that finished (ties: lower std,
more finished seeds, better sweep rank); `RESULTS_DIR/pick.csv` holds that
table (per-seed values, mean, std). The winner's best-seed model is exported
to `best/` (replacing the sweep's export; its model card gets a `pick`
block; `hpsearch export` can re-export any sweep trial), and `report.html`
is rewritten.
`pick_and_export(sweep, data, request, command)` is its core, also run inside
`hpsearch run --pick` (`pick.enabled`), where the winner's export is the sweep's one test
scoring (unscored when another sweep scored the split: `PickRequest.own`);
standalone, after `run` scored the test split, the pick is refused before any
retraining unless `--reuse-test` (`search.export.ledger`).
Returns a `PickOutcome`. User mistakes raise `HpsearchError` before Ray
starts. Ray and TensorFlow are imported inside functions.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.config.schema import Config
from search.config.space import BRIEF, HYPERPARAMETERS
from search.records.model_card import ModelCard, PickBlock
from search.records.paths import BEST_DIR, LEADERBOARD_FILE, PICK_DIR, PICK_FILE
from search.review.leaderboard import RANKED, write_leaderboard
from search.review.sweep_results import SweepResults, open_sweep
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError
from trainable.names import MEMBERS, METRIC_MODES, VALIDATION_METRICS
from trainable.trial.settings import TrialSettings

__all__ = ["PickOutcome", "PickRequest", "pick_and_export", "pick_sweep", "view"]


@dataclass
class PickOutcome:
    table: pd.DataFrame
    card: ModelCard
    best_dir: Path
    seeds: list[int]
    wall_seconds: float


def view(metric: str) -> list[str]:
    """The pick table's columns for a one-screen table."""
    # batch_size left out: the per-seed values need the room
    return [
        "rank",
        "trial_id",
        f"mean_{metric}",
        f"std_{metric}",
        "values",
        "n_ok",
        f"sweep_{metric}",
        "sweep_rank",
        *(h for h in BRIEF if h != "batch_size"),
    ]


def _retrain(config: dict[str, Any], data: Dataset, packs: list[dict[str, Any]], settings: TrialSettings) -> None:
    """The Tune trainable: one pack of (configuration, seed) runs."""
    from trainable.trial.train import train_trial

    train_trial(packs[int(config["pack"])], data, settings)


def _run_name(trial: Any) -> str:
    return f"pick_{trial.config['pack']}"


def _member(candidate: str, seed: int) -> str:
    return f"{candidate}_s{seed}"


def _packs(cfg: Config, data: Dataset, candidates: dict[str, dict[str, Any]], seeds: list[int]) -> list[dict]:
    """Every (configuration, seed) run, packed: runs of one batch size together, at most `pack_size` a pack,
    in the order of the ranking (the top configuration's runs first)."""
    from search.sweep.cluster import concurrency
    from search.sweep.packing import pack_size
    from trainable.trial.train import pack_config

    runs = [(c, s) for c in candidates for s in seeds]
    size = pack_size(
        cfg.model_copy(update={"search": cfg.search.model_copy(update={"trials": len(runs)})}),
        len(data.y_train),
        concurrency(cfg),
    )
    by_batch: dict[int, list[tuple[str, int]]] = {}
    for c, s in runs:
        by_batch.setdefault(int(candidates[c]["batch_size"]), []).append((c, s))
    packs = []
    for group in by_batch.values():
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            packs.append(
                pack_config([candidates[c] for c, _ in chunk], [_member(c, s) for c, s in chunk], [s for _, s in chunk])
            )
    return packs


def _location(sweep: SweepResults, storage: str | None) -> tuple[str, str]:
    """Where the pick's Ray Tune runs live: `pick/` in the sweep folder, or a fresh folder under `--storage`."""
    from search.sweep.cluster import experiment_location

    if storage is None:
        shutil.rmtree(sweep.path / PICK_DIR, ignore_errors=True)  # a previous pick's runs
        return str(sweep.path), PICK_DIR
    base, name = experiment_location(sweep.config, sweep.path, storage)
    return base, f"{PICK_DIR}-{name}"


def _retrain_all(
    sweep: SweepResults, data: Dataset, candidates: dict[str, dict[str, Any]], seeds: list[int], request: PickRequest
) -> list[dict[str, Any]]:
    from search.sweep.cluster import init_ray
    from search.sweep.live import TrialCounter, attach
    from search.sweep.tune_rows import error_text, local_checkpoint, member_rows
    from search.sweep.tuner import grid_tuner, trial_settings

    cfg, on_result = sweep.config, request.on_result
    record = sweep.record()
    location = _location(sweep, request.storage or (record.storage if record else None))
    init_ray(request.address, cfg)
    key = sweep.path / PICK_DIR
    packs = _packs(cfg, data, candidates, seeds)
    tuner = grid_tuner(
        cfg,
        _retrain,
        {"pack": list(range(len(packs)))},
        location,
        [TrialCounter(key, len(candidates) * len(seeds), len(packs))],
        _run_name,
        data=data.without_test(),
        packs=packs,
        settings=trial_settings(cfg),
    )
    with attach(key, (lambda done, total, best: on_result(done, total)) if on_result else None):
        results = tuner.fit()
    runs = []
    for result in results:
        index = int((result.config or {}).get("pack", 0))
        rows = member_rows(
            f"{PICK_DIR}_{index}",
            packs[index],
            result.metrics,
            max_epochs=cfg.train.max_epochs,
            error=error_text(result) if result.error else None,
            checkpoint=local_checkpoint(result.checkpoint, sweep.path, f"{PICK_DIR}_{index}"),
        )
        for member, row in zip(packs[index][MEMBERS], rows):  # a row per run, named by its configuration
            seed = int(member["seed"])
            runs.append({**row, "trial_id": str(member["id"])[: -len(f"_s{seed}")], "seed": seed})
    return runs


def _summary_row(sweep_row: pd.Series, mine: pd.DataFrame, metric: str, seeds: list[int]) -> dict[str, Any]:
    """One configuration's line of the pick table, from its runs (`mine`, one per seed)."""
    ok = mine[mine["status"].isin(RANKED) & mine["checkpoint"].notna()]
    values = ok[metric].astype(float).to_numpy()
    best = None
    if len(ok):
        best = ok.iloc[int(np.argmax(values) if METRIC_MODES[metric] == "max" else np.argmin(values))]
    return {
        "trial_id": str(sweep_row["trial_id"]),
        f"mean_{metric}": float(values.mean()) if len(values) else math.nan,
        f"std_{metric}": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "n_ok": int(len(ok)),
        "repeats": len(seeds),
        "seeds": " ".join(str(s) for s in seeds),
        "values": " ".join(f"{v:.4f}" for v in values),
        **{
            f"mean_{m}": float(ok[m].astype(float).mean()) if len(ok) else math.nan
            for m in VALIDATION_METRICS
            if m != metric
        },
        f"sweep_{metric}": float(sweep_row[metric]),
        "sweep_rank": int(sweep_row["rank"]),
        **{k: sweep_row[k] for k in HYPERPARAMETERS},
        "best_seed": int(best["seed"]) if best is not None else None,
        "checkpoint": best["checkpoint"] if best is not None else None,
    }


def _summarise(runs: list[dict[str, Any]], ranked: pd.DataFrame, metric: str, seeds: list[int]) -> pd.DataFrame:
    runs_frame = pd.DataFrame(runs)
    table = pd.DataFrame(
        [
            _summary_row(
                sweep_row,
                runs_frame[runs_frame["trial_id"] == str(sweep_row["trial_id"])].sort_values("seed"),
                metric,
                seeds,
            )
            for _, sweep_row in ranked.iterrows()
        ]
    )
    sign = -1.0 if METRIC_MODES[metric] == "max" else 1.0
    table["_key"] = sign * table[f"mean_{metric}"]
    table = (
        table.sort_values(
            ["_key", f"std_{metric}", "n_ok", "sweep_rank"],
            ascending=[True, True, False, True],
            na_position="last",
            kind="stable",
        )
        .drop(columns="_key")
        .reset_index(drop=True)
    )
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def _pick_block(winner: pd.Series, metric: str, repeats: int, seeds: list[int], n: int) -> PickBlock:
    """The model card's `pick` block."""
    return PickBlock(
        top_k=n,
        repeats=repeats,
        seeds=seeds,
        mean=float(winner[f"mean_{metric}"]),
        std=None if pd.isna(winner[f"std_{metric}"]) else float(winner[f"std_{metric}"]),
        values=[float(v) for v in str(winner["values"]).split()],
        sweep_rank=int(winner["sweep_rank"]),
    )


def _counts(sweep: SweepResults, top_k: int | None, repeats: int | None) -> tuple[int, int]:
    top_k = sweep.config.pick.top_k if top_k is None else top_k
    repeats = sweep.config.pick.repeats if repeats is None else repeats
    if top_k < 1:
        raise HpsearchError(f"--top-k must be >= 1, got {top_k}")
    if repeats < 1:
        raise HpsearchError(f"--repeats must be >= 1, got {repeats}")
    return top_k, repeats


@dataclass(frozen=True)
class PickRequest:
    """What to retrain: the top `top_k` configurations x `repeats` seeds (None: the config's `pick` section)."""

    top_k: int | None = None
    repeats: int | None = None
    address: str | None = None
    storage: str | None = None  # Ray Tune's storage for the retrains (a shared path or URI), as `run --storage`
    reuse_test: bool = False
    on_start: Callable[[int, int, list[int]], None] | None = None
    on_result: Callable[[int, int], None] | None = None
    own: str | None = None  # inside `run --pick`: the sweep's own scoring (`search.export.export.Scoring.own`)


def pick_and_export(sweep: SweepResults, data: Dataset, request: PickRequest, command: str) -> PickOutcome:
    """Retrain, rank, write pick.csv, export the winner to best/ (the sweep's one test scoring); no report."""
    from search.export.export import Scoring, export_model
    from search.export.ledger import Ledger

    started = time.perf_counter()
    cfg = sweep.config
    top_k, repeats = _counts(sweep, request.top_k, request.repeats)
    ranked = sweep.ranked().head(top_k)
    if ranked.empty:
        raise HpsearchError(
            f"{sweep.path / LEADERBOARD_FILE}: no trial finished with a checkpoint; nothing to pick from"
        )
    scoring = Scoring(Ledger(sweep.path), command, request.reuse_test, own=request.own)
    if request.own is None:  # the winner will be a new model: refused before any retraining
        scoring.ledger.allow_new(request.reuse_test)
    candidates = {str(tid): sweep.trial_config(str(tid)) for tid in ranked["trial_id"]}
    seeds = [cfg.search.seed + 1 + r for r in range(repeats)]
    if request.on_start:
        request.on_start(len(candidates), repeats, seeds)
    runs = _retrain_all(sweep, data, candidates, seeds, request)
    metric = cfg.search.metric
    table = _summarise(runs, ranked, metric, seeds)
    winner = table.iloc[0]
    if winner["n_ok"] == 0:
        raise HpsearchError(f"{sweep.path / PICK_DIR}: every retrain failed; see the trials' error.txt there")
    run = next(r for r in runs if r["trial_id"] == winner["trial_id"] and r["seed"] == winner["best_seed"])
    best_dir = sweep.path / BEST_DIR
    card = export_model(
        run,
        winner["checkpoint"],
        candidates[winner["trial_id"]],
        data,
        best_dir,
        cfg=cfg,
        training_seed=int(winner["best_seed"]),
        scoring=scoring,
        extra={"pick": _pick_block(winner, metric, repeats, seeds, len(table))},
    )
    write_leaderboard(table, sweep.path / PICK_FILE)  # atomic csv write
    return PickOutcome(table, card, best_dir, seeds, time.perf_counter() - started)


def pick_sweep(results_dir: str | Path, request: PickRequest) -> PickOutcome:
    """`hpsearch pick` on a finished sweep: `pick_and_export`, then the report (see the module docstring)."""
    from search.export.ledger import Ledger
    from search.records.lock import SweepLock, check_free
    from search.review.report import write_report
    from search.sweep.tuner import seal_study
    from trainable.runtime.environment import prepare_tensorflow

    started = time.perf_counter()
    sweep = open_sweep(results_dir)

    check_free(sweep.path)  # a live sweep, mistakes and a refused test scoring: before anything loads
    _counts(sweep, request.top_k, request.repeats)
    Ledger(sweep.path).allow_new(request.reuse_test)
    with SweepLock(sweep.path):
        data = sweep.data()
        prepare_tensorflow()
        outcome = pick_and_export(sweep, data, request, "pick")
        write_report(sweep.path, data=data)
        seal_study(sweep.path)  # the report read it: one self-contained study.db again
    return dataclasses.replace(outcome, wall_seconds=time.perf_counter() - started)
