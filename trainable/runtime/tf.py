"""This process's TensorFlow, set up for many small trials in a row, and its memory between trials.

Contract: `configure_tensorflow(cpus)` sets up TensorFlow once per process
(later calls do nothing): thread pools sized to the trial's CPUs, tf.data's
autotuning off in the datasets Keras builds from arrays
(`trainable.runtime._compat.disable_array_autotune`), and the objects of the
TensorFlow and Keras imports moved out of the garbage collector's reach
(`gc.freeze`), so that collecting a finished trial scans only what trials
created. It also records which traced graphs and functions exist before any
trial. `reset_between_trials()` frees the previous trial of a reused worker:
Keras's session, then every graph and function traced since
`configure_tensorflow` (Keras + TensorFlow otherwise keep each traced graph
alive: graph and ops refer to each other through C++ objects the collector
cannot see). `leftovers()` counts what is still there (graphs, functions);
`rss_mb()` is this process's resident memory, `peak_rss_mb()` its peak.
Grappler, TensorFlow's graph optimiser, stays on (docs/performance.md).
"""

from __future__ import annotations

import gc
import os

from trainable.runtime import _compat
from trainable.runtime.environment import import_keras

__all__ = ["configure_tensorflow", "leftovers", "peak_rss_mb", "release_graphs", "reset_between_trials", "rss_mb"]

_CONFIGURED: list[int] = []  # this process's TensorFlow was configured (for this many CPUs)
_KEPT_GRAPHS: set[int] = set()  # ids of the TensorFlow function graphs that exist before any trial
_KEPT_FUNCTIONS: set[str] = set()  # names of the functions registered before any trial


def configure_tensorflow(cpus: int) -> None:
    """Set up this process's TensorFlow (once; a reused worker keeps its first setting)."""
    if _CONFIGURED:
        return
    import_keras()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # TensorFlow already started in this process (threads fixed by then)
    _compat.disable_array_autotune(tf)
    gc.collect()
    gc.freeze()  # nothing a trial creates is frozen: this runs before the first
    _KEPT_GRAPHS.update(id(g) for g in _compat.function_graphs())
    _KEPT_FUNCTIONS.update(_compat.function_names())
    _CONFIGURED.append(cpus)


def leftovers() -> tuple[int, int]:
    """(graphs, functions) traced since `configure_tensorflow` that still exist."""
    graphs = [g for g in _compat.function_graphs() if id(g) not in _KEPT_GRAPHS]
    return len(graphs), len(_compat.function_names() - _KEPT_FUNCTIONS)


def release_graphs() -> None:
    """Dismantle the graphs traced since `configure_tensorflow` and unregister their functions."""
    for graph in _compat.function_graphs():
        if id(graph) not in _KEPT_GRAPHS:
            _compat.dismantle(graph)
    for name in _compat.function_names() - _KEPT_FUNCTIONS:
        _compat.remove_function(name)
    gc.collect()


def reset_between_trials() -> None:
    """Free what the previous trial of this process left: its model and Keras
    state (collected by `clear_session`, so that only graphs still held are
    left), then the graphs TensorFlow keeps. Two collections, ~0.04 s each after
    `gc.freeze`; with one, graphs still awaiting collection stay behind."""
    import_keras().backend.clear_session()
    if _CONFIGURED:
        release_graphs()


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident memory so far in MB (Linux /proc VmHWM; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            line = next(line for line in fh if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1e3
    except (OSError, ValueError, StopIteration):
        return 0.0
