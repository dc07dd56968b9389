"""The results folder's paths: every file and folder name, spelled here once, and atomic writes.

    results/                        the results folder (`Config.results_dir`)
      test_ledger.json              every scoring of a test split by any sweep here, archived
                                    ones included (`search.records.test_ledger`)
      .test_ledger.lock             held while a command reads and appends to it
    results/<name>/                 a sweep's folder (`Config.out_dir`)
      config.yaml                   the resolved config that ran
      sweep.json                    the sweep record (`search.records.sweep_record`)
      leaderboard.csv               one row per trial (`search.review.leaderboard`)
      study.db                      the Optuna study (SQLite)
      report.html                   the review report
      timings.json                  wall-clock marks, for the benchmarks
      .lock                         the pid and host of the command working on it (`search.records.lock`)
      tune/                         Ray Tune's experiment: tuner.pkl, experiment_state-*.json,
        trial_<id>/                 params.json, result.json, checkpoint_*/
      checkpoints/<id>/             checkpoints copied from remote `--storage`
      best/                         the exported model: model.keras, model_card.json
                                    (`search.records.model_card`), model_card.md, predictions.npz,
        serving/                    the SavedModel that serves without hpsearch (`trainable.trial.serving`)
        model.onnx                  with `export.onnx`: the same as ONNX (`trainable.trial.onnx_export`)
      pick.csv, pick/               `hpsearch pick`: its table, and its Ray Tune runs

Contract: `atomic_write(path, write)` calls `write(tmp)` on a hidden file beside
`path` and renames it into place, so a reader never sees half a file (and a
failed write leaves none); `atomic_write_text` does so for text.
`replace_folder(path, fill)` builds a folder beside `path` and swaps it in.
Imports nothing of ours but the checkpoint's file names (an exported model's
folder holds the same `model.keras`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from trainable.trial.checkpoint import MODEL_FILE

__all__ = [
    "BEST_DIR",
    "CARD_FILE",
    "CARD_MD_FILE",
    "CHECKPOINTS_DIR",
    "CONFIG_FILE",
    "LEADERBOARD_FILE",
    "LOCK_FILE",
    "MODEL_FILE",
    "ONNX_FILE",
    "PICK_DIR",
    "PICK_FILE",
    "PREDICTIONS_FILE",
    "REPORT_FILE",
    "SERVING_DIR",
    "STUDY_FILE",
    "SWEEP_FILE",
    "TEST_LEDGER_FILE",
    "TEST_LEDGER_LOCK",
    "TIMINGS_FILE",
    "TUNER_FILE",
    "TUNE_DIR",
    "TUNE_PARAMS_FILE",
    "TUNE_RESULT_FILE",
    "atomic_write",
    "atomic_write_text",
    "replace_folder",
    "study_url",
    "trial_dirname",
]

CONFIG_FILE = "config.yaml"
SWEEP_FILE = "sweep.json"
LEADERBOARD_FILE = "leaderboard.csv"
STUDY_FILE = "study.db"
REPORT_FILE = "report.html"
ONNX_FILE = "model.onnx"  # in an exported model's folder, with `export.onnx` (`trainable.trial.onnx_export`)
SERVING_DIR = "serving"  # in an exported model's folder: the SavedModel (`trainable.trial.serving`)
TIMINGS_FILE = "timings.json"
LOCK_FILE = ".lock"  # held by the command working on the sweep
TUNE_DIR = "tune"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
CARD_FILE = "model_card.json"
CARD_MD_FILE = "model_card.md"
PREDICTIONS_FILE = "predictions.npz"  # the exported model's validation and test probabilities
PICK_FILE = "pick.csv"
TEST_LEDGER_FILE = "test_ledger.json"  # in the results folder, beside the sweeps: one for all of them
TEST_LEDGER_LOCK = ".test_ledger.lock"  # flock'ed while a command reads and appends to the ledger
PICK_DIR = "pick"
TUNE_PARAMS_FILE = "params.json"  # Ray Tune's: a trial's config (its sampled hyperparameters)
TUNE_RESULT_FILE = "result.json"  # Ray Tune's: one line of metrics per reported epoch
TUNER_FILE = "tuner.pkl"  # Ray Tune's: the pickled Tuner (callbacks included) that `Tuner.restore` loads


def trial_dirname(trial_id: str) -> str:
    """A trial's folder (and name) in Ray Tune's experiment."""
    return f"trial_{trial_id}"


def study_url(out: Path) -> str:
    """The Optuna storage URL of the sweep in `out`."""
    return f"sqlite:///{Path(out) / STUDY_FILE}"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)`, then rename tmp to `path`: all of the new file or none of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_folder(path: Path, fill: Callable[[Path], object]) -> None:
    """Build the folder `path` anew: `fill(staging)` beside it, then swap it in."""
    path = Path(path)
    staging = path.with_name(path.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    fill(staging)
    if path.exists():
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, path)
