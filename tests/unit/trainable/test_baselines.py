"""Baselines at scale: a row cap samples the training rows (never validation or test), the same rows each time."""

from __future__ import annotations

import numpy as np
from conftest import load

from trainable.stats.baselines import fit_baselines


def test_a_row_cap_fits_on_a_seeded_sample_of_the_training_rows_and_scores_every_row():
    data = load()
    full = fit_baselines(data, ["logistic_regression"], None, 0, None)["logistic_regression"]
    capped = fit_baselines(data, ["logistic_regression"], None, 0, max_rows=150)["logistic_regression"]
    again = fit_baselines(data, ["logistic_regression"], None, 0, max_rows=150)["logistic_regression"]
    assert (full.fit_rows, full.train_rows) == (len(data.y_train), len(data.y_train))
    assert (capped.fit_rows, capped.train_rows) == (150, len(data.y_train))
    assert capped.validation.shape == full.validation.shape == (len(data.y_val), 1)
    assert capped.test.shape == (len(data.y_test), 1)
    assert not np.allclose(capped.test, full.test)  # another model: fitted on fewer rows
    assert np.array_equal(capped.test, again.test)  # the same seeded sample


def test_with_k_folds_the_cap_applies_to_each_folds_training_rows():
    data = load(folds=5)
    capped = fit_baselines(data, ["logistic_regression", "gradient_boosting"], None, 0, max_rows=200)
    largest = max(int(np.sum(data.folds != j)) for j in range(data.n_folds))
    for baseline in capped.values():
        assert (baseline.fit_rows, baseline.train_rows) == (200, largest)
        assert baseline.validation.shape == (len(data.y_val), 1)
        for j in range(data.n_folds):  # each fold's held-out rows scored by its own model
            held_out = baseline.validation[data.folds == j]
            assert held_out.min() < 0.5 < held_out.max()
