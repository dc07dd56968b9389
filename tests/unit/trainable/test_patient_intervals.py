"""Patient-level intervals (`data.group`): patients, not rows, are the units. Fast, NumPy and SciPy only."""

import numpy as np
import pytest
from scipy.special import expit

from trainable.stats.intervals import auroc_ci, paired_difference
from trainable.stats.metrics import clinical_metrics

PATIENTS, VISITS = 45, 4  # a test split of 45 patients with 4 rows each


@pytest.mark.parametrize("between_sd", [1.0, 0.3])
def test_with_no_signal_the_patient_level_auroc_intervals_hold_one_half(between_sd):
    # each patient has one label and a random level shared by their rows' scores; nothing predicts the label
    rng = np.random.default_rng(11)
    groups = np.repeat([f"p{i}" for i in range(PATIENTS)], VISITS)
    hits: dict[str, list[bool]] = {"rows": [], "patients": [], "paired": []}
    while len(hits["patients"]) < 800:
        y = np.repeat(rng.integers(0, 2, PATIENTS), VISITS)
        if len(np.unique(y)) < 2:
            continue
        a, b = (expit(np.repeat(rng.normal(0, between_sd, PATIENTS), VISITS) + rng.normal(0, 1, y.size)) for _ in "ab")
        lo, hi = auroc_ci(y, a)
        hits["rows"].append(lo <= 0.5 <= hi)
        lo, hi = auroc_ci(y, a, groups)
        hits["patients"].append(lo <= 0.5 <= hi)
        _, lo, hi = paired_difference("val_auroc", y, a, b, n_boot=0, seed=0, groups=groups)
        hits["paired"].append(lo <= 0 <= hi)  # two models with nothing to learn: no difference
    coverage = {k: float(np.mean(v)) for k, v in hits.items()}
    assert coverage["patients"] >= 0.93 and coverage["paired"] >= 0.93, coverage
    if between_sd == 1.0:
        assert coverage["rows"] < 0.85, coverage  # rows taken as independent: far too narrow


def _copies(n=120, copies=4, seed=3):
    """A table of `n` rows, and the same table with every row `copies` times, each row a patient."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    p = expit(rng.normal(0, 1.2, n) + 1.5 * y - 0.6)
    groups = np.repeat(np.arange(n), copies)
    return y, p, np.repeat(y, copies), np.repeat(p, copies), groups


def _width(interval):
    return interval[1] - interval[0]


def test_copies_of_a_patient_add_nothing_to_a_patient_level_interval():
    # a patient seen four times, identically, is still one patient: every grouped interval on the copies is
    # about the row-level interval of one row each, while the row-level one on the copies shrinks by about half
    y, p, y4, p4, groups = _copies()
    one = clinical_metrics(y, p, threshold=0.4, n_boot=1000, seed=0)
    grouped = clinical_metrics(y4, p4, threshold=0.4, n_boot=1000, seed=0, groups=groups)
    rows = clinical_metrics(y4, p4, threshold=0.4, n_boot=1000, seed=0)
    keys = [k for k in one if k.endswith("_ci95")]
    assert {"auroc_ci95", "brier_ci95", "sensitivity_ci95", "calibration_slope_ci95"} <= set(keys)
    for key in keys:
        assert 0.8 < _width(grouped[key]) / _width(one[key]) < 1.25, (key, grouped[key], one[key])
        assert _width(rows[key]) < 0.7 * _width(one[key]), (key, rows[key], one[key])
    for metric in ("val_auroc", "val_loss"):
        other = np.clip(p + np.random.default_rng(4).normal(0, 0.1, len(p)), 0.01, 0.99)
        _, *single = paired_difference(metric, y, p, other, n_boot=1000, seed=0)
        _, *patients = paired_difference(metric, y4, p4, np.repeat(other, 4), n_boot=1000, seed=0, groups=groups)
        assert 0.8 < _width(patients) / _width(single) < 1.25, (metric, patients, single)


def test_a_perfect_auroc_counts_patients_at_the_edge():
    # AUROC 1.0: the score interval counts patients, so four rows per patient do not narrow it
    y, p = np.r_[np.zeros(20, int), np.ones(10, int)], np.r_[np.full(20, 0.2), np.full(10, 0.9)]
    groups = np.repeat(np.arange(30), 4)
    assert auroc_ci(np.repeat(y, 4), np.repeat(p, 4), groups) == pytest.approx(auroc_ci(y, p))
    assert auroc_ci(np.repeat(y, 4), np.repeat(p, 4))[0] > auroc_ci(y, p)[0]
