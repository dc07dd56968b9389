"""Baselines at scale: a row cap samples the training rows (never validation or test) and the card says so."""

from __future__ import annotations

import numpy as np

from search.card import sampled_note
from search.config import load_config
from trainable.baselines import fit_baselines


def test_a_row_cap_fits_on_a_seeded_sample_of_the_training_rows_and_scores_every_row():
    data = load_config().data.load(0)
    full = fit_baselines(data, ["logistic_regression"], None, 0)["logistic_regression"]
    capped = fit_baselines(data, ["logistic_regression"], None, 0, max_rows=150)["logistic_regression"]
    again = fit_baselines(data, ["logistic_regression"], None, 0, max_rows=150)["logistic_regression"]
    assert (full.fit_rows, full.train_rows) == (len(data.y_train), len(data.y_train))
    assert (capped.fit_rows, capped.train_rows) == (150, len(data.y_train))
    assert capped.validation.shape == full.validation.shape == (len(data.y_val), 1)
    assert capped.test.shape == (len(data.y_test), 1)
    assert not np.allclose(capped.test, full.test)  # another model: fitted on fewer rows
    assert np.array_equal(capped.test, again.test)  # the same seeded sample
    note = sampled_note({"logistic_regression": {"fit_rows": 150, "train_rows": len(data.y_train)}})
    assert note is not None and f"random 150 of the {len(data.y_train):,} training rows" in note
    assert sampled_note({"logistic_regression": {"fit_rows": 397, "train_rows": 397}}) is None


def test_with_k_folds_the_cap_applies_to_each_folds_training_rows():
    data = load_config().data.load(5)
    capped = fit_baselines(data, ["logistic_regression", "gradient_boosting"], None, 0, max_rows=200)
    largest = max(int(np.sum(data.folds != j)) for j in range(data.n_folds))
    for baseline in capped.values():
        assert (baseline.fit_rows, baseline.train_rows) == (200, largest)
        assert baseline.validation.shape == (len(data.y_val), 1)
        for j in range(data.n_folds):  # each fold's held-out rows scored by its own model
            held_out = baseline.validation[data.folds == j]
            assert held_out.min() < 0.5 < held_out.max()


def test_baselines_fitted_early_on_one_thread_are_those_fitted_late_bit_for_bit():
    from search.early_baselines import EarlyBaselines

    cfg = load_config(None, {"export.baselines": ["logistic_regression", "gradient_boosting"]})
    data = cfg.load_data()
    early = EarlyBaselines(data, cfg)
    early.start()
    early.start()  # once
    fitted, late = early.result(), EarlyBaselines(data, cfg).result()
    assert early.times["baselines_start"] <= early.times["baselines_end"]
    for name in ("logistic_regression", "gradient_boosting"):
        assert np.array_equal(fitted[name].validation, late[name].validation)
        assert np.array_equal(fitted[name].test, late[name].test)


def test_an_error_in_the_early_fit_is_raised_where_the_export_asks_for_the_baselines():
    import dataclasses

    import pytest

    from search.early_baselines import EarlyBaselines

    cfg = load_config()
    data = cfg.load_data()
    broken = dataclasses.replace(data, y_train=data.y_train[:10])  # rows and labels disagree
    early = EarlyBaselines(broken, cfg)
    early.start()
    with pytest.raises(IndexError):
        early.result()
