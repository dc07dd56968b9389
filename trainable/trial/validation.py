"""How a trial is validated: one validation split, or k folds trained in lockstep.

Contract: `scheme_for(data)` returns the `Dataset`'s scheme, `Holdout` (one
validation split) or `CrossValidation` (`data.n_folds` folds). Both answer
the same questions, so a trial, the export and the report need not know which:
- `build(hp, steps)`: the compiled model to train;
- `encoder()`, `head(hp, encoded, seed, name)`, `loss()`: the pieces of a pack
  (`trainable.trial.pack`): the shared preprocessing, one configuration's
  layers on its output, and one configuration's loss;
- `targets(class_weight)`: `(y, fit keyword arguments)` for `model.fit` on
  `data.X_train`;
- `validation(output)`: the validation probabilities for `data.y_val`, from the
  model's output on `data.X_val` (cross-validated: each row's out-of-fold
  prediction, from the fold-model that never trained on it);
- `loss_scale`: what the trained model's loss is divided by to read as one
  model's (the fold loss sums the k fold-models');
- `export(model)`: the model to export (the k fold-models averaged).
`validation_proba(model, data)` is the trained model's validation
probabilities. Keras is imported inside functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainable.data.dataset import Dataset

__all__ = ["CrossValidation", "Holdout", "Scheme", "scheme_for", "validation_proba"]


def _balanced(y: np.ndarray) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    return {int(c): float(w) for c, w in zip(classes, compute_class_weight("balanced", classes=classes, y=y))}


class Holdout:
    loss_scale = 1

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def build(self, hp: dict[str, Any], steps: int) -> Any:
        from trainable.trial.model import build_model

        return build_model(hp, self.data.schema, self.data.n_classes, steps_per_execution=steps)

    def encoder(self) -> Any:
        from trainable.trial.model import encoder

        return encoder(self.data.schema)

    def head(self, hp: dict[str, Any], encoded: Any, seed: int | None, name: str) -> Any:
        from trainable.trial.model import head

        return head(hp, int(encoded.shape[-1]), self.data.n_classes, seed, name)

    def loss(self) -> Any:
        from trainable.trial.model import loss

        return loss(self.data.n_classes)

    def targets(self, class_weight: bool) -> tuple[np.ndarray, dict[str, Any]]:
        y = self.data.y_train
        return y, {"class_weight": _balanced(y) if class_weight else None}

    def validation(self, output: Any) -> np.ndarray:
        return np.asarray(output, dtype=np.float64)

    def export(self, model: Any) -> Any:
        import keras

        return keras.Model(model.input, model.output, name=model.name)  # uncompiled: for predicting


class CrossValidation:
    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.loss_scale = data.n_folds

    def build(self, hp: dict[str, Any], steps: int) -> Any:
        from trainable.trial.fold_model import build_fold_model

        return build_fold_model(hp, list(self.data.fold_schemas or ()), self.data.n_classes, steps_per_execution=steps)

    def encoder(self) -> Any:
        from trainable.trial.fold_model import fold_encoder

        return fold_encoder(list(self.data.fold_schemas or ()))

    def head(self, hp: dict[str, Any], encoded: Any, seed: int | None, name: str) -> Any:
        from trainable.trial.fold_model import fold_head

        k, width = int(encoded.shape[-2]), int(encoded.shape[-1])
        return fold_head(hp, k, width, self.data.n_classes, seed, name)

    def loss(self) -> Any:
        from trainable.trial.layers import FoldLoss

        return FoldLoss(self.data.n_classes)

    def targets(self, class_weight: bool) -> tuple[np.ndarray, dict[str, Any]]:
        """(n, 1 + k): each row's label, then its weight for each fold-model (0 where held out)."""
        y, folds = self.data.y_train, self.data.folds
        assert folds is not None
        weights = np.zeros((len(y), self.data.n_folds), dtype=np.float32)
        for j in range(self.data.n_folds):
            trains = folds != j
            per_class = _balanced(y[trains]) if class_weight else None
            weights[trains, j] = [per_class[int(c)] for c in y[trains]] if per_class else 1.0
        return np.column_stack([y.astype(np.float32), weights]), {}

    def validation(self, output: Any) -> np.ndarray:
        """(n, k, C) fold-model logits -> (n, C) probabilities: each row from the fold-model that held it out."""
        from trainable.trial.fold_model import probabilities

        proba = probabilities(output)
        return proba[np.arange(len(proba)), self.data.folds]

    def export(self, model: Any) -> Any:
        from trainable.trial.fold_model import ensemble

        return ensemble(model)


Scheme = Holdout | CrossValidation


def scheme_for(data: Dataset) -> Scheme:
    return CrossValidation(data) if data.n_folds else Holdout(data)


def validation_proba(model: Any, data: Dataset) -> np.ndarray:
    """A trained (or checkpointed) model's probabilities for `data.y_val`'s rows."""
    from trainable.trial.model import predict_output

    return scheme_for(data).validation(predict_output(model, data.X_val))
