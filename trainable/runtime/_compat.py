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
- `gated_update(optimizer, grads, variables, gate)`: the update of Keras's
  Adam, AdamW, RMSprop and SGD (with momentum), written with TensorFlow ops
  directly, applied where a traced boolean `gate` holds (a pack's member
  still training) and leaving everything as it is where it does not. Keras's
  own `apply` goes through `keras.ops` per operation per variable, and gating
  it needs a `tf.cond` per member: tracing those was ~60% of tracing a pack's
  train step. The arithmetic is Keras's, operation for operation (a test
  checks the weights bitwise against Keras's optimizers); it reads Keras's
  `_momentums`, `_velocities` and `_get_variable_index`. False for another
  optimizer (Nadam) or configuration: the caller gates Keras's own `apply`.
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
    "gated_update",
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


def _adam(self: Any, tf: Any, grads: list[Any], variables: list[Any], gate: Any) -> None:
    dtype = variables[0].dtype
    lr = tf.cast(self.learning_rate, dtype)
    if getattr(self, "weight_decay", None) is not None:  # AdamW: Keras decays first
        wd = tf.cast(self.weight_decay, dtype)
        for variable in variables:
            variable.assign(tf.where(gate, variable - variable * wd * lr, variable))
    local_step = tf.cast(self.iterations + 1, dtype)
    beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), local_step)
    beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), local_step)
    alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    for gradient, variable in zip(grads, variables):
        i = self._get_variable_index(variable)
        m, v, gradient = self._momentums[i].value, self._velocities[i].value, tf.cast(gradient, dtype)
        m_new = m + tf.multiply(tf.subtract(gradient, m), 1 - self.beta_1)
        v_new = v + tf.multiply(tf.subtract(tf.square(gradient), v), 1 - self.beta_2)
        m.assign(tf.where(gate, m_new, m))
        v.assign(tf.where(gate, v_new, v))
        step = tf.divide(tf.multiply(m_new, alpha), tf.add(tf.sqrt(v_new), self.epsilon))
        variable.assign(tf.where(gate, variable - step, variable))


def _sgd(self: Any, tf: Any, grads: list[Any], variables: list[Any], gate: Any) -> None:
    dtype = variables[0].dtype
    lr, momentum = tf.cast(self.learning_rate, dtype), tf.cast(self.momentum, dtype)
    for gradient, variable in zip(grads, variables):
        m = self.momentums[self._get_variable_index(variable)].value
        m_new = tf.subtract(tf.multiply(m, momentum), tf.multiply(tf.cast(gradient, dtype), lr))
        m.assign(tf.where(gate, m_new, m))
        variable.assign(tf.where(gate, variable + m_new, variable))


def _rmsprop(self: Any, tf: Any, grads: list[Any], variables: list[Any], gate: Any) -> None:
    dtype = variables[0].dtype
    lr, rho = tf.cast(self.learning_rate, dtype), self.rho
    for gradient, variable in zip(grads, variables):
        velocity = self._velocities[self._get_variable_index(variable)].value
        gradient = tf.cast(gradient, dtype)
        velocity_new = tf.add(tf.multiply(rho, velocity), tf.multiply(1 - rho, tf.square(gradient)))
        velocity.assign(tf.where(gate, velocity_new, velocity))
        increment = tf.divide(tf.multiply(lr, gradient), tf.sqrt(tf.add(velocity_new, self.epsilon)))
        variable.assign(tf.where(gate, variable - increment, variable))


def _plain(optimizer: Any) -> bool:
    """Configured as `Architecture.optimizer` makes them: no clipping, EMA, accumulation, loss scale, AMSGrad,
    centering, Nesterov, or per-variable decay exclusions; Keras's internals where they were."""
    off = ("clipnorm", "clipvalue", "global_clipnorm", "gradient_accumulation_steps", "loss_scale_factor")
    return (
        not any(getattr(optimizer, name, None) for name in off)
        and not any(getattr(optimizer, name, False) for name in ("use_ema", "amsgrad", "centered", "nesterov"))
        and not getattr(optimizer, "_exclude_from_weight_decay", None)
        and not getattr(optimizer, "_exclude_from_weight_decay_pattern", None)
        and float(getattr(optimizer, "momentum", 0.0) or 0.0) >= 0.0
        and hasattr(optimizer, "_get_variable_index")
    )


def gated_update(optimizer: Any, grads: list[Any], variables: list[Any], gate: Any) -> bool:
    """Inside a traced step: `optimizer`'s update of `variables` where the scalar boolean `gate` holds (left
    exactly as they are where it does not), its step counter advanced by the gate. False (nothing done) for
    an optimizer without a direct update: the caller then gates Keras's own `apply`."""
    import keras
    import tensorflow as tf

    steps = {keras.optimizers.Adam: _adam, keras.optimizers.AdamW: _adam, keras.optimizers.RMSprop: _rmsprop}
    steps[keras.optimizers.SGD] = _sgd
    step = steps.get(type(optimizer))
    if step is None or not _plain(optimizer) or (step is _rmsprop and optimizer.momentum > 0):
        return False
    step(optimizer, tf, list(grads), [getattr(v, "value", v) for v in variables], gate)
    optimizer.iterations.assign_add(tf.cast(gate, optimizer.iterations.dtype))
    return True
