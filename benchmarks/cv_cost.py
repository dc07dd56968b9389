"""What a cross-validated trial costs next to a holdout trial, same configurations, in ONE run.

    uv run python benchmarks/cv_cost.py [--configs N] [--epochs E] [--folds K] [--json FILE]

Samples N configurations from the default search space (Optuna, seeded; the
article's model first), then trains each one twice in this process with the
trial code itself (`trainable.trial.train.fit_and_report`, a pack of one, one TensorFlow thread):
once on one validation split (`search.cv.folds: 0`) and once as a K-fold
trial (K fold-models trained together, validated out of fold). The order of
the two alternates from one configuration to the next, so neither always
runs warm. Each trial's `train_seconds` (its whole training time: model
build, tracing, every epoch and its validation, all folds included) is
compared; prints a table and the median ratio, and writes JSON with the
per-configuration numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample_configs(n: int, seed: int) -> list[dict]:
    import optuna

    from search.config.load import load_config
    from search.config.space import define_by_run, seed_point

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_config().space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    study.enqueue_trial(seed_point(space))
    configs = []
    for _ in range(n):
        trial = study.ask()
        define_by_run(space)(trial)
        configs.append(dict(trial.params))
        study.tell(trial, 0.0)
    return configs


def train_seconds(hp: dict, data, epochs: int) -> float:
    from trainable.trial.settings import TrialSettings
    from trainable.trial.train import fit_and_report, pack_config

    settings = TrialSettings(
        max_epochs=epochs,
        metric="val_loss",
        seed=0,
        cpus=1,
        class_weight=None,
        checkpoint_epochs=(epochs,),
        operating_point=None,
        rungs=None,
    )
    return float(fit_and_report(pack_config([hp]), settings, data, lambda metrics, checkpoint: None)["train_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from search.config.load import load_config
    from trainable.runtime.tf import configure_tensorflow

    configure_tensorflow(1)
    data = {
        "holdout": load_config(None, {"search.cv.folds": 0}).load_data(),
        "cv": load_config(None, {"search.cv.folds": args.folds}).load_data(),
    }
    rows = []
    for i, hp in enumerate(sample_configs(args.configs, args.seed)):
        order = ("holdout", "cv") if i % 2 == 0 else ("cv", "holdout")
        seconds = {mode: train_seconds(hp, data[mode], args.epochs) for mode in order}
        widths = "-".join(str(hp[f"units_{j}"]) for j in range(hp["n_layers"]))
        rows.append(
            {"units": widths, "batch_size": hp["batch_size"], **seconds, "ratio": seconds["cv"] / seconds["holdout"]}
        )
    result = {
        "configs": len(rows),
        "epochs": args.epochs,
        "folds": args.folds,
        "holdout_rows": int(len(data["holdout"].y_train)),
        "cv_rows": int(len(data["cv"].y_train)),
        "median_holdout_s": round(statistics.median(r["holdout"] for r in rows), 3),
        "median_cv_s": round(statistics.median(r["cv"] for r in rows), 3),
        "median_ratio": round(statistics.median(r["ratio"] for r in rows), 3),
        "max_ratio": round(max(r["ratio"] for r in rows), 3),
        "per_config": rows,
    }
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{args.folds}-fold trial vs holdout trial, train_seconds, {args.epochs} epochs, built-in table"
    )
    for column in ("units", "batch", "holdout s", f"{args.folds}-fold s", "ratio"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["units"], str(r["batch_size"]), f"{r['holdout']:.2f}", f"{r['cv']:.2f}", f"{r['ratio']:.2f}")
    Console().print(table)
    print({k: v for k, v in result.items() if k != "per_config"})
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
