"""Custom Keras layers saved inside exported models.

`Impute` replaces NaN in a block of numeric columns by fill values learned on
the training split, and appends a 0/1 missing-value indicator for the columns
that had missing values in training. It is registered as
`hpsearch>Impute`: import this module (or use `trainable.model.load_model`)
before `keras.models.load_model` on a model trained with `data.missing: impute`.
"""

from __future__ import annotations

from trainable.quiet import import_keras

keras = import_keras()

__all__ = ["Impute"]


@keras.saving.register_keras_serializable(package="hpsearch")
class Impute(keras.layers.Layer):
    def __init__(self, fill: list[float], indicator: list[bool], **kwargs) -> None:
        super().__init__(**kwargs)
        self.fill = [float(v) for v in fill]
        self.indicator = [bool(v) for v in indicator]

    def call(self, x):
        ops = keras.ops
        missing = ops.isnan(x)
        filled = ops.where(missing, ops.convert_to_tensor([self.fill], dtype=x.dtype), x)
        cols = [i for i, flag in enumerate(self.indicator) if flag]
        if not cols:
            return filled
        flags = ops.cast(ops.take(missing, cols, axis=1), x.dtype)
        return ops.concatenate([filled, flags], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.fill) + sum(self.indicator))

    def get_config(self) -> dict:
        return {**super().get_config(), "fill": self.fill, "indicator": self.indicator}
