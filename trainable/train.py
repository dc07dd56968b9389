"""The function Ray Tune runs for each trial.

Contract: `train_trial(config, data)` trains ONE Keras model with ONE
`model.fit`, for `config["max_epochs"]` epochs, and after every epoch calls
`ray.tune.report` with the epoch's metrics (`loss`, `accuracy`, `val_loss`,
`val_accuracy`, `val_auroc`), the best epoch's metrics so far (`best_val_*`,
`best_epoch`) and bookkeeping (`epoch`, `n_params`, `train_seconds`, `node`,
`diverged`). A checkpoint (`model.keras` + `state.json`) is attached whenever
the epoch improves on the best one, so the trial's checkpoint is its best
epoch. A non-finite loss stops the trial with `diverged: True`.

`config` holds the sampled hyperparameters plus `max_epochs`, `metric`
(`val_auroc`|`val_accuracy`|`val_loss`), `seed` and `cpus`. `data` is the
`trainable.data.Dataset`, handed over once through Ray's object store.
TensorFlow and Keras are imported here, inside the worker, never on the
driver's CLI path.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from typing import Any

import numpy as np

from trainable.metrics import score

__all__ = ["train_trial", "MODEL_FILE", "STATE_FILE"]

MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
_HIGHER_IS_BETTER = {"val_auroc": True, "val_accuracy": True, "val_loss": False}


def _configure_threads(cpus: int) -> None:
    """Size TensorFlow's pools to the trial's CPUs (only possible before TF starts)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # a reused worker: the pools were sized by its first trial


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # not inside Ray (the benchmark's bare loop)
        return "local"


def _better(metric: str, new: float, old: float | None) -> bool:
    if old is None:
        return True
    if not math.isfinite(new):
        return False
    return new > old if _HIGHER_IS_BETTER[metric] else new < old


def _worst(metric: str) -> float:
    return 0.0 if _HIGHER_IS_BETTER[metric] else 1e9


def fit_and_report(config: dict[str, Any], data, report, restore_dir: str | None = None) -> dict[str, Any]:
    """Train one model, calling `report(metrics, checkpoint_dir or None)` per epoch.

    Shared by the Ray trainable and the benchmark's bare loop, so both time the
    same code. Returns the last reported metrics.
    """
    import keras

    from trainable.model import build_model

    started = time.perf_counter()
    keras.backend.clear_session()
    keras.utils.set_random_seed(int(config["seed"]))
    metric = config["metric"]
    max_epochs = int(config["max_epochs"])
    state: dict[str, Any] = {"epoch": 0, "best": None}
    if restore_dir is not None:
        model = keras.models.load_model(os.path.join(restore_dir, MODEL_FILE))
        with open(os.path.join(restore_dir, STATE_FILE)) as fh:
            state = json.load(fh)
    else:
        model = build_model(config, data.n_features, data.n_classes, data.feature_mean, data.feature_var)
    n_params = int(model.count_params())
    node = _node_id()
    last: dict[str, Any] = {}

    class _Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            nonlocal last
            logs = logs or {}
            loss = float(logs.get("loss", float("nan")))
            diverged = not math.isfinite(loss)
            if diverged:
                val = {"auroc": float("nan"), "accuracy": float("nan"), "loss": float("nan")}
            else:
                proba = self.model(data.X_val, training=False)
                val = score(data.y_val, np.asarray(proba))
                diverged = not math.isfinite(val["loss"])
            epoch_metrics = {f"val_{k}": v for k, v in val.items()}
            improved = not diverged and _better(metric, epoch_metrics[metric], (state["best"] or {}).get(metric))
            if improved:
                state["best"] = {**epoch_metrics, "epoch": epoch + 1}
            state["epoch"] = epoch + 1
            best = state["best"] or {"val_auroc": _worst("val_auroc"), "val_accuracy": 0.0, "val_loss": 1e9, "epoch": 0}
            last = {
                "epoch": epoch + 1,
                "loss": loss,
                "accuracy": float(logs.get("accuracy", float("nan"))),
                **epoch_metrics,
                "best_epoch": best["epoch"],
                "best_val_auroc": best["val_auroc"],
                "best_val_accuracy": best["val_accuracy"],
                "best_val_loss": best["val_loss"],
                "n_params": n_params,
                "train_seconds": time.perf_counter() - started,
                "node": node,
                "diverged": diverged,
            }
            if diverged:
                self.model.stop_training = True
                report(last, None)
                return
            if improved:
                with tempfile.TemporaryDirectory(prefix="hpsearch-ckpt-") as tmp:
                    self.model.save(os.path.join(tmp, MODEL_FILE))
                    with open(os.path.join(tmp, STATE_FILE), "w") as fh:
                        json.dump(state, fh)
                    report(last, tmp)
            else:
                report(last, None)

    if state["epoch"] < max_epochs:
        model.fit(
            data.X_train,
            data.y_train,
            batch_size=int(config["batch_size"]),
            epochs=max_epochs,
            initial_epoch=int(state["epoch"]),
            shuffle=True,  # shuffles features and labels together
            verbose=0,
            callbacks=[_Report()],
        )
    return last


def train_trial(config: dict[str, Any], data) -> None:
    """Ray Tune function trainable (wrap with `tune.with_parameters(train_trial, data=...)`)."""
    _configure_threads(max(1, int(config.get("cpus", 1))))
    from ray import tune

    def _report(metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        if checkpoint_dir is None:
            tune.report(metrics)
        else:
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        fit_and_report(config, data, _report)
    else:
        with checkpoint.as_directory() as restore_dir:
            fit_and_report(config, data, _report, restore_dir=restore_dir)
