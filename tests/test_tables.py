"""Real clinical tables: CSV/Parquet, categorical and missing values, multiclass, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import HPSEARCH, ROOT, tiny_overrides
from trainable.data import inputs_from_frame, load_dataset
from trainable.errors import HpsearchError


def clinical_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n).round()
    crp = rng.lognormal(1, 0.8, n)
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice(["I", "II", "III", "IV"], n)
    logit = 0.08 * (age - 60) + 0.8 * np.log(crp) + (stage == "IV") * 2.0 + (sex == "M") * 0.5 - 1.0
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "age": age,
            "crp": crp,
            "sex": sex,
            "stage": stage,
            "smoker": rng.choice([True, False], n),
            "outcome": np.where(y, "died", "survived"),
        }
    )
    frame.loc[rng.choice(n, 25, replace=False), "crp"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "stage"] = None
    return frame


@pytest.fixture
def clinical_csv(tmp_path):
    path = tmp_path / "clinical.csv"
    clinical_frame().to_csv(path, index=False)
    return path


def test_column_types_vocabularies_and_training_only_statistics(clinical_csv):
    d = load_dataset(str(clinical_csv), "outcome", drop=["patient_id"], missing="impute", positive="died")
    kinds = {c["name"]: c["kind"] for c in d.schema}
    assert kinds == {"age": "numeric", "crp": "numeric", "sex": "categorical", "stage": "categorical", "smoker": "categorical"}
    assert d.class_names == ["survived", "died"] and d.layout == "columns"
    stage = next(c for c in d.schema if c["name"] == "stage")
    assert set(stage["vocabulary"]) <= {"I", "II", "III", "IV", "<missing>"}
    crp = next(c for c in d.schema if c["name"] == "crp")
    assert crp["indicator"] is True
    train_crp = d.X_train[crp["input"]].ravel()
    assert crp["fill"] == pytest.approx(float(np.nanmean(train_crp)), rel=1e-5)  # train split only
    assert "patient_id" not in d.feature_names


def test_missing_values_are_refused_by_default_with_columns_and_counts(clinical_csv):
    with pytest.raises(HpsearchError, match=r"missing values in column\(s\) crp \(25\), stage \(10\); .*data.missing: impute"):
        load_dataset(str(clinical_csv), "outcome")


def test_features_and_drop_select_columns(clinical_csv):
    d = load_dataset(str(clinical_csv), "outcome", features=["age", "sex"])
    assert d.feature_names == ["age", "sex"]
    with pytest.raises(HpsearchError, match="data.drop names unknown column"):
        load_dataset(str(clinical_csv), "outcome", drop=["nope"])


def test_positive_class_must_be_a_class(clinical_csv):
    with pytest.raises(HpsearchError, match="data.positive 'alive' is not a class; classes are: died, survived"):
        load_dataset(str(clinical_csv), "outcome", drop=["patient_id"], missing="impute", positive="alive")


def test_raw_rows_encode_and_refuse_wrong_columns(clinical_csv):
    d = load_dataset(str(clinical_csv), "outcome", drop=["patient_id"], missing="impute")
    raw = pd.read_csv(clinical_csv).drop(columns=["outcome", "patient_id"])
    X = inputs_from_frame(raw, d.schema)
    assert set(X) == {c["input"] for c in d.schema}
    with pytest.raises(HpsearchError, match="missing column\\(s\\) the model needs: crp"):
        inputs_from_frame(raw.drop(columns=["crp"]), d.schema)
    with pytest.raises(HpsearchError, match="unexpected column\\(s\\) the model was not trained on: extra"):
        inputs_from_frame(raw.assign(extra=1), d.schema)


# --- bad input: one line naming the file/column, exit 2, no traceback, no results folder -------------

def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    ok = clinical_frame(60).drop(columns=["patient_id"]).dropna()
    cases: dict[str, tuple[list[str], str]] = {}

    def case(name, filename, writer, expected, target="outcome"):
        path = tmp / filename
        writer(path)
        args = ["--data", str(path)] + (["--target", target] if target else [])
        cases[name] = (args, expected)

    case("missing_file", "absent.csv", lambda p: None, "absent.csv: data file not found")
    case("corrupt_parquet", "bad.parquet", lambda p: p.write_bytes(b"PAR1 this is not parquet"), "bad.parquet: cannot read the file")
    case("pickled_npy", "obj.npy", lambda p: np.save(p, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True), "obj.npy: holds pickled Python objects", None)
    case("empty_file", "empty.csv", lambda p: p.write_text(""), "empty.csv: the file is empty")
    case("header_only", "header.csv", lambda p: p.write_text("age,sex,outcome\n"), "header.csv: has a header but no data rows")
    case("too_few_rows", "few.csv", lambda p: ok.head(6).to_csv(p, index=False), "too few rows for a stratified")
    case("single_class", "one.csv", lambda p: ok.assign(outcome="died").to_csv(p, index=False), "single class")
    case("missing_target", "t.csv", lambda p: ok.to_csv(p, index=False), "target column `label` not found; columns are: age, crp, sex, stage, smoker, outcome", "label")
    case("text_in_numeric", "text.csv", lambda p: ok.astype({"crp": object}).assign(crp=lambda f: f["crp"].where(f.index != f.index[3], "<0.5")).to_csv(p, index=False), "column `crp` holds numbers but also text, e.g. '<0.5'")
    case("infinite", "inf.csv", lambda p: ok.assign(age=lambda f: f["age"].where(f.index != f.index[0], np.inf)).to_csv(p, index=False), "column `age` has 1 infinite value")
    case("one_d_array", "flat.npy", lambda p: np.save(p, np.arange(20.0)), "flat.npy: expected a 2-D array", None)
    case("unsupported", "data.xlsx", lambda p: p.write_text("x"), "unsupported file type `.xlsx`")
    case("continuous_target", "cont.csv", lambda p: ok.assign(outcome=np.linspace(0, 1, len(ok))).to_csv(p, index=False), "looks continuous")
    return cases


BAD_CASES = ["missing_file", "corrupt_parquet", "pickled_npy", "empty_file", "header_only", "too_few_rows", "single_class",
             "missing_target", "text_in_numeric", "infinite", "one_d_array", "unsupported", "continuous_target"]


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_input_fails_cleanly(tmp_path, name):
    args, expected = _bad_inputs(tmp_path)[name]
    results = tmp_path / "results"
    out = subprocess.run(
        [*HPSEARCH, "run", *args, "--results-dir", str(results)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpsearch: error: "), out.stderr
    assert expected in lines[0]
    assert "Traceback" not in out.stderr
    assert not results.exists()


# --- real sweeps on tables -----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fmt, folds", [("csv", "auto"), ("parquet", 0)])  # 5-fold CV, and one validation split
def test_sweep_on_a_clinical_table_and_predict_raw_rows(ray_session, tmp_path, fmt, folds):
    from search.config import load_config
    from search.driver import run_sweep
    from trainable.model import load_model

    frame = clinical_frame()
    path = tmp_path / f"clinical.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path)
    cfg = load_config(
        None,
        tiny_overrides(
            tmp_path,
            name=f"clin_{fmt}",
            **{"data.source": str(path), "data.target": "outcome", "data.drop": ["patient_id"],
               "data.missing": "impute", "data.positive": "died", "search.trials": 2, "train.class_weight": "balanced",
               "search.cv.folds": folds},
        ),
    )
    outcome = run_sweep(cfg)
    card = outcome.card
    assert card["validation"]["folds"] == (5 if folds == "auto" else 0)
    assert card["data"]["class_names"] == ["survived", "died"]
    assert {c["name"]: c["kind"] for c in card["data"]["schema"]}["stage"] == "categorical"
    model = load_model(outcome.best_dir / "model.keras")
    raw = (pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)).drop(columns=["outcome", "patient_id"])
    proba = model.predict(inputs_from_frame(raw, card["data"]["schema"]), verbose=0)
    assert proba.shape == (len(frame), 1) and np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()


@pytest.mark.slow
def test_multiclass_sweep_uses_softmax_and_macro_auroc(ray_session, tmp_path):
    from search.config import load_config
    from search.driver import run_sweep
    from trainable.model import load_model

    cfg = load_config(None, tiny_overrides(tmp_path, name="wine", **{"data.source": "builtin:wine", "search.trials": 2}))
    outcome = run_sweep(cfg)
    assert outcome.card["data"]["class_names"] == ["class_0", "class_1", "class_2"]
    assert 0.5 < outcome.card["test"]["auroc"] <= 1.0
    model = load_model(outcome.best_dir / "model.keras")
    d = load_dataset("builtin:wine")
    proba = model.predict(d.X_test, verbose=0)
    assert proba.shape == (len(d.y_test), 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
