"""Predicting with an exported model on raw rows: `hpsearch predict MODEL_DIR INPUT`.

Contract: `ExportedModel(model_dir)` reads `model_card.json` (and, at its first
`predict(frame, where)`, `model.keras`); its `predict` takes raw rows with the
training columns by name through `trainable.data.dataset.inputs_from_frame`
(which refuses missing or unexpected columns in one line naming `where`).
`predict_rows(model_dir, input_path)` is `hpsearch predict`: it reads INPUT
(.csv/.parquet with the training feature names as columns, or a .npy/.npz
matrix in training column order; `trainable.data.sources.read_rows`) and
predicts on it. Both return a `Prediction`: a frame with one
`proba_<class>` column per class and `predicted` (the class name: for a binary
model, the positive class when its probability is >= the card's operating
threshold; otherwise the most probable class), plus the threshold used.
The probabilities come from the same call as the card's test metrics
(`trainable.trial.model.predict_proba`), so the model's own test rows reproduce them.
`write_predictions(frame, out)` writes .csv or .parquet atomically.
Bad input raises `HpsearchError`; nothing is written then. Keras is imported
inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.records.model_card import ModelCard, read_card
from search.records.paths import MODEL_FILE, atomic_write
from trainable.errors import HpsearchError

__all__ = ["OUTPUT_SUFFIXES", "ExportedModel", "Prediction", "check_output", "predict_rows", "write_predictions"]

OUTPUT_SUFFIXES = (".csv", ".parquet")


@dataclass
class Prediction:
    frame: pd.DataFrame
    threshold: float | None
    rule: str


def check_output(out: str | Path | None) -> None:
    """Refuse an output path we cannot write, before any work is done."""
    if out is None:
        return
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise HpsearchError(f"--out {out}: unsupported output type `{out.suffix or '(none)'}`; use .csv or .parquet")
    if out.is_dir():
        raise HpsearchError(f"--out {out}: is a directory; name a file")
    if not out.parent.is_dir():
        raise HpsearchError(f"--out {out}: folder {out.parent} does not exist")


def _exported(model_dir: Path) -> ModelCard:
    if not model_dir.is_dir():
        raise HpsearchError(f"{model_dir}: model directory not found")
    if not (model_dir / MODEL_FILE).is_file():
        raise HpsearchError(
            f"{model_dir / MODEL_FILE}: missing; MODEL_DIR must be an exported model (e.g. results/NAME/best)"
        )
    return read_card(model_dir)


def _label(full: np.ndarray, card: ModelCard) -> tuple[np.ndarray, float | None, str]:
    """(each row's class code, the threshold used, the rule in words)."""
    classes, threshold = card.data.class_names, card.threshold.value
    if len(classes) != 2:
        return full.argmax(axis=1), None, "the most probable class"
    if threshold is None:
        threshold, rule = 0.5, f"P({classes[1]}) >= 0.5 (this model card stores no operating threshold)"
    else:
        rule = f"P({classes[1]}) >= {threshold:.4f} ({card.threshold.method}, chosen on validation)"
    return (full[:, 1] >= threshold).astype(int), threshold, rule


class ExportedModel:
    """An exported model folder, loaded once: its card, and `predict(frame)` on raw rows (the Python API's
    `search.api.load_model`; `hpsearch predict` is `predict_rows`). TensorFlow is loaded at the first predict."""

    def __init__(self, model_dir: str | Path) -> None:
        self.folder = Path(model_dir)
        self.card = _exported(self.folder)
        self._model: Any = None

    @property
    def classes(self) -> list[str]:
        return list(self.card.data.class_names)

    def _keras(self) -> Any:
        if self._model is None:
            from trainable.runtime.environment import prepare_tensorflow

            prepare_tensorflow()
            from trainable.trial.model import load_model

            self._model = load_model(self.folder / MODEL_FILE)
        return self._model

    def predict(self, frame: pd.DataFrame, where: str = "rows") -> Prediction:
        """`frame`: raw rows with the training columns by name. Bad rows raise `HpsearchError` naming `where`."""
        from trainable.data.dataset import inputs_from_frame
        from trainable.stats.intervals import as_class_proba
        from trainable.trial.model import predict_proba

        X = inputs_from_frame(frame, self.card.data.columns, where=where)
        full = as_class_proba(predict_proba(self._keras(), X))
        classes = self.classes
        if full.shape[1] != len(classes):
            raise HpsearchError(
                f"{self.folder}: the model outputs {full.shape[1]} classes but its card lists {len(classes)}"
            )
        out = pd.DataFrame({f"proba_{c}": full[:, k] for k, c in enumerate(classes)})
        code, threshold, rule = _label(full, self.card)
        out["predicted"] = np.asarray(classes, dtype=object)[code]
        return Prediction(out, threshold, rule)


def predict_rows(model_dir: str | Path, input_path: str | Path) -> Prediction:
    from trainable.data.sources import read_rows

    model = ExportedModel(model_dir)
    frame = read_rows(input_path, model.card.data.feature_names)
    return model.predict(frame, where=str(input_path))


def write_predictions(frame: pd.DataFrame, out: str | Path) -> None:
    out = Path(out)
    check_output(out)
    if out.suffix.lower() == ".csv":
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        atomic_write(out, lambda tmp: frame.to_parquet(tmp, index=False))
