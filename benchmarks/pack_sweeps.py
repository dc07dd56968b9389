"""Whole sweeps with `search.pack: auto` against `search.pack: 1`, side by side, in ONE run.

    uv run python benchmarks/pack_sweeps.py [--scenario default|t300|big ...] [--rounds 2] [--json FILE]

Each scenario runs `hpsearch run` as its own command (Python, TensorFlow
import and Ray start included) twice per round, `pack: 1` and `pack: auto`,
the order alternating between rounds. Scenarios:
- `default`: the default sweep (32 trials, 5-fold CV on the built-in table,
  ASHA early stopping);
- `t300`: 300 trials x 1 epoch, one validation split, TPE;
- `big`: a 100,000-row numeric table, 4 trials x 2 epochs, one validation split.
Per run it reads the sweep's own files: the command's wall seconds, the fit's
(`timings.json`: first trial to last), the configurations in the leaderboard
and whether each is there exactly once, the configuration-epochs trained (the
sum of `epochs`: what early stopping saves), and the best validation value.
Prints medians per scenario and pack, and the ratio auto / 1 (below 1:
packing is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _big_table(folder: Path, rows: int = 100_000, features: int = 20) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    logit = X[:, :5] @ rng.normal(size=5) + 0.5 * X[:, 5] * X[:, 6]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    path = folder / "big.npy"
    np.save(path, np.column_stack([X, y]))
    return str(path)


def scenarios(folder: Path) -> dict[str, dict]:
    return {
        "default": {},
        "t300": {"search": {"trials": 300, "cv": {"folds": 0}}, "train": {"max_epochs": 1}},
        "big": {
            "data": {"source": _big_table(folder)},
            "search": {"trials": 4, "cv": {"folds": 0}},
            "train": {"max_epochs": 2},
        },
    }


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run_once(name: str, config: dict, pack: str, folder: Path) -> dict:
    import pandas as pd

    cfg = _merge(config, {"search": {"pack": pack if pack == "auto" else int(pack)}, "results_dir": str(folder)})
    path = folder / f"{name}-{pack}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    sweep = f"{name}-{pack}"
    args = [sys.executable, "-m", "search.cli.app", "run", str(path), "--name", sweep, "--overwrite"]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{name} pack={pack} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = folder / sweep
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str, "pack": str})
    timings = json.loads((out / "timings.json").read_text())
    metric = yaml.safe_load((out / "config.yaml").read_text())["search"]["metric"]
    values = pd.to_numeric(board[metric], errors="coerce").dropna()
    best = float(values.min() if metric == "val_loss" else values.max())
    return {
        "wall_s": round(wall, 2),
        "fit_s": round(timings["fit_end"] - timings["fit_start"], 2),
        "configurations": len(board),
        "unique": bool(board["trial_id"].is_unique),
        "packs": int(board["pack"].nunique()),
        "config_epochs": int(board["epochs"].sum()),
        "stopped": int((board["status"] == "stopped").sum()),
        "metric": metric,
        "best": round(best, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=["default", "t300", "big"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="hpsearch-packsweeps-") as tmp:
        folder = Path(tmp)
        known = scenarios(folder)
        for name in args.scenario or ["default", "t300", "big"]:
            results[name] = {"1": [], "auto": []}
            for r in range(args.rounds):
                for pack in ("1", "auto") if r % 2 == 0 else ("auto", "1"):
                    run = run_once(name, known[name], pack, folder)
                    results[name][pack].append(run)
                    print(name, f"pack={pack}", json.dumps(run), flush=True)
    summary = {}
    head = ("scenario", "pack", "wall s", "fit s", "configs", "packs", "cfg-epochs", "best")
    print("\n" + " ".join(f"{h:<9}" if i < 2 else f"{h:>10}" for i, h in enumerate(head)))
    for name, by_pack in results.items():
        med = {
            p: {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "fit_s", "config_epochs", "best")}
            for p, runs in by_pack.items()
        }
        for pack, runs in by_pack.items():
            m = med[pack]
            print(
                f"{name:<9} {pack:<5} {m['wall_s']:>8.1f} {m['fit_s']:>8.1f} {runs[0]['configurations']:>8} "
                f"{runs[0]['packs']:>6} {m['config_epochs']:>10.0f} {m['best']:>8.4f}"
            )
        ratio = {k: round(med["auto"][k] / med["1"][k], 2) for k in ("wall_s", "fit_s")}
        print(f"{name:<9} auto/1: wall {ratio['wall_s']:.2f}x, fit {ratio['fit_s']:.2f}x")
        summary[name] = {"runs": by_pack, "median": med, "auto_over_1": ratio}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
