"""Parallel efficiency of an hpsearch sweep against the bare Keras loop, in ONE run.

    uv run python benchmarks/efficiency.py [--trials N] [--epochs E] [--json FILE]

1. Samples N configurations from the default search space once (Optuna, seeded).
2. (a) Bare loop: trains them one after another in this process with the same
   trainable code (`trainable.trial.train.fit_and_report`), one TensorFlow thread,
   and records each trial's seconds (model build + fit + per-epoch validation).
3. (b) hpsearch: runs `hpsearch run` as a separate command on the same
   configurations (enqueued in order, no early stopping, no seed trial) with
   concurrency = CPUs, and reads the timings it leaves behind.
4. (c) The machine's ceiling: `concurrency` bare loops side by side, each a
   fresh process (Python, TensorFlow import, data) training every
   concurrency-th configuration. No scheduler can beat this with the same
   processes and code; its efficiency is what the cores allow.

Prints a table and writes JSON with:
- `efficiency` = sum(bare trial s) / (concurrency x sweep wall s, Ray start excluded)
- `end_to_end_efficiency` = the same with the whole command's wall time
- `startup_s`: command start -> first trial running (its function entered)
- `first_epoch_s`: command start -> first epoch finished (TensorFlow imported
  in the worker, model built and traced)
- `after_sweep_s`: final leaderboard, validation intervals, export and report
- `per_trial_overhead_s` = (concurrency x sweep wall - sum(bare)) / N, and
  `per_trial_overhead_sweep_s` the same with the sweep's own trial seconds
  (`train_seconds`, which include the contention of trials side by side)
- `between_trials_s`: mean seconds from a trial's last report to the next
  trial entering the same worker (Tune, Optuna, the actor's reset)
- `peak_rss_mb_per_worker`, `rss_growth_pct` (a worker's RSS after its last
  trial vs after its first; reused workers run many trials)
- `side_by_side_wall_s`, `ceiling_efficiency` = sum(bare trial s) /
  (concurrency x side_by_side_wall_s), and `contention` = per-trial seconds of
  the side-by-side loops / the same trials alone (memory, caches: the cost of
  running two trials at once on this machine)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample_configs(n: int, seed: int) -> list[dict]:
    import optuna

    from search.config.load import load_config
    from search.config.space import define_by_run

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = define_by_run(load_config().space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        space(trial)
        configs.append(dict(trial.params))
        study.tell(trial, 0.0)
    return configs


def bare_loop(configs: list[dict], epochs: int) -> list[float]:
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from search.config.load import load_config
    from trainable.runtime.tf import configure_tensorflow
    from trainable.trial.settings import TrialSettings
    from trainable.trial.train import fit_and_report

    configure_tensorflow(1)
    data = load_config(None, {"search.cv.folds": 0}).load_data()  # one validation split, as the sweep below
    settings = TrialSettings(
        max_epochs=epochs,
        metric="val_auroc",
        seed=0,
        cpus=1,
        class_weight=None,
        checkpoint_epochs=None,
        operating_point=None,
    )
    seconds = []
    for hp in configs:
        start = time.perf_counter()
        fit_and_report(hp, settings, data, lambda metrics, ckpt: None)
        seconds.append(time.perf_counter() - start)
    return seconds


def side_by_side(n: int, epochs: int, seed: int, concurrency: int) -> dict:
    """(c): `concurrency` bare-loop processes at once; wall time and their trial seconds."""
    start = time.time()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--trials",
                str(n),
                "--epochs",
                str(epochs),
                "--seed",
                str(seed),
                "--bare-part",
                f"{k}/{concurrency}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for k in range(concurrency)
    ]
    seconds: dict[int, float] = {}
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"side-by-side bare loop failed ({proc.returncode})")
        seconds.update({int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()})
    return {"wall": time.time() - start, "seconds": seconds}


def hpsearch_sweep(configs: list[dict], epochs: int, workdir: Path) -> dict:
    cfg = {
        "name": "efficiency",
        "results_dir": str(workdir),
        "search": {
            "trials": len(configs),
            "seed_trial": False,
            "enqueue": configs,
            "early_stopping": {"enabled": False},
            "cv": {"folds": 0},  # one validation split, as the bare loop
        },
        "train": {"max_epochs": epochs},
    }
    path = workdir / "efficiency.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ}
    env.pop("RAY_ADDRESS", None)
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "search.cli", "run", str(path), "--overwrite"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    end = time.time()
    if proc.returncode != 0:
        sys.exit(f"hpsearch run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    from search.records.paths import TIMINGS_FILE, TUNE_DIR, TUNE_RESULT_FILE, trial_dirname

    out = workdir / "efficiency"
    timings = json.loads((out / TIMINGS_FILE).read_text())
    trials = []
    for trial_dir in sorted((out / TUNE_DIR).glob(trial_dirname("*"))):
        lines = [json.loads(line) for line in (trial_dir / TUNE_RESULT_FILE).read_text().splitlines() if line.strip()]
        if lines:
            trials.append(lines)
    return {"start": start, "end": end, "timings": timings, "trials": trials}


def summarise(bare: list[float], sweep: dict, concurrency: int, side: dict) -> dict:
    t = sweep["timings"]
    trials = sweep["trials"]
    first_running = min(lines[0]["entered_at"] for lines in trials)
    first_epoch = min(lines[0]["started_at"] + lines[0]["train_seconds"] for lines in trials)
    sweep_wall = t["fit_end"] - t["ray_ready"]
    e2e_wall = sweep["end"] - sweep["start"]
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for lines in trials:
        last = lines[-1]
        by_pid.setdefault(last["pid"], []).append((last["started_at"], last["rss_mb"]))
    growth = []
    for runs in by_pid.values():
        runs.sort()
        if len(runs) >= 2:
            growth.append(100.0 * (runs[-1][1] - runs[0][1]) / runs[0][1])
    total_bare = sum(bare)
    swept = sum(lines[-1]["train_seconds"] for lines in trials)
    gaps = []
    for pid in by_pid:
        runs = sorted((lines[0]["entered_at"], lines[-1]["reported_at"]) for lines in trials if lines[-1]["pid"] == pid)
        gaps += [b[0] - a[1] for a, b in zip(runs, runs[1:])]
    return {
        "trials": len(bare),
        "concurrency": concurrency,
        "bare_total_s": round(total_bare, 2),
        "bare_median_trial_s": round(statistics.median(bare), 3),
        "ideal_s": round(total_bare / concurrency, 2),
        "sweep_wall_s": round(sweep_wall, 2),
        "end_to_end_wall_s": round(e2e_wall, 2),
        "ray_start_s": round(t["ray_ready"] - t["ray_init_start"], 2),
        "startup_s": round(first_running - sweep["start"], 2),
        "first_epoch_s": round(first_epoch - sweep["start"], 2),
        "after_sweep_s": round(t["finish_end"] - t["fit_end"], 2),
        "efficiency": round(total_bare / (concurrency * sweep_wall), 3),
        "end_to_end_efficiency": round(total_bare / (concurrency * e2e_wall), 3),
        "per_trial_overhead_s": round((concurrency * sweep_wall - total_bare) / len(bare), 3),
        "per_trial_overhead_sweep_s": round((concurrency * sweep_wall - swept) / len(trials), 3),
        "between_trials_s": round(statistics.mean(gaps), 3) if gaps else None,
        "workers": len(by_pid),
        "peak_rss_mb_per_worker": round(max(r for runs in by_pid.values() for _, r in runs), 1),
        "rss_growth_pct": round(max(growth), 2) if growth else None,
        "sweep_median_trial_s": round(statistics.median(lines[-1]["train_seconds"] for lines in trials), 3),
        "side_by_side_wall_s": round(side["wall"], 2),
        "ceiling_efficiency": round(total_bare / (concurrency * side["wall"]), 3),
        "contention": round(sum(side["seconds"].values()) / total_bare, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--bare-part", default=None, help=argparse.SUPPRESS)  # K/N: one loop of (c)
    args = parser.parse_args()
    concurrency = os.cpu_count() or 1
    configs = sample_configs(args.trials, args.seed)
    if args.bare_part:
        k, n = (int(x) for x in args.bare_part.split("/"))
        mine = list(range(k, len(configs), n))
        print(json.dumps(dict(zip(mine, bare_loop([configs[i] for i in mine], args.epochs)))))
        return
    with tempfile.TemporaryDirectory(prefix="hpsearch-bench-") as tmp:
        sweep = hpsearch_sweep(configs, args.epochs, Path(tmp))
        side = side_by_side(args.trials, args.epochs, args.seed, concurrency)
        bare = bare_loop(configs, args.epochs)
        result = summarise(bare, sweep, concurrency, side)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hpsearch efficiency: {args.trials} trials x {args.epochs} epochs, {concurrency} CPUs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
