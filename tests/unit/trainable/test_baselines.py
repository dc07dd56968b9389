"""Baselines: tuned on the network's own validation (its split, or its folds pooled out of fold) by the lowest
validation loss, recomputed here independently; at scale, a row cap samples the training rows (never validation or
test), the same rows each time."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from trainable.data.design_matrix import design_matrix
from trainable.stats.baselines import BOOSTING_MAX_ITER, MIN_CLASS_ROWS_TO_STOP, THREADED_FIT_ROWS, fit_baselines
from trainable.trial.validation import scheme_for

LOGISTIC = {"logistic_regression": {"C": [0.001, 0.1, 10.0]}}
BOOSTING = {"gradient_boosting": {"learning_rate": [0.05, 0.3], "max_leaf_nodes": [3, 7]}}
ONE_SETTING = {
    "logistic_regression": {"C": [1.0]},
    "gradient_boosting": {"learning_rate": [0.1], "max_leaf_nodes": [7]},
}


@pytest.fixture(autouse=True)
def one_thread():
    """OpenMP on one thread, as the sweep fits the baselines (on a shared machine, more threads only spin)."""
    with threadpool_limits(1):
        yield


def _boosting(learning_rate: float, max_leaf_nodes: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        max_iter=BOOSTING_MAX_ITER,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=0,
    )


def _network_folds(data):
    """Each fold-model's training and held-out rows, as the NETWORK trains them: the rows its loss weights."""
    y_and_weights, _ = scheme_for(data).targets(class_weight=False)
    weights = y_and_weights[:, 1:]
    return [(np.flatnonzero(weights[:, j] > 0), np.flatnonzero(weights[:, j] == 0)) for j in range(weights.shape[1])]


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_with_k_folds_the_chosen_C_minimises_the_pooled_out_of_fold_loss_on_the_networks_folds(class_weight):
    data = load(folds=5)
    tuned = fit_baselines(data, ["logistic_regression"], class_weight, 0, None, LOGISTIC)["logistic_regression"]
    losses, pooled_by_C, tests_by_C = [], {}, {}
    for C in LOGISTIC["logistic_regression"]["C"]:  # recomputed with scikit-learn alone
        pooled, tests = np.zeros(len(data.y_val)), []
        for j, (trains, held_out) in enumerate(_network_folds(data)):
            schema = data.fold_schemas[j]
            model = LogisticRegression(C=C, max_iter=2000, class_weight=class_weight).fit(
                design_matrix(data.X_train[trains], schema), data.y_train[trains]
            )
            pooled[held_out] = model.predict_proba(design_matrix(data.X_val[held_out], schema))[:, 1]
            tests.append(model.predict_proba(design_matrix(data.X_test, schema))[:, 1])
        losses.append(log_loss(data.y_val, pooled))
        pooled_by_C[C], tests_by_C[C] = pooled, np.mean(tests, axis=0)
    best = LOGISTIC["logistic_regression"]["C"][int(np.argmin(losses))]
    assert max(losses) - min(losses) > 0.05  # the grid matters on this table: a wrong pick would show
    assert tuned.chosen == {"C": best} and tuned.grid == LOGISTIC["logistic_regression"]
    assert tuned.losses == pytest.approx(losses, rel=1e-6)
    np.testing.assert_allclose(tuned.validation[:, 0], pooled_by_C[best], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tuned.test[:, 0], tests_by_C[best], rtol=1e-6, atol=1e-9)  # the k fold-models


def test_with_one_validation_split_the_chosen_boosting_knobs_minimise_the_validation_loss():
    data = load()
    assert scheme_for(data).__class__.__name__ == "Holdout"
    tuned = fit_baselines(data, ["gradient_boosting"], None, 0, None, BOOSTING)["gradient_boosting"]
    X, X_val = design_matrix(data.X_train, data.schema), design_matrix(data.X_val, data.schema)
    settings, losses, val, tests = [], [], {}, {}
    for rate in BOOSTING["gradient_boosting"]["learning_rate"]:
        for leaves in BOOSTING["gradient_boosting"]["max_leaf_nodes"]:
            model = _boosting(rate, leaves).fit(X, data.y_train)  # the training split, scored on validation
            settings.append((rate, leaves))
            val[rate, leaves] = model.predict_proba(X_val)[:, 1]
            tests[rate, leaves] = model.predict_proba(design_matrix(data.X_test, data.schema))[:, 1]
            losses.append(log_loss(data.y_val, val[rate, leaves]))
    rate, leaves = settings[int(np.argmin(losses))]
    assert len(set(np.round(losses, 6))) > 1
    assert tuned.chosen == {"learning_rate": rate, "max_leaf_nodes": leaves}
    assert tuned.losses == pytest.approx(losses, rel=1e-6)
    np.testing.assert_allclose(tuned.validation[:, 0], val[rate, leaves], rtol=1e-6)
    np.testing.assert_allclose(tuned.test[:, 0], tests[rate, leaves], rtol=1e-6)
    assert (tuned.fit_rows, tuned.train_rows) == (len(data.y_train), len(data.y_train))


def test_a_class_too_small_to_stop_on_boosts_scikit_learns_default_100_iterations_instead(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 6 + ["d"] * 4  # d: 2-3 training rows; 10% of ~28 rows < 4 classes
    table = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40), "y": labels})
    table.to_csv(tmp_path / "small.csv", index=False)
    data = load(str(tmp_path / "small.csv"), target="y")
    assert np.bincount(data.y_train).min() < MIN_CLASS_ROWS_TO_STOP
    tuned = fit_baselines(data, ["gradient_boosting"], None, 0, None, BOOSTING)["gradient_boosting"]
    X = design_matrix(data.X_train, data.schema)
    rate, leaves = tuned.chosen["learning_rate"], tuned.chosen["max_leaf_nodes"]
    model = _boosting(rate, leaves).set_params(early_stopping=False, max_iter=100).fit(X, data.y_train)
    expected = model.predict_proba(design_matrix(data.X_test, data.schema))
    assert tuned.test.shape == (len(data.y_test), 4)
    np.testing.assert_allclose(tuned.test, expected, rtol=1e-6)


def test_a_row_cap_fits_on_a_seeded_sample_of_the_training_rows_and_scores_every_row():
    data = load()
    full = fit_baselines(data, ["logistic_regression"], None, 0, None, ONE_SETTING)["logistic_regression"]
    capped = fit_baselines(data, ["logistic_regression"], None, 0, 150, ONE_SETTING)["logistic_regression"]
    again = fit_baselines(data, ["logistic_regression"], None, 0, 150, ONE_SETTING)["logistic_regression"]
    assert (full.fit_rows, full.train_rows) == (len(data.y_train), len(data.y_train))
    assert (capped.fit_rows, capped.train_rows) == (150, len(data.y_train))
    assert capped.validation.shape == full.validation.shape == (len(data.y_val), 1)
    assert capped.test.shape == (len(data.y_test), 1)
    assert not np.allclose(capped.test, full.test)  # another model: fitted on fewer rows
    assert np.array_equal(capped.test, again.test)  # the same seeded sample


def test_with_k_folds_the_cap_applies_to_each_folds_training_rows():
    data = load(folds=5)
    capped = fit_baselines(data, ["logistic_regression", "gradient_boosting"], None, 0, 200, ONE_SETTING)
    largest = max(int(np.sum(data.folds != j)) for j in range(data.n_folds))
    for baseline in capped.values():
        assert (baseline.fit_rows, baseline.train_rows) == (200, largest)
        assert baseline.validation.shape == (len(data.y_val), 1)
        for j in range(data.n_folds):  # each fold's held-out rows scored by its own model
            held_out = baseline.validation[data.folds == j]
            assert held_out.min() < 0.5 < held_out.max()


def test_boosting_on_two_threads_gives_the_bits_of_one_thread_where_it_is_allowed_two(tmp_path):
    rng = np.random.default_rng(0)
    rows = int(THREADED_FIT_ROWS / 0.7) + 100  # training rows past the threshold after the test and validation splits
    X = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (rng.random(rows) < 1 / (1 + np.exp(-X[:, 0] + X[:, 1] * X[:, 2]))).astype(np.float32)
    np.save(tmp_path / "table.npy", np.column_stack([X, y]))
    data = load(str(tmp_path / "table.npy"))
    grid = {"gradient_boosting": {"learning_rate": [0.3], "max_leaf_nodes": [7]}}
    one, two = (fit_baselines(data, ["gradient_boosting"], None, 0, None, grid, t)["gradient_boosting"] for t in (1, 2))
    assert one.fit_rows >= THREADED_FIT_ROWS
    assert np.array_equal(one.validation, two.validation) and np.array_equal(one.test, two.test)
