"""The Python API (`search.api`) as a notebook uses it: a sweep from a dict with a progress callback, the
finished sweep read back as typed records and a DataFrame, and predict on a DataFrame."""

import numpy as np
import pandas as pd
import pytest

import search.api as hp
from search.export.predict import predict_rows
from search.records.model_card import ModelCard

pytestmark = pytest.mark.slow


def test_run_a_sweep_from_a_dict_open_it_and_predict_on_a_frame(ray_session, tmp_path):
    seen: list[hp.Progress] = []
    config = {
        "name": "notebook",
        "results_dir": str(tmp_path / "results"),
        "search": {"trials": 3, "early_stopping": {"enabled": False}},
        "train": {"max_epochs": 2},
    }
    sweep = hp.run(config, overrides={"search.pack": 1}, on_progress=seen.append)

    assert [p.done for p in seen] == [1, 2, 3] and {p.total for p in seen} == {3}
    assert all(p.metric == "val_loss" for p in seen) and seen[-1].best is not None
    assert sweep.folder == tmp_path / "results" / "notebook" and not sweep.interrupted
    assert sweep.config.search.trials == 3

    opened = hp.open_sweep(sweep.folder)
    board = opened.leaderboard
    assert isinstance(board, pd.DataFrame) and len(board) == 3 and board["trial_id"].is_unique
    assert board.loc[0, "val_loss"] == pytest.approx(seen[-1].best, abs=1e-6)  # (the file keeps 6 decimals)
    card = opened.card
    assert isinstance(card, ModelCard) and card.trial_id == board.loc[0, "trial_id"]
    assert opened.report().is_file() and opened.report().name == "report.html"

    data = sweep.config.load_data()
    rows = pd.DataFrame(data.X_test, columns=data.feature_names)
    model = hp.load_model(opened.best_dir)
    predicted = model.predict(rows)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = predict_rows(opened.best_dir, tmp_path / "rows.csv").frame
    assert np.array_equal(predicted.frame.to_numpy(), expected.to_numpy())
    assert list(predicted.frame.columns) == ["proba_benign", "proba_malignant", "predicted"]

    with pytest.raises(hp.HpsearchError, match="missing column"):
        model.predict(rows.drop(columns=["mean radius"]))
    with pytest.raises(hp.HpsearchError, match="config: `search.trials`"):
        hp.run({"search": {"trials": 0}})
    with pytest.raises(hp.HpsearchError, match="results directory not found"):
        hp.open_sweep(tmp_path / "nowhere")
