"""Clinical tables: column types, vocabularies, training-only statistics, raw rows encoded for a model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load

from trainable.data.dataset import inputs_from_frame
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
