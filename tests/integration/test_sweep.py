"""A real tiny sweep: real Ray (one instance per session), real TensorFlow training."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import load

from search.config.load import load_config
from search.review.leaderboard import COLUMNS
from search.sweep.driver import run_sweep

pytestmark = pytest.mark.slow


def test_tiny_sweep_ranks_trials_and_exports_an_honest_best_model(ray_session, tiny, tmp_path):
    import keras

    from trainable.stats.metrics import score

    cfg = tiny(name="tiny")
    outcome = run_sweep(cfg)
    out = tmp_path / "results" / "tiny"
    assert outcome.out_dir == out

    board = pd.read_csv(out / "leaderboard.csv")
    assert list(board.columns) == COLUMNS
    assert len(board) == 3 and list(board["rank"]) == [1, 2, 3]
    assert set(board["status"]) == {"completed"}
    assert (board["epochs"] == 2).all()
    assert board["val_loss"].is_monotonic_increasing  # ranked by the cross-entropy, the default
    assert board["val_auroc"].between(0.5, 1.0).all()
    assert (board["n_params"] > 0).all() and (board["train_seconds"] > 0).all()
    assert "128-64" in set(board["units"])  # the article's model ran as the seed trial

    card = json.loads((out / "best" / "model_card.json").read_text())
    assert set(card) >= {"hyperparameters", "validation", "test", "data", "versions"}
    assert card["trial_id"] == board.loc[0, "trial_id"]
    assert card["data"]["n_dev"] + card["data"]["n_test"] == 569 and card["data"]["folds"] == 5
    assert (card["validation"]["folds"], card["validation"]["n"]) == (5, 483)  # 5-fold CV by default, pooled
    assert card["data"]["source"] == "builtin:breast_cancer" and len(card["data"]["sha256"]) == 64
    assert {"tensorflow", "ray", "optuna", "keras"} <= set(card["versions"])

    # the exported model takes raw features and reproduces the card's test score
    model = keras.models.load_model(out / "best" / "model.keras")
    data = load("builtin:breast_cancer")
    proba = model.predict(data.X_test, verbose=0)
    assert proba.shape == (len(data.y_test), 1)
    test = score(data.y_test, proba)
    assert test["auroc"] == pytest.approx(card["test"]["auroc"], abs=1e-9)
    assert card["test"]["auroc"] > 0.9
    assert card["validation"]["val_auroc"] == pytest.approx(board.loc[0, "val_auroc"], abs=1e-5)

    # the exported model averages the 5 fold-models; each fold-model's predictions on the rows it held
    # out are the pooled out-of-fold predictions the trial was validated (and the threshold chosen) on
    dev = load("builtin:breast_cancer", folds=5)
    by_fold = keras.Model(model.input, model.get_layer("proba").output).predict(dev.X_val, verbose=0)[..., 0]
    assert np.allclose(model.predict(dev.X_val, verbose=0)[:, 0], by_fold.mean(axis=1), atol=1e-6)
    saved = np.load(out / "best" / "predictions.npz")
    assert np.allclose(saved["validation"][:, 0], by_fold[np.arange(len(dev.y_val)), dev.folds], atol=1e-6)
    assert score(dev.y_val, saved["validation"])["loss"] == pytest.approx(card["validation"]["val_loss"], abs=1e-4)

    saved = load_config(out / "config.yaml")
    assert saved.search.trials == 3 and saved.train.max_epochs == 2
    assert (out / "study.db").is_file() and (out / "tune").is_dir()
    _study_db_alone_holds_every_trial(out, cfg.name, cfg.search.trials, tmp_path)


def test_sweep_on_an_article_format_npy_file(ray_session, tiny, article_npy):
    cfg = tiny(
        name="npy", **{"data.source": str(article_npy), "search.trials": 2, "search.cv.folds": 0}
    )  # one validation split
    outcome = run_sweep(cfg)
    board, card = outcome.leaderboard, outcome.card
    assert len(board) == 2 and board["val_auroc"].notna().all() and card is not None
    assert card.data.n_train + card.data.n_val + card.data.n_test == 240
    assert card.validation.folds == 0 and card.validation.n == card.data.n_val
    assert card.test.auroc > 0.8  # the label is a linear function of the features


def test_a_finished_sweep_is_archived_not_overwritten(ray_session, tiny, tmp_path):
    cfg = tiny(name="twice", **{"search.trials": 1, "train.max_epochs": 1})
    run_sweep(cfg)
    first = (tmp_path / "results" / "twice" / "best" / "model_card.json").read_text()
    run_sweep(cfg)
    archived = [p for p in (tmp_path / "results").iterdir() if p.name.startswith("twice@")]
    assert len(archived) == 1
    assert (archived[0] / "best" / "model_card.json").read_text() == first


def test_run_with_pick_scores_the_test_split_once_for_the_picks_winner(ray_session, tiny):
    cfg = tiny(
        name="picked",
        **{
            "search.trials": 2,
            "train.max_epochs": 1,
            "pick.enabled": True,
            "pick.top_k": 2,
            "pick.repeats": 1,
            "export.baselines": ["logistic_regression"],
        },
    )
    outcome = run_sweep(cfg)
    out = outcome.out_dir
    record = json.loads((out / "sweep.json").read_text())
    assert len(record["test_scorings"]) == 1  # the sweep's best trial was never scored: only the winner
    winner = record["test_scorings"][0]["model"]
    card = json.loads((out / "best" / "model_card.json").read_text())
    assert card["pick"] and (card["trial_id"], card["training_seed"]) == (winner["trial_id"], winner["training_seed"])
    assert card["training_seed"] == 1 and card["test"]["scorings"] == 1 and outcome.pick is not None
    assert (out / "pick.csv").is_file() and "Robust pick" in (out / "report.html").read_text()


def _study_db_alone_holds_every_trial(out, name: str, trials: int, tmp_path) -> None:
    """study.db copied alone (to a colleague, an archive) holds every trial: no write-ahead log left beside it."""
    import shutil

    import optuna

    assert not (out / "study.db-wal").exists() and not (out / "study.db-shm").exists()
    alone = tmp_path / "copied" / "study.db"
    alone.parent.mkdir()
    shutil.copy(out / "study.db", alone)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{alone}")
    assert len(study.trials) == trials and all(t.state.is_finished() for t in study.trials)
