"""Predicting with an exported model on raw rows: `hpsearch predict MODEL_DIR INPUT`.

Contract: `predict_rows(model_dir, input_path)` loads `MODEL_DIR/model.keras`
and `model_card.json`, reads INPUT (.csv/.parquet with the training feature
names as columns, or a .npy/.npz matrix in training column order) through
`trainable.sources.read_rows` and `trainable.data.inputs_from_frame` (which refuse missing or
unexpected columns in one line), and returns a `Prediction`: a frame with one
`proba_<class>` column per class and `predicted` (the class name: for a binary
model, the positive class when its probability is >= the card's operating
threshold; otherwise the most probable class), plus the threshold used.
The probabilities come from the same call as the card's test metrics
(`trainable.model.predict_proba`), so the model's own test rows reproduce them.
`write_predictions(frame, out)` writes .csv or .parquet atomically.
Bad input raises `HpsearchError`; nothing is written then. Keras is imported
inside functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from search.layout import CARD_FILE, MODEL_FILE, atomic_write
from trainable.errors import HpsearchError

__all__ = ["OUTPUT_SUFFIXES", "Prediction", "check_output", "predict_rows", "write_predictions"]

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


def _read_card(model_dir: Path) -> dict:
    if not model_dir.is_dir():
        raise HpsearchError(f"{model_dir}: model directory not found")
    card_path = model_dir / CARD_FILE
    for needed in (card_path, model_dir / MODEL_FILE):
        if not needed.is_file():
            raise HpsearchError(f"{needed}: missing; MODEL_DIR must be an exported model (e.g. results/NAME/best)")
    try:
        card = json.loads(card_path.read_text())
        card["data"]["feature_names"], card["data"]["class_names"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise HpsearchError(f"{card_path}: not a readable model card ({type(exc).__name__}: {exc})") from None
    return card


def predict_rows(model_dir: str | Path, input_path: str | Path) -> Prediction:
    from trainable.data import inputs_from_frame
    from trainable.sources import read_rows
    from trainable.stats import as_class_proba
    from trainable.quiet import quiet_tensorflow

    model_dir = Path(model_dir)
    card = _read_card(model_dir)
    data = card["data"]
    names, classes = list(data["feature_names"]), list(data["class_names"])
    schema = data.get("schema") or [{"name": n, "kind": "numeric"} for n in names]
    frame = read_rows(input_path, names)
    X = inputs_from_frame(frame, schema, where=str(input_path))
    quiet_tensorflow()
    from trainable.model import load_model, predict_proba

    model = load_model(model_dir / MODEL_FILE)
    full = as_class_proba(predict_proba(model, X))
    if full.shape[1] != len(classes):
        raise HpsearchError(f"{model_dir}: the model outputs {full.shape[1]} classes but its card lists {len(classes)}")
    out = pd.DataFrame({f"proba_{c}": full[:, k] for k, c in enumerate(classes)})
    threshold = (card.get("threshold") or {}).get("value")
    if len(classes) == 2:
        if threshold is None:
            threshold, rule = 0.5, f"P({classes[1]}) >= 0.5 (this model card stores no operating threshold)"
        else:
            rule = f"P({classes[1]}) >= {threshold:.4f} ({card['threshold'].get('method')}, chosen on validation)"
        code = (full[:, 1] >= threshold).astype(int)
    else:
        threshold, rule = None, "the most probable class"
        code = full.argmax(axis=1)
    out["predicted"] = np.asarray(classes, dtype=object)[code]
    return Prediction(out, threshold, rule)


def write_predictions(frame: pd.DataFrame, out: str | Path) -> None:
    out = Path(out)
    check_output(out)
    if out.suffix.lower() == ".csv":
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        atomic_write(out, lambda tmp: frame.to_parquet(tmp, index=False))
