"""One test split, many sweeps: the results folder's test ledger, end to end (real Ray, real TensorFlow, the CLI).

Four one-trial sweeps on the built-in table share its test split: the first scores it; a rerun of the same name
(the first archived) and a sweep under a new name export `best/` unscored, naming the first; `--reuse-test`
(on `run --overwrite`, and on `export`) scores them anyway, counted across sweeps, with the warning."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    settings = {
        "results_dir": str(tmp_path / "results"),
        "search": {"trials": 1, "pack": 1, "early_stopping": {"enabled": False}},
        "train": {"max_epochs": 1},
        "export": {"n_boot": 100, "baselines": ["logistic_regression"]},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def _card(folder: Path) -> dict:
    return json.loads((folder / "best" / "model_card.json").read_text())


def _ledger(results: Path) -> list[dict]:
    return json.loads((results / "test_ledger.json").read_text())["entries"]


def test_a_test_split_is_scored_once_across_sweeps_unless_told(ray_session, cli, tmp_path):
    config, results = _config(tmp_path), tmp_path / "results"
    first = cli("run", config, "--name", "tour")
    assert first.exit_code == 0, first.stderr
    test = _card(results / "tour")["test"]
    assert test["scored"] is True and test["scorings"] == 1 and test["unbiased"] is True and test["auroc"] > 0.5
    (scoring,) = _ledger(results)
    assert (Path(scoring["sweep"]["out_dir"]).name, scoring["command"], scoring["reuse_test"]) == ("tour", "run", False)

    # the same name again: the first sweep is archived, its scoring still counts; best/ is exported unscored
    again = cli("run", config, "--name", "tour")
    assert again.exit_code == 0, again.stderr
    (archived,) = [p for p in results.iterdir() if p.name.startswith("tour@")]
    assert _card(archived)["test"]["auroc"] == test["auroc"]
    _assert_unscored(results / "tour", scoring, again.stderr)
    assert len(_ledger(results)) == 1
    report = cli("report", results / "tour")  # a card without test metrics renders
    assert report.exit_code == 0 and "Not scored on the test split" in (results / "tour" / "report.html").read_text()

    # --overwrite deletes the rerun, not the ledger; --reuse-test scores it anyway, counted across sweeps
    forced = cli("run", config, "--name", "tour", "--overwrite", "--reuse-test")
    assert forced.exit_code == 0, forced.stderr
    test = _card(results / "tour")["test"]
    assert test["scored"] is True and test["scorings"] == 2 and test["unbiased"] is False
    assert "no longer unbiased" in (results / "tour" / "best" / "model_card.md").read_text()
    assert (
        "no longer unbiased" in forced.stderr and "no longer unbiased" in (results / "tour" / "report.html").read_text()
    )
    book = _ledger(results)
    assert [(e["command"], e["reuse_test"]) for e in book] == [("run", False), ("run", True)]
    assert book[0] == scoring and book[1]["sweep"]["started"] != scoring["sweep"]["started"]

    # a new name, the same rows of the same data: unscored; `export --reuse-test` scores it, the third model
    other = cli("run", config, "--name", "other")
    assert other.exit_code == 0, other.stderr
    _assert_unscored(results / "other", scoring, other.stderr)
    refused = cli("export", results / "other", "--out", results / "other" / "best")
    assert refused.exit_code == 2 and len(refused.error_lines()) == 1
    assert f"sweep {results / 'tour'}" in refused.stderr and "--reuse-test" in refused.stderr
    scored = cli("export", results / "other", "--out", results / "other" / "best", "--reuse-test")
    assert scored.exit_code == 0, scored.stderr
    test = _card(results / "other")["test"]
    assert test["scored"] is True and test["scorings"] == 3 and "auroc" in test
    assert [e["reuse_test"] for e in _ledger(results)] == [False, True, True]
    report = cli("report", results / "other")
    assert report.exit_code == 0, report.stderr
    assert "has scored 3 different models" in (results / "other" / "report.html").read_text()


def _assert_unscored(sweep: Path, scoring: dict, terminal: str) -> None:
    """`best/` holds a model and a card that says who scored its test split, when, and how to score it anyway."""
    card = _card(sweep)
    test = card["test"]
    assert test["scored"] is False and not {"auroc", "accuracy", "loss", "sensitivity"} & set(test)
    assert test["scored_by"] == {
        "sweep": "tour",
        "out_dir": scoring["sweep"]["out_dir"],
        "when": scoring["when"],
        "command": "run",
        "trial_id": scoring["model"]["trial_id"],
    }
    how = f"hpsearch export {sweep} --out {sweep / 'best'} --reuse-test"
    assert test["score_with"] == how and card["baselines"] == {}
    assert (sweep / "best" / "model.keras").is_file()
    assert list(np.load(sweep / "best" / "predictions.npz")) == ["validation"]  # the test rows not even predicted
    text = (sweep / "best" / "model_card.md").read_text()
    assert "Not scored on the test split" in text and how in text and scoring["when"] in text
    assert "Not scored on the test split" in terminal and how in terminal.replace("\n", "")
    page = (sweep / "report.html").read_text()
    assert "Not scored on the test split" in page and "ROC, test split" not in page


def test_run_with_pick_on_a_split_another_sweep_scored_exports_the_winner_unscored(ray_session, tiny, tmp_path):
    from search.sweep.driver import run_sweep

    small = {"search.trials": 1, "search.pack": 1, "train.max_epochs": 1, "export.baselines": []}
    run_sweep(tiny(name="first", **small))
    picked = {"pick.enabled": True, "pick.top_k": 1, "pick.repeats": 1}
    outcome = run_sweep(tiny(name="picked", **small, **picked))
    out = outcome.out_dir
    assert outcome.pick is not None and outcome.card is not None and outcome.card.pick is not None
    test = outcome.card.test
    assert test.unscored and test.scored_by is not None and test.scored_by.sweep == "first"
    assert test.score_with == f"hpsearch pick {out} --reuse-test" and test.auroc is None
    assert json.loads((out / "sweep.json").read_text()).get("test_scorings", []) == []
    assert (
        len(_ledger(tmp_path / "results")) == 1 and "Not scored on the test split" in (out / "report.html").read_text()
    )
