"""Real sweeps on clinical tables: CSV and Parquet, categorical and missing values, multiclass; the serving export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import clinical_frame, load, serve_without_hpsearch

from search.export.predict import predict_rows
from search.sweep.driver import run_sweep
from trainable.data.dataset import inputs_from_frame
from trainable.trial.model import load_model

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fmt, folds", [("csv", "auto"), ("parquet", 0)])  # 5-fold CV, and one validation split
def test_sweep_on_a_clinical_table_and_predict_raw_rows(ray_session, tiny, tmp_path, fmt, folds):
    frame = clinical_frame()
    path = tmp_path / f"clinical.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path)
    cfg = tiny(
        name=f"clin_{fmt}",
        **{
            "data.source": str(path),
            "data.target": "outcome",
            "data.drop": ["patient_id"],
            "data.missing": "impute",
            "data.positive": "died",
            "search.trials": 2,
            "train.class_weight": "balanced",
            "search.cv.folds": folds,
            "export.onnx": True,
        },
    )
    card = run_sweep(cfg).card
    assert card is not None and card.validation.folds == (5 if folds == "auto" else 0)
    assert card.data.class_names == ["survived", "died"]
    assert {c.name: c.kind for c in card.data.columns}["stage"] == "categorical"
    model = load_model(cfg.out_dir / "best" / "model.keras")
    raw = (pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)).drop(columns=["outcome", "patient_id"])
    proba = model.predict(inputs_from_frame(raw, card.data.columns), verbose=0)
    assert proba.shape == (len(frame), 1) and np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    # best/serving: the same probabilities as `hpsearch predict`, in a process that cannot import hpsearch
    raw.to_csv(tmp_path / "rows.csv", index=False)
    predicted = predict_rows(cfg.out_dir / "best", tmp_path / "rows.csv").frame
    served = serve_without_hpsearch(cfg.out_dir / "best", raw, tmp_path)
    assert served.shape == (len(frame), 2)
    assert np.abs(served - predicted[["proba_survived", "proba_died"]].to_numpy()).max() <= 1e-6
    # best/model.onnx (export.onnx): the same, in onnxruntime alone
    assert card.inputs["onnx"]["file"] == "model.onnx" and card.inputs["onnx"]["max_abs_diff"] <= 1e-5
    converted = serve_without_hpsearch(cfg.out_dir / "best", raw, tmp_path, form="onnx")
    assert np.abs(converted - predicted[["proba_survived", "proba_died"]].to_numpy()).max() <= 1e-6


def test_multiclass_sweep_uses_softmax_and_macro_auroc(ray_session, tiny):
    outcome = run_sweep(tiny(name="wine", **{"data.source": "builtin:wine", "search.trials": 2}))
    assert outcome.card is not None and outcome.card.data.class_names == ["class_0", "class_1", "class_2"]
    assert 0.5 < outcome.card.test.auroc <= 1.0
    model = load_model(outcome.best_dir / "model.keras")
    d = load("builtin:wine")
    proba = model.predict(d.X_test, verbose=0)
    assert proba.shape == (len(d.y_test), 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
