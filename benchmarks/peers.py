"""hpsearch beside its peers on the same budget, in ONE run.

    uv run --group bench python benchmarks/peers.py [--trials N] [--epochs E] [--pack auto|P] [--json FILE]

Same trials, epochs, data split (the built-in dataset, 70/15/15) and model
builder (`trainable.trial.model.build_model`) for every tool; each tool runs as its
own command, so wall time includes Python, TensorFlow import and (for
hpsearch) Ray start:
- KerasTuner `RandomSearch` (sequential, as KerasTuner runs on one machine),
- Optuna standalone, `n_jobs` = CPUs (threads in one process),
- hpsearch (`hpsearch run`, concurrency = CPUs, no early stopping, one
  validation split, `search.pack` = `--pack`: auto by default, which trains
  several configurations per Ray Tune trial; `--pack 1` trains one each).
Prints wall time, configurations per second (`configs_per_s` = trials / wall)
and best validation AUROC of each (AUROC by scikit-learn on the validation
split, the same code for all), and for hpsearch the number of packs (Ray Tune
trials) it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOOLS = ("keras_tuner", "optuna", "hpsearch")


def _setup(threads: int):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    from trainable.runtime.environment import import_keras

    keras = import_keras()
    from search.config.load import load_config

    return keras, load_config(None, {"search.cv.folds": 0}).load_data()  # one validation split, as the peers


def _val_auroc(model, data) -> float:
    import numpy as np

    from trainable.stats.metrics import score

    return score(data.y_val, np.asarray(model(data.X_val, training=False)))["auroc"]


def run_keras_tuner(trials: int, epochs: int, workdir: Path, pack: str) -> dict:
    keras, data = _setup(os.cpu_count() or 1)
    import keras_tuner as kt

    from search.config.load import load_config
    from search.config.space import seed_point
    from trainable.trial.model import build_model

    article = seed_point(load_config().space)  # what KerasTuner's space below does not sample

    def hypermodel(hp):
        n = hp.Int("n_layers", 1, 4)
        config = {
            **article,
            "n_layers": n,
            **{f"units_{i}": hp.Int(f"units_{i}", 8, 512, sampling="log") for i in range(n)},
            "activation": hp.Choice("activation", ["relu", "gelu", "tanh", "selu"]),
            "dropout": hp.Float("dropout", 0.0, 0.5),
            "l2": hp.Float("l2", 1e-6, 1e-2, sampling="log"),
            "learning_rate": hp.Float("learning_rate", 1e-4, 3e-2, sampling="log"),
            "optimizer": hp.Choice("optimizer", ["adam", "adamw", "rmsprop", "sgd"]),
        }
        model = build_model(config, data.schema, data.n_classes, 1)
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[keras.metrics.AUC(name="auc")])
        return model

    class _Tuner(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            kwargs["batch_size"] = trial.hyperparameters.Choice("batch_size", [16, 32, 64, 128])
            return super().run_trial(trial, *args, **kwargs)

    tuner = _Tuner(
        hypermodel,
        objective=kt.Objective("val_auc", "max"),
        max_trials=trials,
        seed=0,
        directory=str(workdir),
        project_name="kt",
        overwrite=True,
    )
    tuner.search(data.X_train, data.y_train, epochs=epochs, validation_data=(data.X_val, data.y_val), verbose=0)
    return {"best_val_auroc": _val_auroc(tuner.get_best_models(1)[0], data)}


def run_optuna(trials: int, epochs: int, workdir: Path, pack: str) -> dict:
    _, data = _setup(1)
    import optuna

    from search.config.load import load_config
    from search.config.space import define_by_run
    from trainable.trial.model import build_model

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = define_by_run(load_config().space)

    def objective(trial):
        space(trial)
        model = build_model(trial.params, data.schema, data.n_classes, 1)
        model.fit(data.X_train, data.y_train, batch_size=trial.params["batch_size"], epochs=epochs, verbose=0)
        return _val_auroc(model, data)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials, n_jobs=os.cpu_count() or 1)
    return {"best_val_auroc": float(study.best_value)}


def run_hpsearch(trials: int, epochs: int, workdir: Path, pack: str) -> dict:
    import pandas as pd

    from search.records.paths import LEADERBOARD_FILE

    args = [
        sys.executable,
        "-m",
        "search.cli.app",
        "run",
        "--name",
        "peers",
        "--results-dir",
        str(workdir),
        "--trials",
        str(trials),
        "--max-epochs",
        str(epochs),
        "--overwrite",
    ]
    cfg = workdir / "peers.yaml"
    search = {
        "metric": "val_auroc",
        "cv": {"folds": 0},  # as the peers
        "early_stopping": {"enabled": False},
        "pack": pack if pack == "auto" else int(pack),
    }
    cfg.write_text(yaml.safe_dump({"search": search}))
    proc = subprocess.run([*args[:4], str(cfg), *args[4:]], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"hpsearch run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    board = pd.read_csv(workdir / "peers" / LEADERBOARD_FILE, dtype={"pack": str})
    packs = int(board["pack"].nunique()) if "pack" in board else len(board)
    return {"best_val_auroc": float(board["val_auroc"].max()), "configs": len(board), "packs": packs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pack", default="auto", help="hpsearch's search.pack: auto, or configurations per pack")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", choices=TOOLS, help=argparse.SUPPRESS)  # one tool, in a child process
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runners = {"keras_tuner": run_keras_tuner, "optuna": run_optuna, "hpsearch": run_hpsearch}
    if args.only:
        print(json.dumps(runners[args.only](args.trials, args.epochs, args.workdir, args.pack)))
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="hpsearch-peers-") as tmp:
        for tool in TOOLS:
            workdir = Path(tmp) / tool
            workdir.mkdir()
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--only",
                    tool,
                    "--trials",
                    str(args.trials),
                    "--epochs",
                    str(args.epochs),
                    "--workdir",
                    str(workdir),
                    "--pack",
                    str(args.pack),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"{tool} failed:\n{proc.stderr[-3000:]}")
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            results[tool] = {
                "wall_s": round(wall, 2),
                "configs_per_s": round(args.trials / wall, 3),
                "best_val_auroc": round(out.pop("best_val_auroc"), 4),
                **out,
            }
    for tool in TOOLS:
        results[tool]["vs_hpsearch"] = round(results[tool]["wall_s"] / results["hpsearch"]["wall_s"], 2)
    from rich.console import Console
    from rich.table import Table

    packs = results["hpsearch"].get("packs")
    table = Table(
        title=f"peers: {args.trials} trials x {args.epochs} epochs, {os.cpu_count()} CPUs; "
        f"hpsearch pack {args.pack} ({packs} packs)"
    )
    for col in ("tool", "wall s", "configs/s", "best val AUROC", "wall / hpsearch wall"):
        table.add_column(col, justify="left" if col == "tool" else "right")
    for tool, r in results.items():
        table.add_row(
            tool,
            f"{r['wall_s']:.1f}",
            f"{r['configs_per_s']:.3f}",
            f"{r['best_val_auroc']:.4f}",
            f"{r['vs_hpsearch']:.2f}",
        )
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
