"""Review and pick on ONE real tiny sweep (real Ray, real TensorFlow, real files).

The module-scoped `swept` fixture runs the sweep once; every test reads it.
The commands run in-process (the `cli` fixture: the same error boundary as
the installed `hpsearch`, without paying TensorFlow's import once per command).
`pick` replaces `best/`, so it works on a copy of the sweep folder.
"""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import serve_without_hpsearch, tiny_overrides
from sklearn.metrics import roc_auc_score

from search.config.load import load_config
from trainable.stats.baselines import fit_baselines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swept(ray_session, tmp_path_factory):
    from search.sweep.driver import run_sweep

    tmp = tmp_path_factory.mktemp("review")
    cfg = load_config(None, tiny_overrides(tmp, name="review"))
    outcome = run_sweep(cfg)
    return outcome.out_dir, cfg.load_data()


def _best_model(out):
    from trainable.trial.model import load_model

    return load_model(out / "best" / "model.keras")


def test_leaderboard_carries_validation_intervals_and_ties(swept, cli):
    out, _ = swept
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    lo, hi = board["val_auroc_ci95_lo"], board["val_auroc_ci95_hi"]
    assert lo.notna().all() and hi.notna().all() and (lo < hi).all()
    assert ((lo <= board["val_auroc"] + 1e-6) & (board["val_auroc"] <= hi + 1e-6)).all()
    # tied: the interval of (trial - best) in val_loss, paired on the same validation rows, holds 0
    d_lo, d_hi = board["delta_ci95_lo"], board["delta_ci95_hi"]
    assert board.loc[0, "tied_with_best"] and pd.isna(d_lo[0])
    assert (d_lo[1:] < d_hi[1:]).all()
    assert list(board["tied_with_best"][1:]) == list((d_lo <= 0) & (d_hi >= 0))[1:]

    result = cli("leaderboard", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["trial_id"] for r in rows] == list(board["trial_id"])
    assert {"val_auroc_ci95_lo", "val_auroc_ci95_hi", "tied_with_best", "delta_ci95_lo", "delta_ci95_hi"} <= set(
        rows[0]
    )
    assert isinstance(rows[0]["tied_with_best"], bool)


def test_the_card_compares_with_baselines_and_shows_net_benefit_on_the_one_test_scoring(swept, cli):
    out, data = swept
    card = json.loads((out / "best" / "model_card.json").read_text())
    test = card["test"]
    assert test["scorings"] == 1
    assert set(card["baselines"]) == {"logistic_regression", "gradient_boosting"}
    for block in card["baselines"].values():
        assert block["validation"]["n"] == len(data.y_val) and block["test"]["n"] == len(data.y_test)
        assert block["test"]["auroc_ci95"][0] < block["test"]["auroc_ci95"][1]
        assert block["fit_rows"] == block["train_rows"] <= len(data.y_train)  # below export.baseline_max_rows
    # 3 trials on 2 slots: the baselines were fitted on the slot the last trial left idle, and are what
    # fitting them after the sweep gives, bit for bit
    timings = json.loads((out / "timings.json").read_text())
    assert timings["fit_start"] < timings["baselines_start"] < timings["fit_end"]
    cfg = load_config(out / "config.yaml")
    grids = cfg.export.baseline_grid.model_dump()
    again = fit_baselines(data, cfg.export.baselines, cfg.train.class_weight, cfg.export.seed, None, grids, 1)
    for name, baseline in again.items():
        assert card["baselines"][name]["test"]["auroc"] == roc_auc_score(data.y_test, baseline.test[:, 0])
        # tuned on the validation rows: the card records the setting of lowest validation loss and the grid
        assert card["baselines"][name]["chosen"] == baseline.chosen and card["baselines"][name]["grid"] == grids[name]
        assert card["baselines"][name]["validation"]["loss"] == pytest.approx(min(baseline.losses))
    assert "Tuned like the network" in (out / "best" / "model_card.md").read_text()
    assert "export.baseline_max_rows" not in (out / "best" / "model_card.md").read_text()
    versus = test["vs_baseline"]
    assert versus["baseline"] in card["baselines"] and versus["delta_auroc_ci95"][0] < versus["delta_auroc_ci95"][1]
    assert versus["delta_auroc"] == pytest.approx(
        test["auroc"] - card["baselines"][versus["baseline"]]["test"]["auroc"]
    )
    lo, hi = versus["delta_auroc_ci95"]
    assert versus["verdict"] == ("better" if lo > 0 else "worse" if hi < 0 else "not_shown_better")
    # the built-in table's 86 test rows: the card says so, and so do its Markdown and the report
    assert card["warnings"] == [
        f"The test split has {len(data.y_test)} rows (fewer than 100): every test number rests on them, "
        "and the intervals are wide."
    ]
    markdown = (out / "best" / "model_card.md").read_text()
    assert f"## Warnings\n\n- The test split has {len(data.y_test)} rows" in markdown
    curve = test["decision_curve"]
    assert curve["thresholds"][0] == 0.01 and curve["thresholds"][-1] == 0.99 and len(curve["thresholds"]) == 99
    assert len(curve["model"]) == len(curve["treat_all"]) == 99 and set(curve["treat_none"]) == {0.0}
    assert curve["treat_all"][0] == pytest.approx(data.y_test.mean() - (1 - data.y_test.mean()) * 0.01 / 0.99)
    page = (out / "report.html").read_text()
    words = (
        "Baselines on the same rows",
        "Tuned like the network",
        "Decision curve",
        "operating threshold",
        "scored once",
        "(verdict: ",
    )
    for text in words:
        assert text in page, text
    assert f"<ul class=warn><li>The test split has {len(data.y_test)} rows" in page
    record = json.loads((out / "sweep.json").read_text())
    assert (
        record["test_scorings"][0]["command"] == "run" and record["test_scorings"][0]["test"]["auroc"] == test["auroc"]
    )


def test_model_card_has_clinical_metrics_at_a_validation_threshold(swept, cli):
    from trainable.stats.metrics import choose_threshold, clinical_metrics
    from trainable.trial.model import load_model, predict_proba
    from trainable.trial.validation import validation_proba

    out, data = swept
    card = json.loads((out / "best" / "model_card.json").read_text())
    test, thr = card["test"], card["threshold"]
    for key in (
        "auroc",
        "auroc_ci95",
        "auprc",
        "auprc_ci95",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "brier",
        "brier_ci95",
        "calibration_slope",
        "calibration_intercept",
        "calibration_intercept_ci95",
    ):
        assert key in test, key
    for key, interval in test.items():
        if key.endswith("_ci95") and interval is not None:
            assert interval[0] < interval[1], key  # never a degenerate interval: both classes are present
    lo, hi = test["auroc_ci95"]
    assert lo <= test["auroc"] <= hi and test["auroc"] > 0.9
    assert thr["chosen_on"] == "validation" and thr["method"] == "youden" and thr["positive_class"] == "malignant"

    # the threshold is chosen on the pooled out-of-fold predictions of the trial's 5 fold-models
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    pooled = validation_proba(load_model(board.loc[0, "checkpoint"] + "/model.keras"), data)
    assert thr["value"] == pytest.approx(choose_threshold(data.y_val, pooled, method="youden"))
    model = _best_model(out)
    again = clinical_metrics(
        data.y_test, predict_proba(model, data.X_test), threshold=thr["value"], n_boot=2000, seed=0
    )
    for key in ("sensitivity", "specificity", "ppv", "npv", "brier", "auroc_ci95", "confusion"):
        assert again[key] == pytest.approx(test[key]), key
    text = (out / "best" / "model_card.md").read_text()
    assert f"{thr['value']:.4f}" in text and "95% CI" in text and card["trial_id"] in text


def test_report_is_one_offline_html_file_with_its_plots(swept, cli):
    out, _ = swept
    page = (out / "report.html").read_text()  # written by run_sweep
    assert page.count("plotly.js v") == 1  # the library, inlined once
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched (no CDN)
    assert page.count('class="plotly-graph-div"') >= 6  # ROC, calibration, learning curves, 3 optuna plots
    for title in (
        "ROC, test split",
        "Calibration, test split",
        "Learning curves",
        "Optimisation history",
        "Parallel coordinates",
        "Hyperparameter importance",
        "tied with the best",
    ):
        assert title in page, title
    before = (out / "report.html").stat().st_mtime_ns
    result = cli("report", out)
    assert result.exit_code == 0, result.stderr
    assert (out / "report.html").stat().st_mtime_ns > before


def test_export_any_trial_and_refuse_bad_targets(swept, cli, tmp_path):
    out, _ = swept
    board = pd.read_csv(out / "leaderboard.csv", dtype={"trial_id": str})
    second = board.loc[1, "trial_id"]
    args = ["export", out, "--trial", second, "--out", tmp_path / "second", "--target-sensitivity", "0.95"]
    refused = cli(*args)  # the test split already scored the sweep's best model
    assert refused.exit_code == 2 and "--reuse-test" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "second").exists()
    result = cli(*args, "--reuse-test")
    assert result.exit_code == 0, result.stderr
    card = json.loads((tmp_path / "second" / "model_card.json").read_text())
    assert card["test"]["scorings"] == 2 and "no longer unbiased" in (tmp_path / "second" / "model_card.md").read_text()
    scorings = json.loads((out / "sweep.json").read_text())["test_scorings"]
    assert [(e["command"], e["model"]["trial_id"]) for e in scorings] == [
        ("run", board.loc[0, "trial_id"]),
        ("export", second),
    ]
    # the best model exported again: its recorded test metrics, no new scoring
    again = cli("export", out, "--out", tmp_path / "best_again")
    assert again.exit_code == 0, again.stderr
    best, copy = (
        json.loads((d / "model_card.json").read_text())["test"] for d in (out / "best", tmp_path / "best_again")
    )
    as_of_now = ("scorings", "unbiased")  # the second model has scored the split since
    assert {k: v for k, v in copy.items() if k not in as_of_now} == {
        k: v for k, v in best.items() if k not in as_of_now
    }
    assert copy["scorings"] == 2 and copy["unbiased"] is False and best["unbiased"] is True
    assert len(json.loads((out / "sweep.json").read_text())["test_scorings"]) == 2
    assert card["trial_id"] == second and card["threshold"]["method"] == "target_sensitivity"
    assert card["validation"]["sensitivity"] >= 0.95
    assert card["validation"]["val_auroc"] == pytest.approx(board.loc[1, "val_auroc"], abs=1e-5)
    assert (tmp_path / "second" / "model.keras").is_file() and (tmp_path / "second" / "model_card.md").is_file()
    # `--out` gets the serving export too: the same probabilities as `hpsearch predict`, without hpsearch
    _, data = swept
    rows = pd.DataFrame(data.X_test, columns=data.feature_names)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predicted = cli("predict", tmp_path / "second", tmp_path / "rows.csv", "--out", tmp_path / "pred.csv")
    assert predicted.exit_code == 0, predicted.stderr
    expected = pd.read_csv(tmp_path / "pred.csv")[["proba_benign", "proba_malignant"]].to_numpy()
    assert np.abs(serve_without_hpsearch(tmp_path / "second", rows, tmp_path) - expected).max() <= 1e-6

    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    for args, expected in (
        (["--trial", "nope", "--out", tmp_path / "x"], "no trial 'nope'"),
        (["--out", keep], "holds no exported model"),
        (["--out", tmp_path / "y", "--target-sensitivity", "1.5"], "--target-sensitivity must be in (0, 1]"),
    ):
        result = cli("export", out, *args)
        assert result.exit_code == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert (keep / "notes.txt").read_text() == "mine" and not (tmp_path / "x").exists()


def test_predict_reproduces_the_models_own_test_predictions(swept, cli, tmp_path):
    from trainable.stats.metrics import clinical_metrics
    from trainable.trial.model import predict_proba

    out, data = swept
    card = json.loads((out / "best" / "model_card.json").read_text())
    rows = pd.DataFrame(data.X_test, columns=data.feature_names)  # scikit-learn's feature names
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = cli("predict", out / "best", tmp_path / "rows.csv", "--out", tmp_path / "pred.csv")
    assert result.exit_code == 0, result.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["proba_benign", "proba_malignant", "predicted"]
    expected = predict_proba(_best_model(out), data.X_test).reshape(-1)
    assert np.array_equal(pred["proba_malignant"].to_numpy(), expected)
    assert np.allclose(pred["proba_benign"] + pred["proba_malignant"], 1.0)
    called = pred["predicted"] == "malignant"
    assert (called == (pred["proba_malignant"] >= card["threshold"]["value"])).all()
    again = clinical_metrics(
        data.y_test, pred["proba_malignant"].to_numpy(), threshold=card["threshold"]["value"], n_boot=100, seed=0
    )
    assert again["confusion"] == card["test"]["confusion"]

    np.save(tmp_path / "rows.npy", np.column_stack([data.X_test, data.y_test]))  # article format: label last
    result = cli("predict", out / "best", tmp_path / "rows.npy")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(pd.read_csv(__import__("io").StringIO(result.stdout))["proba_malignant"], expected)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda f: f.drop(columns=["mean radius"]), "missing column(s) the model needs: mean radius"),
        (lambda f: f.assign(diagnosis=0), "unexpected column(s) the model was not trained on: diagnosis"),
    ],
)
def test_predict_refuses_a_wrong_schema_and_writes_nothing(swept, cli, tmp_path, change, expected):
    out, data = swept
    change(pd.DataFrame(data.X_test, columns=data.feature_names)).to_csv(tmp_path / "rows.csv", index=False)
    result = cli("predict", out / "best", tmp_path / "rows.csv", "--out", tmp_path / "pred.csv")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"hpsearch: error: {tmp_path / 'rows.csv'}: {expected}"
    assert not (tmp_path / "pred.csv").exists()


def test_pick_retrains_the_top_configurations_and_exports_the_winner(swept, cli, tmp_path):
    out, _ = swept
    copy = tmp_path / "review"
    shutil.copytree(out, copy)
    refused = cli("pick", copy, "--top-k", "2", "--repeats", "2")  # `run` already scored the test split
    assert refused.exit_code == 2 and "--reuse-test" in refused.stderr and not (copy / "pick").exists()
    result = cli("pick", copy, "--top-k", "2", "--repeats", "2", "--reuse-test")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(copy / "pick.csv", dtype={"trial_id": str, "values": str})
    board = pd.read_csv(copy / "leaderboard.csv", dtype={"trial_id": str})
    assert set(table["trial_id"]) == set(board["trial_id"][:2]) and list(table["rank"]) == [1, 2]
    assert (table["n_ok"] == 2).all() and (table["seeds"] == "1 2").all()
    for _, row in table.iterrows():  # ranked by the sweep's metric, val_loss
        values = [float(v) for v in row["values"].split()]
        assert row["mean_val_loss"] == pytest.approx(np.mean(values), abs=1e-4)
        assert row["std_val_loss"] == pytest.approx(np.std(values, ddof=1), abs=1e-4)
    assert table["mean_val_loss"].is_monotonic_increasing
    card = json.loads((copy / "best" / "model_card.json").read_text())
    assert card["trial_id"] == table.loc[0, "trial_id"] and card["training_seed"] == table.loc[0, "best_seed"]
    assert card["pick"]["seeds"] == [1, 2] and card["pick"]["mean"] == pytest.approx(
        table.loc[0, "mean_val_loss"], abs=1e-5
    )
    runs = [p.name for p in (copy / "pick").glob("pick_*/checkpoint_*/*_s*")]  # packs of (configuration, seed)
    assert len(runs) == 4 and len(set(runs)) == 4
    assert "Robust pick" in (copy / "report.html").read_text()
