"""ONNX: the serving SavedModel converted by tf2onnx, and run in onnxruntime (optional: `export.onnx`).

Contract: `write_onnx(serving_dir, path)` converts `serving/`
(`trainable.trial.serving`) to one ONNX file with the same contract: one 1-D
input per feature column, named as there (float32, NaN for a missing value
where the model imputes; string, `<missing>` for a missing value; text
columns go through ONNX-ML's `CategoryMapper`, so a runtime needs string
tensors), and the output `probabilities` (n, K). `onnx_proba(path, columns)`
runs it in onnxruntime. `serving_columns(X, schema)` turns the model's encoded
input (`trainable.data.encoding.encode`: a matrix or a dict of (n, 1) arrays)
into those columns. Nothing here checks the result: the caller compares it
with the model's own predictions (`search.export.export`), because an
operation tf2onnx cannot convert does not make it fail (it writes a file that
onnxruntime refuses).
Two things tf2onnx (1.17) gets wrong for hpsearch's models are dealt with:
TensorFlow's `Erfc` (the exact GELU) has no converter, so one is registered
here (erfc(x) = 1 - erf(x)); a `where` on a slice of `isnan` came out NaN for
every row with a missing value (`FoldImpute` feeds `where` from `isnan`
directly). Keras's own `model.export(format="onnx")` is not used: for these
models it writes files onnxruntime cannot run (the normalisation constants
become extra inputs; the vocabularies' lookups stay TensorFlow ops).
It calls `tf2onnx.convert._convert_common` (what tf2onnx's own command line
runs after loading a SavedModel; its public `from_graph_def` drops the lookup
tables), checked against tf2onnx 1.17.0. Needs the `onnx` extra; imports
TensorFlow, tf2onnx and onnxruntime inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainable.data.schema import ColumnSchema, input_form
from trainable.trial.serving import OUTPUT, SIGNATURE

__all__ = ["onnx_proba", "serving_columns", "write_onnx"]

_registered: list[bool] = []


def _register_erfc() -> None:
    """tf2onnx's converter for `Erfc`, once per process."""
    if _registered:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx: Any, node: Any, **kwargs: Any) -> None:
            erf = ctx.make_node("Erf", [node.input[0]])
            one = ctx.make_const(utils.make_name("one"), np.array(1.0, np.float32))
            ctx.replace_inputs(node, [one.output[0], erf.output[0]])
            node.type = "Sub"

    _registered.append(True)


def write_onnx(serving_dir: str | Path, path: str | Path) -> None:
    """`serving_dir` (a SavedModel of `trainable.trial.serving`) -> the ONNX file `path`."""
    import tensorflow as tf
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common

    _register_erfc()
    graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(serving_dir),
        None,
        None,
        signatures=[SIGNATURE],
        return_initialized_tables=True,
        return_tensors_to_rename=True,
    )
    with tf.device("/cpu:0"):
        _convert_common(
            graph_def,
            name="hpsearch",
            input_names=inputs,
            output_names=outputs,
            tensors_to_rename=renames,
            initialized_tables=tables,
            output_path=str(path),
        )


def serving_columns(X: Any, schema: list[ColumnSchema]) -> dict[str, np.ndarray]:
    """The encoded input (a matrix, or a dict of (n, 1) arrays) as the signature's 1-D columns."""
    if input_form(schema) == "matrix":
        return {c.input: np.ascontiguousarray(X[:, j], dtype=np.float32) for j, c in enumerate(schema)}
    return {c.input: X[c.input].reshape(-1).astype(np.float32 if c.numeric else object, copy=False) for c in schema}


def onnx_proba(path: str | Path, columns: dict[str, np.ndarray]) -> np.ndarray:
    """The ONNX model's `probabilities` for `columns`, run in onnxruntime (CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run([OUTPUT], columns)[0])
