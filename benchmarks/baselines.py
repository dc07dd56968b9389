"""What tuning the baselines costs: the config's grid against one setting, on the same rows, in ONE run.

    uv run python benchmarks/baselines.py [--sizes 100000,300000] [--repeats R] [--threads T] [--json FILE]

For the built-in table (the default config: 5-fold cross-validation at its
size) and a seeded synthetic table of each size (20 numeric features, a
binary label with a linear signal and one interaction; one validation split;
training rows above `export.baseline_max_rows` are sampled, as in a sweep),
fits the default baselines with `trainable.stats.baselines.fit_baselines`:
- `tuned`: over `export.baseline_grid` (the default);
- `one setting`: a grid of one point, logistic regression at C = 1 and
  gradient boosting at scikit-learn's learning rate 0.1 and 31 leaves (with
  the same early stopping), i.e. what an untuned baseline costs.
Both alternate which runs first from one repeat to the next. Gradient
boosting runs on `--threads` OpenMP threads (default 1: how the sweep fits
the baselines on the slot its last trials leave idle). Prints wall seconds
(median of the repeats), each model's chosen setting and the validation loss
of the tuned and the one-setting baseline; `--json FILE` writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONE_SETTING = {
    "logistic_regression": {"C": [1.0]},
    "gradient_boosting": {"learning_rate": [0.1], "max_leaf_nodes": [31]},
}


def synthetic(rows: int, path: Path, features: int = 20) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    logit = X[:, :5] @ rng.normal(size=5) + 0.5 * X[:, 5] * X[:, 6]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    np.save(path, np.column_stack([X, y]))
    return str(path)


def fit(cfg: Any, data: Any, grids: dict, threads: int) -> tuple[float, dict]:
    from trainable.stats.baselines import fit_baselines

    export = cfg.export
    start = time.perf_counter()
    out = fit_baselines(
        data, export.baselines, cfg.train.class_weight, export.seed, export.baseline_max_rows, grids, threads
    )
    return time.perf_counter() - start, out


def run_table(name: str, source: str | None, repeats: int, threads: int) -> dict[str, Any]:
    from search.config.load import load_config
    from trainable.stats.metrics import score

    cfg = load_config(None, {} if source is None else {"data.source": source})
    data = cfg.load_data()
    grids = {"tuned": cfg.export.baseline_grid.model_dump(), "one setting": ONE_SETTING}
    walls: dict[str, list[float]] = {kind: [] for kind in grids}
    fitted: dict[str, dict] = {}
    for repeat in range(repeats):
        for kind in list(grids)[:: 1 if repeat % 2 == 0 else -1]:
            seconds, fitted[kind] = fit(cfg, data, grids[kind], threads)
            walls[kind].append(seconds)
    row = {
        "table": name,
        "folds": data.n_folds,
        "training rows": len(data.y_train),
        "fit rows": next(iter(fitted["tuned"].values())).fit_rows,
        **{f"{kind} s": round(statistics.median(w), 2) for kind, w in walls.items()},
    }
    for model, tuned in fitted["tuned"].items():
        row[f"{model} chosen"] = tuned.chosen
        for kind in grids:
            row[f"{model} val loss ({kind})"] = round(score(data.y_val, fitted[kind][model].validation)["loss"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,300000", help="rows of the synthetic tables")
    parser.add_argument("--repeats", type=int, default=3, help="repeats on the built-in table (1 on synthetic)")
    parser.add_argument("--threads", type=int, default=1, help="gradient boosting's OpenMP threads")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [run_table("built-in", None, args.repeats, args.threads)]
    print(json.dumps(rows[-1]), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",") if s):
            source = synthetic(size, Path(folder) / f"synthetic{size}.npy")
            rows.append(run_table(f"synthetic {size:,}", source, 1, args.threads))
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
