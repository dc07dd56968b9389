"""Robust pick: retrain the top configurations with fresh seeds, rank by the mean.

Contract: `pick(results_dir, top_k=..., repeats=...)` takes the sweep's top-k
ranked trials, retrains each configuration `repeats` times with seeds
`search.seed + 1 .. search.seed + repeats` (fresh seeds: the sweep's own seed
is what made the top trial look best, so it is not reused), all in parallel
as one small Ray Tune run (`RESULTS_DIR/pick/`, grid over configuration x
seed, the same `trainable.train.train_trial` as the sweep, no early stopping,
`train.max_epochs` epochs, best epoch kept). Configurations are ranked by
their mean validation metric over the seeds that finished (ties: lower std,
more finished seeds, better sweep rank); `RESULTS_DIR/pick.csv` holds that
table (per-seed values, mean, std). The winner's best-seed model is exported
to `best/` (replacing the sweep's export; its model card gets a `pick`
block; `hpsearch export` can re-export any sweep trial), and `report.html`
is rewritten.
Returns a `PickOutcome`. User mistakes raise `HpsearchError` before Ray
starts. Ray and TensorFlow are imported inside functions.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from search.config import METRIC_MODES
from search.leaderboard import HP_COLUMNS, RANKED, trial_row
from search.review import open_sweep
from trainable.errors import HpsearchError

__all__ = ["PICK_DIR", "PICK_FILE", "PickOutcome", "pick"]

PICK_FILE = "pick.csv"
PICK_DIR = "pick"


@dataclass
class PickOutcome:
    table: pd.DataFrame
    card: dict[str, Any]
    best_dir: Path
    seeds: list[int]
    wall_seconds: float


def _retrain(config: dict[str, Any], data, candidates: dict[str, dict[str, Any]]) -> None:
    """The Tune trainable: one configuration, one seed."""
    from trainable.train import train_trial

    train_trial({**candidates[config["candidate"]], "seed": int(config["seed"])}, data)


def _run_name(trial) -> str:
    return f"pick_{trial.config['candidate']}_s{trial.config['seed']}"


def _progress_callback(total: int, on_result: Callable[[int, int], None] | None):
    from ray.tune import Callback

    class _Progress(Callback):  # no closure over the hook: Tune pickles this class with the experiment
        def __init__(self, total: int, hook: Callable[[int, int], None] | None) -> None:
            self.done, self.total, self.hook = 0, total, hook

        def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks; the display hook is not picklable
            return {**self.__dict__, "hook": None}

        def _tick(self) -> None:
            self.done += 1
            if self.hook:
                self.hook(self.done, self.total)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._tick()

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._tick()

    return _Progress(total, on_result)


def _retrain_all(sweep, data, candidates, seeds, address, on_result) -> list[dict[str, Any]]:
    import ray
    from ray import tune

    from search.driver import init_ray

    cfg = sweep.config
    init_ray(address, cfg)
    cpus = cfg.train.cpus_per_trial
    concurrency = cfg.search.max_concurrent or max(1, int(float(ray.cluster_resources().get("CPU", 1)) // cpus))
    shutil.rmtree(sweep.path / PICK_DIR, ignore_errors=True)  # a previous pick's runs
    total = len(candidates) * len(seeds)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_retrain, data=data, candidates=candidates), {"cpu": cpus}),
        param_space={"candidate": tune.grid_search(list(candidates)), "seed": tune.grid_search(seeds)},
        tune_config=tune.TuneConfig(
            num_samples=1,
            max_concurrent_trials=concurrency,
            reuse_actors=True,
            trial_name_creator=_run_name,
            trial_dirname_creator=_run_name,
        ),
        run_config=tune.RunConfig(
            name=PICK_DIR,
            storage_path=str(sweep.path),
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[_progress_callback(total, on_result)],
            verbose=0,
        ),
    )
    runs = []
    for result in tuner.fit():
        conf = result.config or {}
        row = trial_row(
            str(conf.get("candidate")),
            candidates.get(conf.get("candidate"), {}),
            result.metrics,
            max_epochs=cfg.train.max_epochs,
            error=str(result.error) if result.error else None,
            checkpoint=result.checkpoint.path if result.checkpoint else None,
        )
        runs.append({**row, "seed": int(conf.get("seed", -1))})
    return runs


def _summarise(runs: list[dict[str, Any]], ranked: pd.DataFrame, metric: str, seeds: list[int]) -> pd.DataFrame:
    maximise = METRIC_MODES[metric] == "max"
    runs_frame = pd.DataFrame(runs)
    rows = []
    for _, sweep_row in ranked.iterrows():
        tid = str(sweep_row["trial_id"])
        mine = runs_frame[runs_frame["trial_id"] == tid].sort_values("seed")
        ok = mine[mine["status"].isin(RANKED) & mine["checkpoint"].notna()]
        values = ok[metric].astype(float).to_numpy()
        best = None
        if len(ok):
            best = ok.iloc[int(np.argmax(values) if maximise else np.argmin(values))]
        rows.append({
            "trial_id": tid,
            f"mean_{metric}": float(values.mean()) if len(values) else math.nan,
            f"std_{metric}": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "n_ok": int(len(ok)),
            "repeats": len(seeds),
            "seeds": " ".join(str(s) for s in seeds),
            "values": " ".join(f"{v:.4f}" for v in values),
            **{f"mean_{m}": float(ok[m].astype(float).mean()) if len(ok) else math.nan
               for m in ("val_auroc", "val_accuracy", "val_loss") if m != metric},
            f"sweep_{metric}": float(sweep_row[metric]),
            "sweep_rank": int(sweep_row["rank"]),
            **{k: sweep_row[k] for k in HP_COLUMNS},
            "best_seed": int(best["seed"]) if best is not None else None,
            "checkpoint": best["checkpoint"] if best is not None else None,
        })
    table = pd.DataFrame(rows)
    sign = -1.0 if maximise else 1.0
    table["_key"] = sign * table[f"mean_{metric}"]
    table = table.sort_values(["_key", f"std_{metric}", "n_ok", "sweep_rank"], ascending=[True, True, False, True],
                              na_position="last", kind="stable").drop(columns="_key").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def pick(
    results_dir: str | Path,
    *,
    top_k: int | None = None,
    repeats: int | None = None,
    address: str | None = None,
    on_start: Callable[[int, int, list[int]], None] | None = None,
    on_result: Callable[[int, int], None] | None = None,
) -> PickOutcome:
    """Retrain, rank, write pick.csv, export the winner (see the module docstring)."""
    from search.driver import BEST_DIR, quiet_tensorflow
    from search.export import export_model
    from search.leaderboard import write_leaderboard

    started = time.perf_counter()
    sweep = open_sweep(results_dir)
    cfg = sweep.config
    top_k = cfg.pick.top_k if top_k is None else top_k
    repeats = cfg.pick.repeats if repeats is None else repeats
    if top_k < 1:
        raise HpsearchError(f"--top-k must be >= 1, got {top_k}")
    if repeats < 1:
        raise HpsearchError(f"--repeats must be >= 1, got {repeats}")
    ranked = sweep.ranked().head(top_k)
    if ranked.empty:
        raise HpsearchError(f"{sweep.path / 'leaderboard.csv'}: no trial finished with a checkpoint; nothing to pick from")
    candidates = {str(tid): sweep.trial_config(str(tid)) for tid in ranked["trial_id"]}
    seeds = [cfg.search.seed + 1 + r for r in range(repeats)]
    data = sweep.data()
    quiet_tensorflow()
    if on_start:
        on_start(len(candidates), repeats, seeds)
    runs = _retrain_all(sweep, data, candidates, seeds, address, on_result)
    metric = cfg.search.metric
    table = _summarise(runs, ranked, metric, seeds)
    winner = table.iloc[0]
    if winner["n_ok"] == 0:
        raise HpsearchError(f"{sweep.path / PICK_DIR}: every retrain failed; see the trials' error.txt there")
    run = next(r for r in runs if r["trial_id"] == winner["trial_id"] and r["seed"] == winner["best_seed"])
    validation = {k: float(run[k]) for k in ("val_auroc", "val_accuracy", "val_loss")}
    validation["epoch"] = int(run["best_epoch"])
    extra = {"pick": {
        "top_k": int(len(table)),
        "repeats": repeats,
        "seeds": seeds,
        "mean": float(winner[f"mean_{metric}"]),
        "std": None if pd.isna(winner[f"std_{metric}"]) else float(winner[f"std_{metric}"]),
        "values": [float(v) for v in str(winner["values"]).split()],
        "sweep_rank": int(winner["sweep_rank"]),
    }}
    best_dir = sweep.path / BEST_DIR
    config = {**candidates[winner["trial_id"]], "seed": int(winner["best_seed"])}
    card = export_model(winner["checkpoint"], winner["trial_id"], config, validation, data, metric, best_dir,
                        settings=cfg.export, extra=extra)
    write_leaderboard(table, sweep.path / PICK_FILE)  # atomic csv write
    from search.report import write_report

    write_report(sweep.path, data=data)
    return PickOutcome(table, card, best_dir, seeds, time.perf_counter() - started)
