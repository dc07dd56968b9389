"""The fenced private APIs of TensorFlow and Keras: still where `trainable.runtime._compat` reaches for them, in
the versions it was checked against. A failure here means an upgrade moved an internal: re-read it, then update
`_compat` (and its `CHECKED` versions)."""

from __future__ import annotations

import numpy as np

from trainable.runtime import _compat


def test_the_installed_versions_are_those_the_patches_were_checked_against():
    assert _compat.unchecked_versions() == {}, (
        f"re-check trainable/runtime/_compat.py against {_compat.unchecked_versions()}, then add the versions"
    )


def test_keras_array_datasets_run_without_autotuning_once_patched():
    """An autotuned tf.data iterator waits for its optimisation thread when destroyed, at the end of a
    trial (0.2-0.6 s on busy CPUs): `configure_tensorflow` turns autotuning off where Keras builds them."""
    from trainable.runtime.tf import configure_tensorflow

    configure_tensorflow(1)
    assert _compat.autotune_disabled(), "Keras's ArrayDataAdapter.get_tf_dataset moved: the patch did not apply"
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    x, y = np.zeros((10, 3), "float32"), np.arange(10, dtype="float32")
    dataset = ArrayDataAdapter(x, y, batch_size=4, shuffle=True).get_tf_dataset()
    assert dataset.options().autotune.enabled is False
    assert sorted(float(v) for _, batch in dataset for v in batch.numpy()) == list(range(10))  # every row, once


def test_traced_graphs_and_registered_functions_are_where_they_are_looked_for():
    """What `trainable.runtime.tf` releases between trials: traced graphs, and the eager context's functions
    (releasing them for real is the memory test's: tests/integration/test_memory.py)."""
    import tensorflow as tf
    from tensorflow.python.eager import context
    from tensorflow.python.framework import func_graph

    from trainable.runtime.tf import configure_tensorflow

    configure_tensorflow(1)

    @tf.function
    def double(x):
        return 2 * x

    before = _compat.function_names()
    double(tf.constant(1.0))
    assert any(isinstance(g, func_graph.FuncGraph) for g in _compat.function_graphs())
    assert any("double" in name for name in _compat.function_names() - before)
    assert callable(func_graph.dismantle_func_graph) and callable(context.context().remove_function)
