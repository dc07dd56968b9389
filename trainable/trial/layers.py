"""Custom Keras objects saved inside models (registered under the package `hpsearch`).

- `Impute` replaces NaN in a block of numeric columns by fill values learned on
  the training rows, and appends a 0/1 missing-value indicator for the
  columns that had missing values in training.
- `FoldImpute` is the same for k fold-models at once: (n, d) -> (n, k, d + i),
  with fold j's fill values and indicators (i: the columns any fold flags; a
  column fold j does not flag stays 0 in its indicator).
- `FoldVocabulary` turns one one-hot block over the development rows'
  vocabulary, (n, V + 1) with slot 0 for unknown values, into k blocks
  (n, k, V + 1) in which fold j knows only its training rows' values: any
  other value moves to the unknown slot, as fold j's own lookup would do.
- `FoldLoss` trains k fold-models as one: y_true is (n, 1 + k), the label and
  each fold-model's weight for the row (0 where the row is held out, else its
  class weight); y_pred is (n, k, C) logits. It is the sum over fold-models of
  each one's weighted mean cross-entropy over its training rows in the batch
  (computed from the logits, so a confidently wrong prediction still has a
  gradient): a fold-model's gradient is the one it would get alone from its
  rows of the batch. (What differs from training it alone: its batches are the
  (k-1)/k of each batch it trains on, of varying size, and an epoch has
  ceil(n/batch) steps over all development rows.)
Import this module (or use `trainable.trial.model.load_model`) before
`keras.models.load_model` on a model that holds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trainable.runtime.environment import import_keras

if TYPE_CHECKING:
    import keras
else:
    keras = import_keras()  # TensorFlow imported quietly, first
ops = keras.ops

__all__ = ["FoldImpute", "FoldLoss", "FoldVocabulary", "Impute"]


@keras.saving.register_keras_serializable(package="hpsearch")
class Impute(keras.layers.Layer):
    def __init__(self, fill: list[float], indicator: list[bool], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fill = [float(v) for v in fill]
        self.indicator = [bool(v) for v in indicator]

    def call(self, x: Any) -> Any:
        missing = ops.isnan(x)
        filled = ops.where(missing, ops.convert_to_tensor([self.fill], dtype=x.dtype), x)
        cols = [i for i, flag in enumerate(self.indicator) if flag]
        if not cols:
            return filled
        flags = ops.cast(ops.take(missing, cols, axis=1), x.dtype)
        return ops.concatenate([filled, flags], axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], len(self.fill) + sum(self.indicator))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fill": self.fill, "indicator": self.indicator}


@keras.saving.register_keras_serializable(package="hpsearch")
class FoldImpute(keras.layers.Layer):
    def __init__(self, fill: list[list[float]], indicator: list[list[bool]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fill = [[float(v) for v in row] for row in fill]  # (k, d)
        self.indicator = [[bool(v) for v in row] for row in indicator]  # (k, d)
        self.flagged = [c for c in range(len(self.fill[0])) if any(row[c] for row in self.indicator)]

    def call(self, x: Any) -> Any:
        # isnan straight into the where: converted to ONNX (tf2onnx), a slice between them becomes
        # cond * a + (1 - cond) * b, and NaN * 0 is NaN (every row with a missing value came out NaN)
        x = x[:, None, :]  # (n, 1, d)
        missing = ops.isnan(x)
        filled = ops.where(missing, ops.convert_to_tensor(self.fill, dtype=x.dtype)[None], x)
        if not self.flagged:
            return filled
        keep = np.array([[row[c] for c in self.flagged] for row in self.indicator], dtype="float32")  # (k, i)
        flags = ops.cast(ops.take(missing, self.flagged, axis=2), x.dtype) * ops.convert_to_tensor(keep, x.dtype)
        return ops.concatenate([filled, flags], axis=2)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], len(self.fill), len(self.fill[0]) + len(self.flagged))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fill": self.fill, "indicator": self.indicator}


@keras.saving.register_keras_serializable(package="hpsearch")
class FoldVocabulary(keras.layers.Layer):
    def __init__(self, known: list[list[bool]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.known = [[bool(v) for v in row] for row in known]  # (k, V + 1); slot 0, unknown, always True

    def call(self, x: Any) -> Any:
        x = ops.cast(x, self.compute_dtype)  # a lookup's one-hot output may be integer
        known = ops.convert_to_tensor(np.array(self.known, dtype="float32"), x.dtype)
        kept = x[:, None, :] * known[None]  # (n, k, V + 1)
        unknown = 1.0 - ops.sum(kept, axis=2, keepdims=True)  # 1 where fold j does not know the value
        slot0 = ops.convert_to_tensor(np.eye(len(self.known[0]), dtype="float32")[:1], x.dtype)[None]
        return kept + unknown * slot0

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], len(self.known), len(self.known[0]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "known": self.known}


@keras.saving.register_keras_serializable(package="hpsearch")
class FoldLoss(keras.losses.Loss):
    def __init__(self, n_classes: int, name: str = "fold_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.n_classes = int(n_classes)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        label, weight = y_true[:, 0], y_true[:, 1:]  # (n,), (n, k)
        if self.n_classes == 2:
            target = ops.broadcast_to(label[:, None], ops.shape(weight))
            loss = ops.binary_crossentropy(target, y_pred[..., 0], from_logits=True)  # (n, k)
        else:
            target = ops.broadcast_to(ops.cast(label, "int32")[:, None], ops.shape(weight))
            loss = ops.sparse_categorical_crossentropy(target, y_pred, from_logits=True)
        rows = ops.maximum(ops.sum(ops.cast(weight > 0, loss.dtype), axis=0), 1.0)  # training rows per fold-model
        return ops.sum(ops.sum(weight * loss, axis=0) / rows)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_classes": self.n_classes}
