"""What packing saves: P configurations trained one after another vs together as one pack, in ONE run.

    uv run python benchmarks/pack.py [--quick] [--repeats R] [--tables T,..] [--sizes 1,2,4,8]
                                     [--batches 32,128] [--json FILE]

For every table, batch size b and pack size P, samples P configurations from
the default search space (Optuna's RandomSampler, seeded by the repeat; the
batch size fixed to b; the first P of the same 8, so a larger pack holds the
smaller ones) and trains them with the trial code itself
(`trainable.trial.train.fit_and_report`, one TensorFlow thread, the sweep's
trial settings without early stopping, reports discarded):
- (a) separate: one after another, each a pack of one
  (`fit_and_report(pack_config([hp]), ...)`), as `search.pack: 1` trains them;
- (b) packed: all P at once (`fit_and_report(pack_config(hps), ...)`).
(a) and (b) alternate which runs first, from one cell to the next and from
one repeat to the next, so load on the machine falls on both alike; each
table runs in a fresh process, warmed up by one untimed fit.

Tables (`--tables`, comma-separated):
- `bc`: the built-in table (`builtin:breast_cancer`), one validation split;
- `bc-cv`: the same with the default cross-validation (`search.cv.folds:
  auto`, 5 folds at its size);
- `bc-wide`: `bc` with every member 3 x 512 (the widest layers the default
  space allows);
- `synth<N>k` (e.g. `synth100k`): a seeded synthetic table of N thousand rows,
  20 numeric features and a binary label (a `.npy` matrix, label last, read
  through the project's loader), one validation split; `-wide` appended:
  every member 3 x 512.
The built-in table trains `--epochs` epochs (default 20, the config's
`train.max_epochs`), synthetic ones `--large-epochs` (default 2).

Prints, per table, batch and P, medians over the repeats: wall seconds of
(a) and (b), `wall ratio` = (a) / (b) (the median of the repeats' ratios: the
configurations per second packing gains; P = 1 measures noise), `CPU ratio`
the same with the process's CPU seconds (`time.process_time`), and where the
time goes: the first epoch (model build, tracing, first validation) and a
later epoch (per epoch), each summed over (a)'s fits vs (b)'s one. `--json
FILE` writes every cell of every repeat and the medians.
`--quick`: 1 repeat, P = 1, 2, 8, 10 epochs on the built-in table, a 50k-row
synthetic table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUILTIN = "builtin:breast_cancer"
WIDE = {"n_layers": 3, "units_0": 512, "units_1": 512, "units_2": 512}
MOST = 8  # configurations sampled per repeat and batch size; pack sizes take the first P


def parse_table(name: str) -> dict[str, Any]:
    """`bc`, `bc-cv`, `bc-wide`, `synth100k`, `synth100k-wide` -> what to load and train."""
    match = re.fullmatch(r"(bc|synth(\d+)k)(-cv)?(-wide)?", name)
    if not match:
        raise SystemExit(f"--tables: unknown table {name!r} (bc, bc-cv, bc-wide, synth<N>k, synth<N>k-wide)")
    return {
        "name": name,
        "rows": None if match.group(2) is None else int(match.group(2)) * 1000,
        "cv": bool(match.group(3)),
        "wide": bool(match.group(4)),
    }


def synthetic(rows: int, path: Path, features: int = 20, seed: int = 0) -> None:
    """A numeric table (float32) whose last column is a binary label with a modest linear signal."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    logit = X[:, :5] @ np.array([0.8, -0.6, 0.5, 0.4, -0.3]) - 0.5
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    np.save(path, np.column_stack([X, y]))


def sample_configs(n: int, seed: int, batch: int, wide: bool) -> list[dict]:
    """`efficiency.sample_configs` (the default space, randomly), at one batch size; `wide`: every layer `WIDE`."""
    from efficiency import sample_configs as sampled  # benchmarks/ is on sys.path when a benchmark runs

    configs = [{**hp, "batch_size": batch} for hp in sampled(n, seed)]
    if wide:
        configs = [{k: v for k, v in hp.items() if not k.startswith("units_")} | WIDE for hp in configs]
    return configs


class Clock:
    """`fit_and_report`'s report: when each epoch ended."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.ends: list[float] = []

    def __call__(self, metrics: dict, checkpoint: str | None) -> None:
        self.ends.append(time.perf_counter())

    def first(self) -> float:
        return self.ends[0] - self.start

    def later(self) -> float:
        """Seconds per epoch after the first (NaN with one epoch)."""
        return (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1) if len(self.ends) > 1 else float("nan")


def fit(configs: list[dict], settings: Any, data: Any) -> dict[str, float]:
    """Train `configs` as one pack: wall and CPU seconds, first epoch and a later epoch's seconds."""
    from trainable.trial.train import fit_and_report, pack_config

    clock = Clock()
    wall, cpu = time.perf_counter(), time.process_time()
    fit_and_report(pack_config(configs), settings, data, clock)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "first": clock.first(),
        "later": clock.later(),
    }


def separate(configs: list[dict], settings: Any, data: Any) -> dict[str, float]:
    """Train `configs` one after another, each a pack of one: the sums."""
    runs = [fit([hp], settings, data) for hp in configs]
    return {key: sum(run[key] for run in runs) for key in runs[0]}


def run_table(table: dict[str, Any], args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """Every cell of one table, every repeat (in this process: the child's work)."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from trainable.runtime.tf import configure_tensorflow

    configure_tensorflow(1)  # before Keras is imported
    from search.config.load import load_config
    from search.sweep.tuner import trial_settings

    if table["rows"] is None:
        source, epochs = BUILTIN, args.epochs
    else:
        source, epochs = str(workdir / f"synthetic{table['rows']}.npy"), args.large_epochs
        synthetic(table["rows"], Path(source))
    cfg = load_config(
        None,
        {
            "data.source": source,
            "search.cv.folds": "auto" if table["cv"] else 0,
            "train.max_epochs": epochs,
            "train.cpus_per_trial": 1,
            "search.early_stopping.enabled": False,
        },
    )
    data = cfg.load_data().without_test()  # what a trial gets
    settings = trial_settings(cfg)  # the sweep's, without early stopping (no referee)
    rows, folds = int(len(data.y_train)), int(data.n_folds)
    fit(sample_configs(1, 10_000, 128, table["wide"]), settings, data)  # warm-up: imports, first traces
    cells = []
    for repeat in range(args.repeats):
        for b, batch in enumerate(args.batches):
            configs = sample_configs(MOST, args.seed + repeat, batch, table["wide"])
            for p, size in enumerate(args.sizes):
                mine = configs[:size]
                packed_first = (repeat + b + p) % 2 == 1
                if packed_first:
                    packed = fit(mine, settings, data)
                alone = separate(mine, settings, data)
                if not packed_first:
                    packed = fit(mine, settings, data)
                cell = {
                    "table": table["name"],
                    "rows": rows,
                    "folds": folds,
                    "epochs": epochs,
                    "batch": batch,
                    "P": size,
                    "repeat": repeat,
                    "order": "packed first" if packed_first else "separate first",
                    **{f"separate_{k}": round(v, 4) for k, v in alone.items()},
                    **{f"packed_{k}": round(v, 4) for k, v in packed.items()},
                }
                cells.append(cell)
                print(json.dumps(cell), file=sys.stderr, flush=True)  # progress
    return cells


def summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians over the repeats, per table, batch and P."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["table"], cell["batch"], cell["P"]), []).append(cell)
    out = []
    for (table, batch, size), group in groups.items():

        def median(key: str, group: list[dict[str, Any]] = group) -> float:
            return round(statistics.median(c[key] for c in group), 3)

        def ratio(key: str, group: list[dict[str, Any]] = group) -> float:
            return round(statistics.median(c[f"separate_{key}"] / c[f"packed_{key}"] for c in group), 3)

        out.append(
            {
                "table": table,
                "rows": group[0]["rows"],
                "folds": group[0]["folds"],
                "epochs": group[0]["epochs"],
                "batch": batch,
                "P": size,
                "repeats": len(group),
                "separate_wall_s": median("separate_wall"),
                "packed_wall_s": median("packed_wall"),
                "wall_ratio": ratio("wall"),
                "wall_ratio_range": [
                    round(min(c["separate_wall"] / c["packed_wall"] for c in group), 3),
                    round(max(c["separate_wall"] / c["packed_wall"] for c in group), 3),
                ],
                "separate_cpu_s": median("separate_cpu"),
                "packed_cpu_s": median("packed_cpu"),
                "cpu_ratio": ratio("cpu"),
                "separate_first_epoch_s": median("separate_first"),
                "packed_first_epoch_s": median("packed_first"),
                "separate_later_epoch_s": median("separate_later"),
                "packed_later_epoch_s": median("packed_later"),
            }
        )
    return out


def print_table(summary: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns = (
        "table",
        "train rows",
        "epochs",
        "batch",
        "P",
        "separate wall s",
        "packed wall s",
        "wall ratio",
        "(min-max)",
        "CPU ratio",
        "1st epoch s sep/packed",
        "later epoch s sep/packed",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "table" else "right")
    for r in summary:
        folds = f" ({r['folds']}-fold)" if r["folds"] else ""
        table.add_row(
            f"{r['table']}{folds}",
            str(r["rows"]),
            str(r["epochs"]),
            str(r["batch"]),
            str(r["P"]),
            f"{r['separate_wall_s']:.2f}",
            f"{r['packed_wall_s']:.2f}",
            f"{r['wall_ratio']:.2f}",
            f"{r['wall_ratio_range'][0]:.2f}-{r['wall_ratio_range'][1]:.2f}",
            f"{r['cpu_ratio']:.2f}",
            f"{r['separate_first_epoch_s']:.2f} / {r['packed_first_epoch_s']:.2f}",
            f"{r['separate_later_epoch_s']:.3f} / {r['packed_later_epoch_s']:.3f}",
        )
    Console(width=200).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="bc,bc-cv,bc-wide,synth100k")
    parser.add_argument("--sizes", default="1,2,4,8", help="pack sizes P (at most 8)")
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20, help="epochs on the built-in table")
    parser.add_argument("--large-epochs", type=int, default=2, help="epochs on synthetic tables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 repeat, P = 1,2,8, 10 epochs, synth50k")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # one table, in a child process
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.sizes, args.epochs = 1, "1,2,8", 10
        args.tables = args.tables.replace("synth100k", "synth50k")
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.batches = [int(x) for x in args.batches.split(",")]
    if max(args.sizes) > MOST:
        raise SystemExit(f"--sizes: at most {MOST}")
    if args.only:
        with tempfile.TemporaryDirectory(prefix="hpsearch-pack-") as tmp:
            print(json.dumps(run_table(parse_table(args.only), args, Path(tmp))))
        return
    tables = [parse_table(name) for name in args.tables.split(",")]
    cells: list[dict[str, Any]] = []
    started = time.perf_counter()
    for table in tables:  # one fresh process per table
        child = [sys.executable, __file__, "--only", table["name"], *sys.argv[1:]]
        proc = subprocess.run(child, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"{table['name']} failed ({proc.returncode})")
        cells += json.loads(proc.stdout.strip().splitlines()[-1])
    summary = summarise(cells)
    title = (
        f"separate fits / one pack: {args.repeats} repeat(s), medians, 1 TensorFlow thread, "
        f"{os.cpu_count()} CPUs, {time.perf_counter() - started:.0f} s"
    )
    print_table(summary, title)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "cells": cells}, indent=2) + "\n")


if __name__ == "__main__":
    main()
