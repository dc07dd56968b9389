"""The serving export: a TensorFlow SavedModel that takes raw named columns and needs no hpsearch to load.

Contract: `write_serving(model, schema, n_classes, folder)` writes `model` (an
exported model: raw inputs in, probabilities out; cross-validated, the
fold-models' ensemble) as a SavedModel in `folder`, through Keras 3's
`keras.export.ExportArchive` (what `model.export` uses). It has one
signature, `serving_default`:
- inputs: one 1-D tensor per feature column, named by the column's Keras
  input name (`ColumnSchema.input`; the model card's `inputs` maps each to its
  column name): `float32` for a numeric column (NaN for a missing value, where
  the model imputes), `string` for a categorical column (its values as text,
  `trainable.data.schema.MISSING_TOKEN` for a missing value, as
  `trainable.data.schema.as_text` writes them for `hpsearch predict`);
- output `probabilities`: (n, K) float32, one column per class in the card's
  `data.class_names` order (binary: P(class 0), P(class 1)).
The custom layers (`trainable.trial.layers`) are traced into the graph, so
`tf.saved_model.load(folder).signatures["serving_default"](**columns)` (or
TF Serving, or `keras.layers.TFSMLayer`) needs TensorFlow only, and returns
what `hpsearch predict` does to float32 rounding (tested to 1e-6 in a process
where `search` and `trainable` cannot be imported). TensorFlow is imported
inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainable.data.schema import ColumnSchema, input_form

__all__ = ["OUTPUT", "SIGNATURE", "write_serving"]

SIGNATURE = "serving_default"
OUTPUT = "probabilities"


def _serve_fn(model: Any, schema: list[ColumnSchema], n_classes: int) -> Any:
    """(one 1-D tensor per column) -> {OUTPUT: (n, K) probabilities}, in the model's own input form."""
    import tensorflow as tf

    matrix = input_form(schema) == "matrix"

    def serve(*columns: Any) -> dict[str, Any]:
        cols = [tf.reshape(x, (-1, 1)) for x in columns]
        inputs = tf.concat(cols, axis=1) if matrix else {c.input: x for c, x in zip(schema, cols)}
        proba = model(inputs, training=False)
        if n_classes == 2:
            proba = tf.concat([1.0 - proba, proba], axis=1)
        return {OUTPUT: proba}

    return serve


def write_serving(model: Any, schema: list[ColumnSchema], n_classes: int, folder: str | Path) -> None:
    """Write the SavedModel (see the module docstring) into `folder` (created; must not exist)."""
    import tensorflow as tf

    from trainable.runtime.environment import import_keras

    keras = import_keras()
    specs = [tf.TensorSpec([None], tf.float32 if c.numeric else tf.string, name=c.input) for c in schema]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE, fn=_serve_fn(model, schema, n_classes), input_signature=specs)
    archive.write_out(str(folder), verbose=False)
