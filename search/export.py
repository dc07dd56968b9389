"""Export a trial's best-epoch model: model file, test-split score, model card.

Contract: `export_model(checkpoint_dir, row, data, cfg, out_dir)` loads the
trial's checkpointed Keras model, scores it ONCE on the held-out test split,
and writes `out_dir/model.keras` (takes raw features) and
`out_dir/model_card.json` with keys `hyperparameters`, `validation`, `test`,
`data`, `versions` (plus `trial_id`, `metric`, `created`). The folder is built
beside the target and renamed into place, so it is never half-written.
Imports Keras inside the function (driver side, after the sweep).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from trainable.metrics import score
from trainable.train import MODEL_FILE

__all__ = ["CARD_FILE", "MODEL_FILE", "export_model", "versions"]

CARD_FILE = "model_card.json"
_PACKAGES = ("hpsearch", "tensorflow", "keras", "ray", "optuna", "numpy", "pandas", "scikit-learn")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _hyperparameters(row: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    keys = ["n_layers", "activation", "dropout", "l2", "learning_rate", "batch_size", "optimizer"]
    hp = {k: config[k] for k in keys if k in config}
    hp["units"] = [int(config[f"units_{i}"]) for i in range(int(config["n_layers"]))]
    return hp


def export_model(
    checkpoint_dir: str | Path,
    trial_id: str,
    trial_config: dict[str, Any],
    validation: dict[str, Any],
    data,
    metric: str,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Write model + card for one trial; returns the card."""
    import keras

    out_dir = Path(out_dir)
    model = keras.models.load_model(Path(checkpoint_dir) / MODEL_FILE)
    proba = np.asarray(model.predict(data.X_test, verbose=0))
    card = {
        "trial_id": trial_id,
        "metric": metric,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hyperparameters": _hyperparameters(validation, trial_config),
        "validation": validation,
        "test": score(data.y_test, proba),
        "data": data.summary(),
        "inputs": {"shape": [None, data.n_features], "dtype": "float32", "features": list(data.feature_names)},
        "outputs": (
            "probability of class 1 (`data.class_names[1]`), shape (n, 1)"
            if data.n_classes == 2
            else "probability per class (`data.class_names` order), shape (n, K)"
        ),
        "versions": versions(),
    }
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save(staging / MODEL_FILE)
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)
    return card
