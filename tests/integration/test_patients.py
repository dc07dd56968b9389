"""The leak detector: several rows per patient, and no real signal.

Each patient's rows share a random fingerprint (8 numbers, a little noise per
row) and a random label. Split row by row, a patient's other rows are in
training and the model recognises the fingerprint: a high test AUROC that
means nothing. With `data.group` every patient is in one split only, the
test AUROC's interval contains 0.5, as it must when there is nothing to learn,
and the card and the report say the split is by patient, with the patients
per split.
Real Ray, real TensorFlow, one trial each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import hyperparameters

from search.records.paths import BEST_DIR, CARD_MD_FILE, LEADERBOARD_FILE, PREDICTIONS_FILE, REPORT_FILE
from search.sweep.driver import run_sweep
from trainable.stats.intervals import auroc_ci

pytestmark = pytest.mark.slow


def _visits(path, patients: int = 80, visits: int = 4) -> None:
    rng = np.random.default_rng(0)
    fingerprint, label = rng.normal(size=(patients, 8)), rng.integers(0, 2, patients)
    rows = [
        {
            "patient": f"p{p}",
            **{f"f{i}": fingerprint[p, i] + rng.normal(0, 0.05) for i in range(8)},
            "outcome": int(label[p]),
        }
        for p in range(patients)
        for _ in range(visits)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.mark.parametrize("split", ["rows", "patients"])
def test_rows_of_one_patient_leak_across_a_row_level_split_and_not_across_a_grouped_one(
    ray_session, tiny, tmp_path, split
):
    _visits(tmp_path / "visits.csv")
    memoriser = hyperparameters(
        n_layers=2,
        units_0=256,
        units_1=256,
        activation="relu",
        dropout=0.0,
        l2=1e-6,
        learning_rate=0.01,
        batch_size=32,
        optimizer="adam",
    )
    by = {"data.drop": ["patient"]} if split == "rows" else {"data.group": "patient"}
    cfg = tiny(
        name=split,
        **{
            "data.source": str(tmp_path / "visits.csv"),
            "data.target": "outcome",
            **by,
            "search.trials": 1,
            "search.seed_trial": False,
            "search.enqueue": [memoriser],
            "train.max_epochs": 30,
            "export.baselines": [],
            "export.n_boot": 200,
        },
    )
    card = run_sweep(cfg).card
    assert card is not None and card.test.auroc_ci95 is not None
    lo, hi = card.test.auroc_ci95
    if split == "rows":
        assert card.test.auroc > 0.9 and lo > 0.5  # the leak: the model recognises patients it trained on
    else:
        assert lo < 0.5 < hi  # nothing to learn, and the estimate says so
        # the card and the report say the split is by patient, with the patients per split
        groups = card.data.groups
        assert card.data.group == "patient" and groups is not None and sum(groups.values()) == 80
        out = cfg.out_dir
        for text in ((out / BEST_DIR / CARD_MD_FILE).read_text(), (out / REPORT_FILE).read_text()):
            assert "split by patient (data.group: patient)" in text and f"{groups['test']} test patients" in text
        # the leaderboard's validation AUROC interval resamples patients too
        data = cfg.load_data()
        with np.load(out / BEST_DIR / PREDICTIONS_FILE) as arrays:
            val_proba = arrays["validation"]
        board = pd.read_csv(out / LEADERBOARD_FILE)
        listed = [board["val_auroc_ci95_lo"].iloc[0], board["val_auroc_ci95_hi"].iloc[0]]
        assert listed == pytest.approx(auroc_ci(data.y_val, val_proba, data.val_groups), abs=1e-6)
        assert listed != pytest.approx(auroc_ci(data.y_val, val_proba), abs=1e-3)
