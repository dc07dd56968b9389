"""The baselines fitted while the sweep's last trials run: the same bits as after, errors raised where asked,
and the card's words when they were fitted on a sample."""

import dataclasses

import numpy as np
import pytest

from search.config.load import load_config
from search.records.model_card import CardBaseline
from search.review.baseline_text import sampled_note
from search.sweep.early_baselines import EarlyBaselines


def test_baselines_fitted_early_on_one_thread_are_those_fitted_late_bit_for_bit():
    small = {
        "logistic_regression": {"C": [0.1, 1.0]},
        "gradient_boosting": {"learning_rate": [0.3], "max_leaf_nodes": [7]},
    }
    cfg = load_config(
        None, {"export.baselines": ["logistic_regression", "gradient_boosting"], "export.baseline_grid": small}
    )
    data = cfg.load_data()
    early = EarlyBaselines(data, cfg, idle_from_start=False)
    early.start()
    early.start()  # once
    fitted, late = early.result(), EarlyBaselines(data, cfg, idle_from_start=False).result()
    assert early.times["baselines_start"] <= early.times["baselines_end"]
    for name in ("logistic_regression", "gradient_boosting"):
        assert np.array_equal(fitted[name].validation, late[name].validation)
        assert np.array_equal(fitted[name].test, late[name].test)


def test_an_error_in_the_early_fit_is_raised_where_the_export_asks_for_the_baselines():
    cfg = load_config()
    data = cfg.load_data()
    broken = dataclasses.replace(data, y_train=data.y_train[:10])  # rows and labels disagree
    early = EarlyBaselines(broken, cfg, idle_from_start=False)
    early.start()
    with pytest.raises(IndexError):
        early.result()


def test_the_card_says_when_the_baselines_were_fitted_on_a_sample():
    def block(fit: int, there: int) -> CardBaseline:
        return CardBaseline(validation={}, test={}, fit_rows=fit, train_rows=there)

    note = sampled_note({"logistic_regression": block(150, 397)})
    assert note is not None and "random 150 of the 397 training rows" in note
    assert sampled_note({"logistic_regression": block(397, 397)}) is None
