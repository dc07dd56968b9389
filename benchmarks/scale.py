"""How hpsearch's cost grows with rows: a seeded synthetic clinical table at several sizes, one `hpsearch run` each.

    uv run python benchmarks/scale.py [--sizes 10000,100000,1000000] [--json FILE]

For each size, writes a table of 40 numeric and 5 categorical columns and a
binary `outcome` (about 37% positive, a real but modest signal; seed 0) as
Parquet, then runs `hpsearch run --data TABLE --target outcome` as a command
(4 trials x 2 epochs below a million rows, 2 x 1 from a million; one
validation split, as `auto` chooses at these sizes; `search.pack: auto`, so
a Ray Tune trial may train several configurations) and prints, from the
`timings.json` and `leaderboard.csv` it leaves:
- the phases: load (the command's start to Ray's start: reading, checking and
  splitting the table), Ray start, sweep, intervals (leaderboard, validation
  intervals and ties), export (the one test scoring, baselines included) and
  report;
- after-sweep work as a share of the sweep;
- the peak RSS of the driver and of the largest trial worker (VmHWM);
- the trials' median training seconds (a configuration's share of its
  pack's epochs), the number of packs (Ray Tune trials) they ran in, and
  whether every trial (configuration) completed with a distinct id.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_table(rows: int, path: Path, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 40)).astype(np.float32)
    cats = {f"c{i}": rng.choice([f"v{j}" for j in range(3 + 2 * i)], rows) for i in range(5)}
    logit = X[:, :5] @ np.array([0.8, -0.6, 0.5, 0.4, -0.3]) + (cats["c0"] == "v1") * 0.7 - 0.9
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    pd.DataFrame(X, columns=[f"x{i}" for i in range(40)]).assign(**cats, outcome=y).to_parquet(path)


def run(rows: int, workdir: Path) -> dict:
    import pandas as pd

    from search.records.paths import LEADERBOARD_FILE, TIMINGS_FILE, TUNE_DIR, TUNE_RESULT_FILE

    table = workdir / f"table{rows}.parquet"
    make_table(rows, table)
    trials, epochs = (4, 2) if rows < 1_000_000 else (2, 1)
    name = f"scale{rows}"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    started = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "search.cli",
            "run",
            "--data",
            str(table),
            "--target",
            "outcome",
            "--name",
            name,
            "--trials",
            str(trials),
            "--max-epochs",
            str(epochs),
            "--results-dir",
            str(workdir),
            "--overwrite",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.time() - started
    if proc.returncode != 0:
        sys.exit(f"hpsearch run failed on {rows} rows ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = workdir / name
    t = json.loads((out / TIMINGS_FILE).read_text())
    board = pd.read_csv(out / LEADERBOARD_FILE, dtype={"trial_id": str, "pack": str})
    workers = []
    for trial in (out / TUNE_DIR).glob("trial_*"):
        lines = [json.loads(x) for x in (trial / TUNE_RESULT_FILE).read_text().splitlines() if x.strip()]
        workers += [r.get("peak_rss_mb", 0.0) for r in lines]
    sweep = t["fit_end"] - t["fit_start"]
    after = t["finish_end"] - t["fit_end"]
    return {
        "rows": rows,
        "trials": trials,
        "epochs": epochs,
        "wall_s": round(wall, 1),
        "load_s": round(t["ray_init_start"] - t["command_start"], 1),
        "ray_start_s": round(t["ray_ready"] - t["ray_init_start"], 1),
        "sweep_s": round(sweep, 1),
        "intervals_s": round(t["intervals_end"] - t["fit_end"], 1),
        "export_s": round(t["export_end"] - t["intervals_end"], 1),
        "report_s": round(t["finish_end"] - t["export_end"], 1),
        "after_sweep_share": round(after / sweep, 3),
        "driver_peak_rss_mb": round(t.get("driver_peak_rss_mb", 0.0)),
        "worker_peak_rss_mb": round(max(workers, default=0.0)),
        "median_trial_train_s": round(statistics.median(board["train_seconds"].astype(float)), 1),
        "packs": int(board["pack"].nunique()) if "pack" in board else len(board),
        "all_completed_once": bool(
            (board["status"] == "completed").all() and len(board) == trials and board["trial_id"].nunique() == trials
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpsearch-scale-") as tmp:
        results = [run(int(size), Path(tmp)) for size in args.sizes.split(",")]
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hpsearch at scale: seconds per phase, peak RSS (MB)")
    for key in results[0]:
        table.add_column(key.replace("_", " "), justify="right")
    for r in results:
        table.add_row(*(str(v) for v in r.values()))
    Console(width=220).print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
