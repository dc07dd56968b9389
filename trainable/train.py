"""The function Ray Tune runs for each trial.

Contract: `train_trial(config, data)` trains ONE Keras model with ONE
`model.fit`, for `config["max_epochs"]` epochs, and after every epoch calls
`ray.tune.report` with the epoch's metrics (`loss`, `accuracy`, `val_loss`,
`val_accuracy`, `val_auroc`), the best epoch's metrics so far (`best_val_*`,
`best_epoch`) and bookkeeping (`epoch`, `n_params`, `train_seconds`, `node`,
`diverged`; for benchmarks `reported_at` and `report_wait_s`, the seconds the
training thread spent blocked in earlier `tune.report` calls, which wait for
the driver). A checkpoint (`model.keras` + `state.json`) is attached whenever
the epoch improves on the best one, so the trial's checkpoint is its best
epoch. A non-finite loss stops the trial with `diverged: True`.

Faults: the last epoch, or a divergence, always leaves a checkpoint (when there
is a model to keep) whose state says `finished`, so a trial that Tune restores
after its driver died (`hpsearch resume`) and that had in fact finished ends at
once, neither retrained nor reported twice. A retried trial (after an exception
or a dead worker) continues from its latest checkpoint via `tune.get_checkpoint()`.
`config["fault"]` (set by the driver from the TEST-ONLY `HPSEARCH_FAULT`
variable) injects failures: see `_with_fault`.

`config` holds the sampled hyperparameters plus `max_epochs`, `metric`
(`val_auroc`|`val_accuracy`|`val_loss`), `seed` and `cpus`. `data` is the
`trainable.data.Dataset`, handed over once through Ray's object store.
TensorFlow and Keras are imported here, inside the worker, never on the
driver's CLI path.
"""

from __future__ import annotations

import gc
import json
import math
import os
import tempfile
import time
from typing import Any

import numpy as np

from trainable.columns import to_model_input
from trainable.metrics import score

__all__ = ["train_trial", "configure_tensorflow", "MODEL_FILE", "STATE_FILE", "VAL_PROBA_FILE"]

MODEL_FILE = "model.keras"
STATE_FILE = "state.json"
VAL_PROBA_FILE = "val_proba.npy"  # the checkpointed model's validation-split probabilities
_HIGHER_IS_BETTER = {"val_auroc": True, "val_accuracy": True, "val_loss": False}


_CONFIGURED: list[int] = []  # this process's TensorFlow was configured (for this many CPUs)
_KEPT_GRAPHS: set[int] = set()  # ids of the TensorFlow function graphs that exist before any trial
_KEPT_FUNCTIONS: set[str] = set()  # names of the functions registered before any trial


def configure_tensorflow(cpus: int) -> None:
    """Set up this process's TensorFlow for many small trials (once per process).

    - TensorFlow's thread pools get the trial's CPUs (only possible before TF
      starts; a reused worker keeps its first trial's setting);
    - Grappler, TensorFlow's graph optimiser, stays on: turning it off saved
      ~0.4 s per trial but more than doubled the memory each trial leaves
      behind (see `_release_graphs`);
    - the objects of the TensorFlow and Keras imports are moved out of the
      garbage collector's reach (`gc.freeze`), so the collection that frees a
      finished trial's graphs scans only what trials created (~0.3 s less per
      trial). Nothing a trial creates is frozen: the freeze happens before the first.
    """
    if _CONFIGURED:
        return
    from trainable._quiet import import_keras

    import_keras()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # TensorFlow already started in this process (threads fixed by then)
    gc.collect()
    gc.freeze()
    _KEPT_GRAPHS.update(id(g) for g in _function_graphs())
    _KEPT_FUNCTIONS.update(_function_names())
    _CONFIGURED.append(cpus)


def _function_graphs() -> list:
    from tensorflow.python.framework.func_graph import FuncGraph

    return [o for o in gc.get_objects() if isinstance(o, FuncGraph)]


def _function_names() -> set[str]:
    from tensorflow.python.eager import context

    return set(context.context().list_function_names())


def _release_graphs() -> None:
    """Free what earlier trials traced: called between trials, once their models
    are gone. Keras + TensorFlow keep every traced graph alive (graph and ops
    refer to each other through C++ objects the garbage collector cannot see),
    about 8 MB per trial here, so a reused worker grew without bound. The graphs
    made since `configure_tensorflow` are dismantled (TensorFlow's own cycle
    breaker) and their functions unregistered from the eager context: ~6 MB
    per trial remain, inside TensorFlow's runtime."""
    from tensorflow.python.eager import context
    from tensorflow.python.framework.func_graph import dismantle_func_graph

    for graph in _function_graphs():
        if id(graph) not in _KEPT_GRAPHS:
            dismantle_func_graph(graph)
    ctx = context.context()
    for name in _function_names() - _KEPT_FUNCTIONS:
        ctx.remove_function(name)
    gc.collect()


def _node_id() -> str:
    """The first 12 hex digits of the Ray node this trial runs on (distinct per node)."""
    try:
        import ray

        if not ray.is_initialized():  # the benchmark's bare loop: never start Ray just to ask
            return "local"
        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:
        return "local"


def _with_fault(report, spec: str):
    """TEST-ONLY fault injection (`HPSEARCH_FAULT`, see search/driver.py): wrap
    `report` so that, right after this attempt's first report, the attempt
    claims the next free slot `DIR/fault-<n>` (exclusive create, so one claim
    per slot across every worker and retry of the sweep) and fails as
    `KINDS[n-1]` says: `raise` (an exception in the trial), `sigkill` (the
    worker process dies) or `none` (no failure: lets a retry through). Spec:
    `KIND[,KIND...]@DIR`. Once every slot is claimed, attempts run normally."""
    import signal

    kinds, _, where = spec.partition("@")
    fired = False

    def report_then_fail(metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        nonlocal fired
        report(metrics, checkpoint_dir)
        if fired:
            return
        fired = True
        for n, kind in enumerate(kinds.split(","), start=1):
            try:
                os.close(os.open(os.path.join(where, f"fault-{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            if kind == "none":
                return
            if kind == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"HPSEARCH_FAULT: injected failure {n} ({kind})")

    return report_then_fail


def _better(metric: str, new: dict[str, float], old: dict[str, float] | None) -> bool:
    """Is epoch `new` better than the best so far? Ties on the metric go to the
    other validation number (lower loss, or higher AUROC when ranking by loss),
    so an AUROC that saturates at 1.0 still keeps improving the checkpoint."""
    if not math.isfinite(new[metric]):
        return False
    if old is None:
        return True
    tiebreak = "val_auroc" if metric == "val_loss" else "val_loss"
    sign = 1 if _HIGHER_IS_BETTER[metric] else -1
    if new[metric] != old[metric]:
        return sign * new[metric] > sign * old[metric]
    return -sign * new[tiebreak] > -sign * old[tiebreak]


def _worst(metric: str) -> float:
    return 0.0 if _HIGHER_IS_BETTER[metric] else 1e9


def _rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def _class_weight(y: np.ndarray) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    return {int(c): float(w) for c, w in zip(classes, compute_class_weight("balanced", classes=classes, y=y))}


def fit_and_report(config: dict[str, Any], data, report, restore_dir: str | None = None) -> dict[str, Any]:
    """Train one model, calling `report(metrics, checkpoint_dir or None)` per epoch.

    Shared by the Ray trainable and the benchmark's bare loop, so both time the
    same code. Returns the last reported metrics.
    """
    import keras

    from trainable.model import build_model, load_model

    started = time.perf_counter()
    # A reused worker: the previous trial's model and Keras state (collected
    # here, so that only graphs still held are left), then the graphs TensorFlow
    # keeps. Two collections, ~0.04 s each after `gc.freeze`; with one, graphs
    # still awaiting collection stay behind (tests/test_memory.py).
    keras.backend.clear_session()
    if _CONFIGURED:
        _release_graphs()
    keras.utils.set_random_seed(int(config["seed"]))
    metric = config["metric"]
    max_epochs = int(config["max_epochs"])
    state: dict[str, Any] = {"epoch": 0, "best": None}
    if config.get("fault"):
        report = _with_fault(report, config["fault"])
    if restore_dir is not None:
        with open(os.path.join(restore_dir, STATE_FILE)) as fh:
            state = json.load(fh)
        if state.get("finished") or int(state["epoch"]) >= max_epochs:
            # The trial had ended (its last checkpoint says so) but the sweep was
            # stopped before Tune recorded it: nothing to train again, nothing to
            # report (Tune keeps the trial's last result).
            return {}
        model = load_model(os.path.join(restore_dir, MODEL_FILE))
    else:
        # One call into TensorFlow per epoch (steps_per_execution): less Python per batch.
        steps = max(1, math.ceil(len(data.y_train) / int(config["batch_size"])))
        model = build_model(config, data.schema, data.n_classes, steps_per_execution=steps)
    X_val = to_model_input(data.X_val)
    n_params = int(model.count_params())
    node = _node_id()
    started_at = time.time()
    # Checkpoint epochs: None = at every improvement; else only at these epochs
    # (the scheduler's decision points and the last epoch), saving the best
    # weights kept in memory since the previous checkpoint.
    milestones = set(config["checkpoint_epochs"]) | {max_epochs} if config.get("checkpoint_epochs") else None
    best_weights: list | None = None
    # The weights in the latest checkpoint (the best so far), so that the last
    # epoch or a divergence can always write a final checkpoint marked
    # `finished` (see the restore above) without retraining.
    saved_weights: list | None = model.get_weights() if restore_dir is not None else None
    best_proba: np.ndarray | None = None
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
                proba = self.model(X_val, training=False)
                val = score(data.y_val, np.asarray(proba))
                diverged = not math.isfinite(val["loss"])
            epoch_metrics = {f"val_{k}": v for k, v in val.items()}
            improved = not diverged and _better(metric, epoch_metrics, state["best"])
            nonlocal best_proba
            if improved:
                state["best"] = {**epoch_metrics, "epoch": epoch + 1}
                best_proba = np.asarray(proba)
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
                "started_at": started_at,
                "entered_at": config.get("entered_at", started_at),
                "pid": os.getpid(),
                "rss_mb": _rss_mb(),
            }
            if diverged:
                self.model.stop_training = True
            nonlocal best_weights, saved_weights
            if milestones is None:
                due = improved
            else:
                if improved:
                    best_weights = self.model.get_weights()
                due = best_weights is not None and (epoch + 1) in milestones
            if diverged or epoch + 1 >= max_epochs:
                state["finished"] = True
                due = due or saved_weights is not None or best_weights is not None
            if not due:
                report(last, None)
                return
            # Save the best weights so far: this epoch's (improved, every-improvement
            # policy), those kept since the last milestone, or the last checkpoint's.
            keep = None if (improved and milestones is None) else (best_weights if best_weights is not None else saved_weights)
            current = None
            if keep is not None:
                current = self.model.get_weights()
                self.model.set_weights(keep)
            saved_weights = keep if keep is not None else self.model.get_weights()
            with tempfile.TemporaryDirectory(prefix="hpsearch-ckpt-") as tmp:
                self.model.save(os.path.join(tmp, MODEL_FILE))
                with open(os.path.join(tmp, STATE_FILE), "w") as fh:
                    json.dump(state, fh)
                if best_proba is not None:  # the saved model's validation predictions
                    np.save(os.path.join(tmp, VAL_PROBA_FILE), best_proba)
                report(last, tmp)
            if current is not None:
                self.model.set_weights(current)
            best_weights = None

    if state["epoch"] < max_epochs:
        model.fit(
            to_model_input(data.X_train),
            data.y_train,
            batch_size=int(config["batch_size"]),
            epochs=max_epochs,
            initial_epoch=int(state["epoch"]),
            shuffle=True,  # shuffles features and labels together
            class_weight=_class_weight(data.y_train) if config.get("class_weight") == "balanced" else None,
            verbose=0,
            callbacks=[_Report()],
        )
    return last


def train_trial(config: dict[str, Any], data) -> None:
    """Ray Tune function trainable (wrap with `tune.with_parameters(train_trial, data=...)`)."""
    config = {**config, "entered_at": time.time()}  # the trial is running (before TF is imported)
    configure_tensorflow(max(1, int(config.get("cpus", 1))))
    from ray import tune

    waited = [0.0]  # seconds this trial's thread spent blocked in earlier reports

    def _report(metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        metrics = {**metrics, "report_wait_s": waited[0], "reported_at": time.time()}
        t0 = time.perf_counter()
        if checkpoint_dir is None:
            tune.report(metrics)
        else:
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))
        waited[0] += time.perf_counter() - t0

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        fit_and_report(config, data, _report)
    else:
        with checkpoint.as_directory() as restore_dir:
            fit_and_report(config, data, _report, restore_dir=restore_dir)
