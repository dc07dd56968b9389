"""Parallel efficiency of an hpsearch sweep against the bare Keras loop, in ONE run.

    uv run python benchmarks/efficiency.py [--trials N] [--epochs E] [--pack auto|P] [--json FILE]

1. Samples N configurations from the default search space once (Optuna, seeded).
2. (b) hpsearch: runs `hpsearch run` as a separate command on those
   configurations (enqueued, no early stopping, no seed trial) with
   concurrency = CPUs and `search.pack` = `--pack` (default auto: several
   configurations per Ray Tune trial, `search.sweep.packing`), and reads the
   timings it leaves behind. A pack takes the enqueued configurations of its
   batch size and samples the rest, so the configurations it trained are read
   back from its trials' `params.json`: (a) and (c) train exactly those.
3. (a) Bare loop: trains them one after another in this process with the same
   trainable code (`trainable.trial.train.fit_and_report`, each a pack of
   one), one TensorFlow thread, and records each configuration's seconds
   (model build + fit + per-epoch validation).
4. (c) The machine's ceiling without packing: `concurrency` bare loops side
   by side, each a fresh process (Python, TensorFlow import, data) training
   every concurrency-th configuration. No scheduler training one
   configuration at a time can beat this with the same processes and code;
   its efficiency is what the cores allow. A packed sweep can: its
   efficiency may exceed 1.

Prints a table and writes JSON with (a "trial" is one configuration, a
"pack" one Ray Tune trial training `pack_sizes` configurations):
- `configs_per_s`: configurations per second of the sweep (Ray start
  excluded), `end_to_end_configs_per_s` the same over the whole command, and
  `ceiling_configs_per_s` that of (c)
- `efficiency` = sum(bare trial s) / (concurrency x sweep wall s, Ray start excluded)
- `end_to_end_efficiency` = the same with the whole command's wall time
- `startup_s`: command start -> first trial running (its function entered)
- `first_epoch_s`: command start -> first epoch finished (TensorFlow imported
  in the worker, model built and traced)
- `after_sweep_s`: final leaderboard, validation intervals, export and report
- `per_trial_overhead_s` = (concurrency x sweep wall - sum(bare)) / N, and
  `per_trial_overhead_sweep_s` the same with the sweep's own pack seconds
  (`train_seconds`, which include the contention of packs side by side);
  negative when packing saves more than the sweep costs
- `sweep_median_trial_s`: the median over configurations of their pack's
  seconds / its size
- `between_trials_s`: mean seconds from a pack's last report to the next
  pack entering the same worker (Tune, Optuna, the actor's reset)
- `peak_rss_mb_per_worker`, `rss_growth_pct` (a worker's RSS after its last
  pack vs after its first; reused workers run many packs)
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
    from trainable.trial.train import fit_and_report, pack_config

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
        rungs=None,
    )
    seconds = []
    for hp in configs:
        start = time.perf_counter()
        fit_and_report(pack_config([hp]), settings, data, lambda metrics, ckpt: None)
        seconds.append(time.perf_counter() - start)
    return seconds


def side_by_side(configs_file: Path, n: int, epochs: int, concurrency: int) -> dict:
    """(c): `concurrency` bare-loop processes at once, on the configurations in `configs_file`; wall time and
    their trial seconds."""
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
                "--configs-file",
                str(configs_file),
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


def hpsearch_sweep(configs: list[dict], epochs: int, pack: str | int, workdir: Path) -> dict:
    cfg = {
        "name": "efficiency",
        "results_dir": str(workdir),
        "search": {
            "trials": len(configs),
            "seed_trial": False,
            "enqueue": configs,
            "early_stopping": {"enabled": False},
            "cv": {"folds": 0},  # one validation split, as the bare loop
            "pack": pack,
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
    from search.records.paths import TIMINGS_FILE, TUNE_DIR, TUNE_PARAMS_FILE, TUNE_RESULT_FILE, trial_dirname

    out = workdir / "efficiency"
    timings = json.loads((out / TIMINGS_FILE).read_text())
    trials, trained = [], []
    for trial_dir in sorted((out / TUNE_DIR).glob(trial_dirname("*"))):
        lines = [json.loads(line) for line in (trial_dir / TUNE_RESULT_FILE).read_text().splitlines() if line.strip()]
        if lines:
            trials.append(lines)
            params = json.loads((trial_dir / TUNE_PARAMS_FILE).read_text())
            trained += [dict(m["hp"]) for m in params["members"]]  # what the pack trained (`pack_config`)
    return {"start": start, "end": end, "timings": timings, "trials": trials, "configs": trained}


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
    sizes = [int(lines[-1].get("pack_size", 1)) for lines in trials]
    shares = [lines[-1]["train_seconds"] / size for lines, size in zip(trials, sizes) for _ in range(size)]
    gaps = []
    for pid in by_pid:
        runs = sorted((lines[0]["entered_at"], lines[-1]["reported_at"]) for lines in trials if lines[-1]["pid"] == pid)
        gaps += [b[0] - a[1] for a, b in zip(runs, runs[1:])]
    return {
        "trials": len(bare),
        "packs": len(trials),
        "pack_sizes": sorted(sizes, reverse=True),
        "concurrency": concurrency,
        "configs_per_s": round(len(bare) / sweep_wall, 3),
        "end_to_end_configs_per_s": round(len(bare) / e2e_wall, 3),
        "ceiling_configs_per_s": round(len(bare) / side["wall"], 3),
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
        "per_trial_overhead_sweep_s": round((concurrency * sweep_wall - swept) / len(bare), 3),
        "between_trials_s": round(statistics.mean(gaps), 3) if gaps else None,
        "workers": len(by_pid),
        "peak_rss_mb_per_worker": round(max(r for runs in by_pid.values() for _, r in runs), 1),
        "rss_growth_pct": round(max(growth), 2) if growth else None,
        "sweep_median_trial_s": round(statistics.median(shares), 3),
        "side_by_side_wall_s": round(side["wall"], 2),
        "ceiling_efficiency": round(total_bare / (concurrency * side["wall"]), 3),
        "contention": round(sum(side["seconds"].values()) / total_bare, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pack", default="auto", help="search.pack of the sweep: auto, or configurations per pack")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--bare-part", default=None, help=argparse.SUPPRESS)  # K/N: one loop of (c)
    parser.add_argument("--configs-file", type=Path, default=None, help=argparse.SUPPRESS)  # (c)'s configurations
    args = parser.parse_args()
    pack = args.pack if args.pack == "auto" else int(args.pack)
    concurrency = os.cpu_count() or 1
    if args.bare_part:
        configs = json.loads(args.configs_file.read_text())
        k, n = (int(x) for x in args.bare_part.split("/"))
        mine = list(range(k, len(configs), n))
        print(json.dumps(dict(zip(mine, bare_loop([configs[i] for i in mine], args.epochs)))))
        return
    with tempfile.TemporaryDirectory(prefix="hpsearch-bench-") as tmp:
        sweep = hpsearch_sweep(sample_configs(args.trials, args.seed), args.epochs, pack, Path(tmp))
        configs = sweep["configs"]  # what the sweep trained
        configs_file = Path(tmp) / "configs.json"
        configs_file.write_text(json.dumps(configs))
        side = side_by_side(configs_file, len(configs), args.epochs, concurrency)
        bare = bare_loop(configs, args.epochs)
        result = summarise(bare, sweep, concurrency, side)
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"hpsearch efficiency: {args.trials} trials x {args.epochs} epochs, {concurrency} CPUs, pack {args.pack}"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
