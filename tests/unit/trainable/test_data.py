import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import load

from trainable.errors import HpsearchError


def _rows(*arrays):
    return {tuple(np.round(r, 5)) for a in arrays for r in a}


def test_builtin_breast_cancer_split_is_stratified_disjoint_and_seeded():
    d = load("builtin:breast_cancer")
    n = len(d.y_train) + len(d.y_val) + len(d.y_test)
    assert n == 569 and d.n_features == 30 and d.class_names == ["benign", "malignant"]
    assert abs(len(d.y_test) - 0.15 * 569) <= 1 and abs(len(d.y_val) - 0.15 * 569) <= 1
    # stratified: every split has the malignant rate of the whole table (212/569)
    for y in (d.y_train, d.y_val, d.y_test):
        assert abs(y.mean() - 212 / 569) < 0.02
    # held out: no test row appears among the training or validation rows
    assert not (_rows(d.X_test) & _rows(d.X_train, d.X_val))
    assert not (_rows(d.X_val) & _rows(d.X_train))
    again = load("builtin:breast_cancer")
    assert np.array_equal(d.X_test, again.X_test) and d.sha256 == again.sha256
    other = load("builtin:breast_cancer", seed=7)
    assert not np.array_equal(d.X_test, other.X_test)
    # scaling statistics come from the training split only
    assert np.allclose(d.feature_mean, d.X_train.mean(axis=0), rtol=1e-4)


def test_npy_last_column_is_the_label_and_rows_keep_their_labels(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(float)  # the label is a function of the row
    path = tmp_path / "data.npy"
    np.save(path, np.column_stack([X, y]))
    d = load(str(path))
    assert d.n_features == 4 and d.n_classes == 2
    for Xs, ys in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert np.array_equal((Xs[:, 0] > 0).astype(int), ys)  # X and y were shuffled together
    assert len(d.sha256) == 64


def test_numeric_csv_with_target(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["age", "bmi", "crp"])
    frame["outcome"] = (frame["age"] > 0).astype(int)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    d = load(str(path), target="outcome")
    assert d.feature_names == ["age", "bmi", "crp"]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: np.save(p / "d.npy", np.arange(10.0)), "expected a 2-D array"),
        (lambda p: np.save(p / "d.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True), "pickled"),
        (lambda p: (p / "d.npy").write_bytes(b"not numpy at all"), "not a readable .npy"),
        (lambda p: (p / "d.npy").write_bytes(b""), "empty"),
        (lambda p: np.save(p / "d.npy", np.column_stack([np.ones((30, 2)), np.zeros(30)])), "single class"),
        (lambda p: np.save(p / "d.npy", np.column_stack([np.ones((6, 2)), [0, 1, 0, 1, 0, 1]])), "too few rows"),
        (
            lambda p: np.save(
                p / "d.npy",
                np.column_stack([np.r_[np.inf, np.ones(59)], np.ones(60), np.r_[np.zeros(30), np.ones(30)]]),
            ),
            "infinite",
        ),
    ],
)
def test_bad_npy_files_are_refused_in_one_line(tmp_path, make, expected):
    make(tmp_path)
    with pytest.raises(HpsearchError) as info:
        load(str(tmp_path / "d.npy"))
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert str(tmp_path / "d.npy") in str(info.value)


def test_pickled_npy_is_never_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "d.npy"
    np.save(path, np.array([object()] * 3, dtype=object), allow_pickle=True)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(HpsearchError, match="pickled"):
        load(str(path))


def test_missing_file_unsupported_extension_unknown_builtin_and_missing_target(tmp_path):
    with pytest.raises(HpsearchError, match="data file not found"):
        load(str(tmp_path / "none.npy"))
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(HpsearchError, match="unsupported file type `.xlsx`"):
        load(str(tmp_path / "x.xlsx"))
    with pytest.raises(HpsearchError, match="unknown built-in dataset"):
        load("builtin:titanic")
    pd.DataFrame({"a": range(30), "y": [0, 1] * 15}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(HpsearchError, match="target column `label` not found; columns are: a, y"):
        load(str(tmp_path / "t.csv"), target="label")


def test_continuous_target_is_refused(tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "d.npy", rng.normal(size=(100, 3)))
    with pytest.raises(HpsearchError, match="continuous"):
        load(str(tmp_path / "d.npy"))


# --- cross-validation folds ---------------------------------------------------------------------


def test_folds_are_stratified_seeded_and_hold_the_same_test_split():
    holdout = load("builtin:breast_cancer")
    d = load("builtin:breast_cancer", folds=5)
    assert d.n_folds == 5 and d.n_dev == 483 and holdout.n_dev == 483
    assert np.array_equal(d.X_test, holdout.X_test)  # the test split is held out first, as without folds
    assert d.X_val is d.X_train and len(d.y_val) == 483  # every development row is validated, out of fold
    assert not (_rows(d.X_test) & _rows(d.X_train))
    sizes = np.bincount(d.folds)
    assert len(sizes) == 5 and sizes.max() - sizes.min() <= 1
    for j in range(5):  # stratified: each fold has the malignant rate of the development rows
        assert abs(d.y_val[d.folds == j].mean() - d.y_val.mean()) < 0.03
    again = load("builtin:breast_cancer", folds=5)  # every trial, and a resumed sweep, load this
    assert np.array_equal(d.folds, again.folds) and np.array_equal(d.X_train, again.X_train)
    assert not np.array_equal(d.folds, load("builtin:breast_cancer", folds=5, seed=7).folds)
    assert (d.summary()["folds"], d.summary()["n_dev"]) == (5, 483)


def test_each_folds_preprocessing_is_fitted_on_its_training_rows_only(tmp_path):
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame(
        {"age": rng.normal(60, 10, n), "site": rng.choice(["a", "b"], n), "outcome": rng.integers(0, 2, n)}
    )
    frame.loc[:4, "site"] = "rare"  # a value only a few rows have
    frame.loc[10:19, "age"] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    d = load(str(path), target="outcome", missing="impute", folds=4)
    age = d.X_train["age"].ravel().astype(float)
    site = d.X_train["site"].ravel()
    for j, schema in enumerate(d.fold_schemas):
        trains = d.folds != j
        numeric, categorical = schema[0], schema[1]
        assert numeric.fill == pytest.approx(np.nanmean(age[trains]), rel=1e-6)
        filled = np.where(np.isnan(age[trains]), numeric.fill, age[trains])
        assert numeric.mean == pytest.approx(filled.mean(), rel=1e-6)
        assert numeric.indicator == bool(np.isnan(age[trains]).any())
        assert set(categorical.vocabulary) == set(site[trains])  # a value seen only in held-out rows is unknown


def test_auto_folds_means_five_on_small_tables_and_one_split_on_large_ones(tmp_path):
    from trainable.data.dataset import resolve_folds

    assert load("builtin:breast_cancer", folds="auto").n_folds == 5
    assert resolve_folds("auto", np.r_[np.zeros(1500, int), np.ones(499, int)]) == 5
    assert resolve_folds("auto", np.r_[np.zeros(1500, int), np.ones(500, int)]) == 0  # 2,000 rows
    assert resolve_folds("auto", np.r_[np.zeros(100, int), np.ones(4, int)]) == 0  # a class too small for 5
    assert resolve_folds(0, np.zeros(10, int)) == 0 and resolve_folds(3, np.zeros(10, int)) == 3


def test_too_few_rows_of_a_class_for_the_folds_is_refused_in_one_line():
    with pytest.raises(HpsearchError, match="too few rows for 60-fold cross-validation: the smallest class has"):
        load("builtin:iris", folds=60)


# --- groups (patients) and subgroups ---------------------------------------------------------------


def _patients(n_patients=60, visits=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        label, age = int(rng.integers(0, 2)), float(rng.normal(60, 10))
        for _ in range(visits):
            rows.append(
                {"patient": f"p{p}", "age": age + rng.normal(0, 1), "sex": rng.choice(["F", "M"]), "outcome": label}
            )
    return pd.DataFrame(rows)


def test_a_group_column_keeps_each_patient_in_one_split_and_one_fold(tmp_path):

    path = tmp_path / "visits.csv"
    frame = _patients()
    frame.to_csv(path, index=False)
    patient_of = dict(zip(frame["age"].astype(np.float32), frame["patient"]))  # every row's age is its own
    for folds in (0, 5):
        d = load(
            str(path),
            target="outcome",
            group="patient",
            folds=folds,
            features=["age"],
            val_fraction=0.2,
            test_fraction=0.2,
        )
        assert d.feature_names == ["age"]  # the group column is never a feature
        split = {
            name: {patient_of[a] for a in X[:, 0]}
            for name, X in (("train", d.X_train), ("val", d.X_val), ("test", d.X_test))
        }
        assert split["test"] and not split["test"] & (split["train"] | split["val"])
        if folds:
            fold_of: dict[str, int] = {}
            for age, fold in zip(d.X_train[:, 0], d.folds):
                assert fold_of.setdefault(patient_of[age], fold) == fold  # a patient's rows share one fold
            assert len(set(fold_of.values())) == 5
        else:
            assert not split["train"] & split["val"]
        # every validation and test row carries its patient: the units of their intervals
        assert [patient_of[a] for a in d.X_val[:, 0]] == list(d.val_groups)
        assert [patient_of[a] for a in d.X_test[:, 0]] == list(d.test_groups)
        assert d.without_test().test_groups is None
        summary = d.summary()
        assert summary["group"] == "patient" and sum(summary["groups"].values()) == 60


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda f: f, "data.group names unknown column `visit`"),
        (
            lambda f: f.assign(patient=f["patient"].where(f.index > 0)),
            "data.group column `patient` has 1 missing value",
        ),
    ],
)
def test_a_bad_group_column_is_refused_in_one_line(tmp_path, change, expected):

    path = tmp_path / "visits.csv"
    change(_patients()).to_csv(path, index=False)
    group = "visit" if "visit" in expected else "patient"
    with pytest.raises(HpsearchError, match=expected):
        load(str(path), target="outcome", group=group)


def test_a_grouped_split_left_with_one_class_is_refused(tmp_path):

    frame = _patients(n_patients=12)
    frame["outcome"] = (frame["patient"] == "p0").astype(int)  # one positive patient: one split lacks positives
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(HpsearchError, match="split has .* groups and 1 of the 2 classes"):
        load(str(path), target="outcome", group="patient")


def test_subgroups_group_text_by_value_and_numbers_at_training_quartiles(tmp_path):

    path = tmp_path / "visits.csv"
    _patients(n_patients=100, visits=2).to_csv(path, index=False)
    d = load(str(path), target="outcome", subgroups=["sex", "age"], drop=["patient"])
    assert set(d.subgroups["sex"]) == {"F", "M"} and len(d.subgroups["sex"]) == len(d.y_test)
    assert sorted(set(d.subgroups["age"]))[0].startswith("Q1: <= ") and len(set(d.subgroups["age"])) == 4
    assert d.without_test().X_test is None and len(d.without_test().y_test) == 0  # what trials receive
    with pytest.raises(HpsearchError, match="export.subgroups names unknown column `site`"):
        load(str(path), target="outcome", subgroups=["site"], drop=["patient"])
