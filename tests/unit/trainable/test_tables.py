"""Clinical tables: column types, vocabularies, training-only statistics, raw rows encoded for a model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import clinical_frame, load

from trainable.data.dataset import inputs_from_frame
from trainable.data.schema import infer_kinds, refuse_id_like
from trainable.errors import HpsearchError


def test_column_types_vocabularies_and_training_only_statistics(clinical_csv):
    d = load(str(clinical_csv), target="outcome", drop=["patient_id"], missing="impute", positive="died")
    kinds = {c.name: c.kind for c in d.schema}
    assert kinds == {
        "age": "numeric",
        "crp": "numeric",
        "sex": "categorical",
        "stage": "categorical",
        "smoker": "categorical",
    }
    assert d.class_names == ["survived", "died"] and d.input_form == "columns"
    stage = next(c for c in d.schema if c.name == "stage")
    assert set(stage.vocabulary) <= {"I", "II", "III", "IV", "<missing>"}
    crp = next(c for c in d.schema if c.name == "crp")
    assert crp.indicator is True
    train_crp = d.X_train[crp.input].ravel()
    assert crp.fill == pytest.approx(float(np.nanmean(train_crp)), rel=1e-5)  # train split only
    assert "patient_id" not in d.feature_names


def test_missing_values_are_refused_by_default_with_columns_and_counts(clinical_csv):
    with pytest.raises(
        HpsearchError, match=r"missing values in column\(s\) crp \(25\), stage \(10\); .*data.missing: impute"
    ):
        load(str(clinical_csv), target="outcome")


def test_features_and_drop_select_columns(clinical_csv):
    d = load(str(clinical_csv), target="outcome", features=["age", "sex"])
    assert d.feature_names == ["age", "sex"]
    with pytest.raises(HpsearchError, match="data.drop names unknown column"):
        load(str(clinical_csv), target="outcome", drop=["nope"])


def test_positive_class_must_be_a_class(clinical_csv):
    with pytest.raises(HpsearchError, match="data.positive 'alive' is not a class; classes are: died, survived"):
        load(str(clinical_csv), target="outcome", drop=["patient_id"], missing="impute", positive="alive")


def test_raw_rows_encode_and_refuse_wrong_columns(clinical_csv):
    d = load(str(clinical_csv), target="outcome", drop=["patient_id"], missing="impute")
    raw = pd.read_csv(clinical_csv).drop(columns=["outcome", "patient_id"])
    X = inputs_from_frame(raw, d.schema)
    assert set(X) == {c.input for c in d.schema}
    with pytest.raises(HpsearchError, match="missing column\\(s\\) the model needs: crp"):
        inputs_from_frame(raw.drop(columns=["crp"]), d.schema)
    with pytest.raises(HpsearchError, match="unexpected column\\(s\\) the model was not trained on: extra"):
        inputs_from_frame(raw.assign(extra=1), d.schema)


def _visits_csv(tmp_path, patients: int = 300, visits: int = 4):
    """The issue's table: `patient_id` as text, 300 patients of 4 rows each (1,200 rows)."""
    frame = clinical_frame(patients * visits, seed=3).dropna()
    frame["patient_id"] = [f"P{i // visits:04d}" for i in frame.index]
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    return path


def test_an_id_like_text_column_is_refused_unless_dropped_grouped_or_kept(tmp_path):
    path = str(_visits_csv(tmp_path))
    with pytest.raises(HpsearchError) as info:
        load(path, target="outcome")
    message = str(info.value)
    assert "column `patient_id` looks like an ID (300 distinct values in" in message and "\n" not in message
    for advice in ("data.drop: [patient_id]", "data.group: patient_id", "data.keep_id_like: [patient_id]"):
        assert advice in message, advice
    assert "patient_id" not in load(path, target="outcome", drop=["patient_id"]).feature_names
    assert "patient_id" not in load(path, target="outcome", group="patient_id").feature_names
    kept = load(path, target="outcome", keep_id_like=["patient_id"])
    column = next(c for c in kept.schema if c.name == "patient_id")
    assert column.kind == "categorical" and len(column.vocabulary) > 200  # one-hot encoded, as asked
    with pytest.raises(HpsearchError, match="data.keep_id_like names unknown column\\(s\\) patient; columns are"):
        load(path, target="outcome", keep_id_like=["patient"])


@pytest.mark.parametrize(
    "values, rows_each, refused",
    [(51, 9, True), (51, 10, False), (50, 1, False), (200, 1, True), (3, 100, False)],
)
def test_id_like_means_more_than_50_values_averaging_fewer_than_10_rows(values, rows_each, refused):
    frame = pd.DataFrame({"code": [f"c{i}" for i in range(values) for _ in range(rows_each)]})
    kinds = infer_kinds(frame, "t.csv")
    if refused:
        with pytest.raises(HpsearchError, match=f"t.csv: column `code` looks like an ID \\({values} distinct"):
            refuse_id_like(frame, kinds, (), "t.csv")
    else:
        refuse_id_like(frame, kinds, (), "t.csv")
    refuse_id_like(frame, kinds, ("code",), "t.csv")  # kept on purpose
    numbers = pd.DataFrame({"code": np.arange(values * rows_each)})  # a numeric id is a number, not one-hot
    refuse_id_like(numbers, infer_kinds(numbers, "t.csv"), (), "t.csv")
