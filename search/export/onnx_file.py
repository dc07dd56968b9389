"""An exported model's ONNX file (`export.onnx`): converted from `serving/`, checked, or left out with the reason.

Contract: `check_onnx(cfg)` refuses `export.onnx: true` in one line, before
anything runs, when tf2onnx or onnxruntime is not installed (`ONNX_INSTALL`).
`write_checked_onnx(folder, model, data)` converts `folder/serving`
(`trainable.trial.onnx_export`) to `folder/model.onnx` and keeps it only if
onnxruntime gives the exported `model`'s own probabilities on the validation
rows to `ONNX_TOLERANCE`; it returns the card's `inputs.onnx`: `{file,
checked_rows, max_abs_diff}`, or `{file: None, skipped: why}` (a model
tf2onnx cannot convert, or one that fails the check, is exported without
ONNX: nothing that finished is lost). Imports TensorFlow, tf2onnx and
onnxruntime inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from search.config.schema import Config
from search.records.paths import ONNX_FILE, SERVING_DIR
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError

__all__ = ["ONNX_INSTALL", "ONNX_TOLERANCE", "check_onnx", "write_checked_onnx"]

ONNX_INSTALL = "uv sync --extra onnx"
ONNX_TOLERANCE = 1e-5  # float32 noise across runtimes on these models is ~1e-7, up to ~3e-6 far outside the data


def check_onnx(cfg: Config) -> None:
    """With `export.onnx`, refuse in one line, before anything runs, when the ONNX packages are missing."""
    import importlib.util

    if cfg.export.onnx and not all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnxruntime")):
        raise HpsearchError(
            f"export.onnx: true needs tf2onnx and onnxruntime; install them with `{ONNX_INSTALL}` and run again"
        )


def write_checked_onnx(folder: Path, model: Any, data: Dataset) -> dict[str, Any]:
    """`folder/model.onnx` from `folder/serving`, kept only if onnxruntime gives the model's own probabilities
    on the validation rows to `ONNX_TOLERANCE`; the card's `inputs.onnx` says which, and by how much."""
    from trainable.stats.intervals import as_class_proba
    from trainable.trial.model import predict_proba
    from trainable.trial.onnx_export import onnx_proba, serving_columns, write_onnx

    path = folder / ONNX_FILE
    try:
        write_onnx(folder / SERVING_DIR, path)
        converted = onnx_proba(path, serving_columns(data.X_val, data.schema))
    except Exception as exc:  # an operation tf2onnx or onnxruntime cannot take: the export goes on without ONNX
        path.unlink(missing_ok=True)
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        return {"file": None, "skipped": f"conversion failed ({type(exc).__name__}: {reason})"}
    diff = float(np.abs(converted - as_class_proba(predict_proba(model, data.X_val))).max())
    if not diff <= ONNX_TOLERANCE:
        path.unlink()
        return {"file": None, "skipped": f"max |onnx - model| = {diff:.3g} on the validation rows > {ONNX_TOLERANCE}"}
    return {"file": ONNX_FILE, "checked_rows": int(len(data.y_val)), "max_abs_diff": diff}
