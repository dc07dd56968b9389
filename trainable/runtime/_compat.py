"""Every use of a private API of TensorFlow or Keras, fenced: each with the versions it was checked against.

Contract: nothing else in `trainable` reaches into `keras.src` or
`tensorflow.python`. `CHECKED` holds the versions each patch was read and
tested against; `unchecked_versions()` names the installed ones that differ
(a unit test fails loudly on any, and on any internal below that has moved:
re-read it, then add the version). At run time a moved internal is not an
error: the patch is skipped and hpsearch runs as without it (slower, never
different results).
- `disable_array_autotune(tf)`: the datasets Keras builds from NumPy arrays
  (`fit` on arrays) run without tf.data's autotuning. Destroying an autotuned
  iterator waits for its optimisation thread; with the CPUs busy (two trials
  on two cores) that took 0.2-0.6 s at the end of every other trial, after its
  last report and before the next trial could start. Autotuning only sizes
  buffers and parallelism: batches, order and results are the same. Patches
  Keras's `ArrayDataAdapter.get_tf_dataset` process-wide, once.
- `function_graphs()`, `dismantle(graph)`, `function_names()`,
  `remove_function(name)`: TensorFlow's traced function graphs and the eager
  context's registered functions, which `trainable.runtime.tf` releases
  between the trials of a reused worker.
"""

from __future__ import annotations

import gc
from importlib import metadata
from typing import Any

__all__ = [
    "CHECKED",
    "autotune_disabled",
    "disable_array_autotune",
    "dismantle",
    "function_graphs",
    "function_names",
    "remove_function",
    "unchecked_versions",
]

CHECKED = {"keras": ("3.15",), "tensorflow": ("2.21",)}  # major.minor versions each internal was read against


def unchecked_versions() -> dict[str, str]:
    """Installed versions (major.minor) of the patched packages that `CHECKED` does not list."""
    found = {}
    for package, versions in CHECKED.items():
        installed = ".".join(metadata.version(package).split(".")[:2])
        if installed not in versions:
            found[package] = installed
    return found


def _array_adapter() -> Any:
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        return None
    return ArrayDataAdapter if hasattr(ArrayDataAdapter, "get_tf_dataset") else None


def autotune_disabled() -> bool:
    adapter = _array_adapter()
    return adapter is not None and getattr(adapter.get_tf_dataset, "_hpsearch_no_autotune", False)


def disable_array_autotune(tf: Any) -> None:
    adapter = _array_adapter()
    if adapter is None or autotune_disabled():
        return
    build = adapter.get_tf_dataset
    options = tf.data.Options()
    options.autotune.enabled = False

    def get_tf_dataset(self: Any) -> Any:
        return build(self).with_options(options)

    get_tf_dataset._hpsearch_no_autotune = True  # type: ignore[attr-defined]
    adapter.get_tf_dataset = get_tf_dataset


def function_graphs() -> list[Any]:
    """Every traced function graph alive in this process."""
    from tensorflow.python.framework.func_graph import FuncGraph

    return [o for o in gc.get_objects() if isinstance(o, FuncGraph)]


def dismantle(graph: Any) -> None:
    """Break a traced graph's reference cycles (TensorFlow's own cycle breaker)."""
    from tensorflow.python.framework.func_graph import dismantle_func_graph

    dismantle_func_graph(graph)


def _context() -> Any:
    from tensorflow.python.eager import context

    return context.context()


def function_names() -> set[str]:
    """The functions registered in the eager context."""
    return set(_context().list_function_names())


def remove_function(name: str) -> None:
    _context().remove_function(name)
