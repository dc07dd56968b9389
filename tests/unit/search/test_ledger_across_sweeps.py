"""The results folder's test ledger: one test split scored once across sweeps (renamed, archived, overwritten),
`--reuse-test` counted, two drivers at once. Fast: real files and processes, no Ray, no TF."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import pytest

from search.export.ledger import Ledger, model_key
from search.records.model_card import CardTest, ModelCard
from search.records.sweep_record import SweepRecord, read_record, write_record
from search.records.test_ledger import LedgerEntry, read_ledger, split_of, sweep_of, update_ledger
from search.review.card_text import card_markdown, performance_rows
from trainable.errors import HpsearchError

SPLIT = {"data_sha256": "d" * 64, "test_rows_sha256": "r" * 64}


def _sweep(results: Path, name: str, started: str, **split: str) -> Path:
    out = results / name
    out.mkdir(parents=True, exist_ok=True)
    fields = {**SPLIT, **split}
    write_record(
        out,
        SweepRecord(
            experiment="x",
            out_dir=str(out),
            data_sha256=fields["data_sha256"],
            folds_sha256=None,
            storage=None,
            started=started,
            finished=None,
            test_rows_sha256=fields["test_rows_sha256"],
        ),
    )
    return out


def _key(trial: str, weights: str):
    return model_key(trial, 0, 3, "youden").model_copy(update={"weights": weights})


def _score(out: Path, trial: str, command: str = "run", reuse_test: bool = False, own: bool = True):
    """What the export does: claim the split, then (when given it) record the metrics; returns the claim."""
    ledger, key = Ledger(out), _key(trial, f"w-{out.name}-{trial}")
    taken = ledger.claim(key, command, reuse_test, own=own)
    if taken is None:
        ledger.record(key, command, CardTest(n=86, auroc=0.99, accuracy=0.95, loss=0.1), {})
    return taken


def test_a_second_sweep_on_the_same_split_is_not_scored_until_told(tmp_path):
    results = tmp_path / "results"
    first = _sweep(results, "first", "2026-12-04T10:00:00")
    assert _score(first, "a1") is None  # the first sweep scores its split
    second = _sweep(results, "second", "2026-12-04T11:00:00")
    taken = _score(second, "b1")  # the same rows of the same data, another sweep: not scored
    assert taken is not None and (taken.sweep.out_dir, taken.model.trial_id, taken.command) == (
        str(first),
        "a1",
        "run",
    )
    assert Ledger(second).entries() == [] and len(read_ledger(results)) == 1
    with pytest.raises(HpsearchError) as refused:  # `export`/`pick` on it: refused, naming who scored it
        Ledger(second).allow(_key("b1", "w"), reuse_test=False)
    message = str(refused.value)
    assert f"sweep {first}" in message and "trial a1" in message and "--reuse-test" in message
    assert "\n" not in message
    assert _score(second, "b1", reuse_test=True) is None  # --reuse-test: scored, recorded, counted
    book = read_ledger(results)
    assert [(Path(e.sweep.out_dir).name, e.reuse_test) for e in book] == [("first", False), ("second", True)]
    assert Ledger(second).count() == 2 and Ledger(first).count() == 2
    other = _sweep(results, "other", "2026-12-04T12:00:00", test_rows_sha256="s" * 64)
    assert Ledger(other).count() == 0 and _score(other, "c1") is None  # other test rows: another split


def test_archived_and_overwritten_sweeps_still_count(tmp_path):
    results = tmp_path / "results"
    first = _sweep(results, "tour", "2026-12-04T10:00:00")
    assert _score(first, "a1") is None
    os.replace(first, results / "tour@20261204-100500")  # a rerun of the same name archives it
    rerun = _sweep(results, "tour", "2026-12-04T10:06:00")
    taken = _score(rerun, "a2")
    assert taken is not None and taken.sweep.started == "2026-12-04T10:00:00"
    shutil.rmtree(rerun)  # --overwrite deletes the sweep folder, not its parent's ledger
    again = _sweep(results, "tour", "2026-12-04T10:07:00")
    assert _score(again, "a3") is not None and Ledger(again).count() == 1


def test_within_one_sweep_the_run_scores_after_an_export_and_the_same_model_reuses_its_metrics(tmp_path):
    out = _sweep(tmp_path / "results", "one", "2026-12-04T10:00:00")
    assert _score(out, "a1", command="export", reuse_test=False, own=False) is None  # while the sweep ran
    assert _score(out, "b1") is None  # the sweep's own scoring: never refused, the next one
    assert Ledger(out).count() == 2
    assert Ledger(out).previous(_key("a1", "w-one-a1")) is not None  # an export of it again reuses its metrics
    with pytest.raises(HpsearchError, match="by this sweep, trial a1"):
        Ledger(out).allow_new(reuse_test=False)


def _race(results: str, name: str, barrier, found) -> None:
    """A driver that checks the ledger, takes its time, then records a scoring only if none was there."""
    out = _sweep(Path(results), name, f"2026-12-04T10:00:0{name[-1]}")
    record = read_record(out)

    def decide(book):
        time.sleep(0.2)  # a wide window between the check and the record
        if book:
            return False, None
        mine = LedgerEntry(
            split=split_of(record), sweep=sweep_of(record), when="now", command="run", model=_key("t", name)
        )
        return True, mine

    barrier.wait()
    found.put((name, update_ledger(results, decide)))


def test_two_drivers_finishing_at_once_score_the_split_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, found = ctx.Barrier(4), ctx.Queue()
    workers = [ctx.Process(target=_race, args=(str(tmp_path), f"s{i}", barrier, found)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    scored = dict(found.get(timeout=5) for _ in workers)
    assert sum(scored.values()) == 1  # the check and the record are one step: one driver scored
    book = json.loads((tmp_path / "test_ledger.json").read_text())["entries"]
    assert len(book) == 1 and Path(book[0]["sweep"]["out_dir"]).name == next(k for k, v in scored.items() if v)
    loser = next(k for k, v in scored.items() if not v)
    assert _score(tmp_path / loser, "t") is not None  # a sweep that lost the race is exported unscored


def test_an_unscored_card_renders_without_test_metrics_and_says_how_to_score_it():
    from test_records import CARD

    how = "hpsearch export results/second --out results/second/best --reuse-test"
    test = {
        "n": 86,
        "scored": False,
        "scored_by": {
            "sweep": "first",
            "out_dir": "results/first",
            "when": "2026-12-04T10:00:00",
            "command": "run",
            "trial_id": "a1",
        },
        "score_with": how,
        "scorings": 1,
    }
    card = ModelCard.model_validate({**CARD, "test": test})
    assert card.test.unscored and card.test.auroc is None
    assert {row[2] for row in performance_rows(card)} == {"not scored"}
    text = card_markdown(card)
    assert "Not scored on the test split" in text and "sweep first (trial a1" in text and f"`{how}`" in text
    assert "2026-12-04T10:00:00" in text and "Test split at the threshold" not in text


def test_a_sweep_record_names_its_test_split_and_keeps_run_reuse_test_for_resume(tmp_path):
    from conftest import load

    from search.records.test_ledger import split_of
    from search.sweep import folder

    data = load("builtin:breast_cancer")
    assert load("builtin:breast_cancer", folds=0).test_rows_sha256 == data.test_rows_sha256  # the same rows
    assert load("builtin:breast_cancer", seed=1).test_rows_sha256 != data.test_rows_sha256  # other rows
    for name in ("plain", "forced"):
        (tmp_path / name).mkdir()
    plain = folder.start(tmp_path / "plain", "x", data, None)
    forced = folder.start(tmp_path / "forced", "x", data, None, reuse_test=True)
    assert split_of(plain) == split_of(forced) and split_of(plain).data_sha256 == data.sha256
    saved = {p: json.loads((tmp_path / p / "sweep.json").read_text()) for p in ("plain", "forced")}
    assert "reuse_test" not in saved["plain"] and saved["forced"]["reuse_test"] is True
    assert saved["plain"]["test_rows_sha256"] == data.test_rows_sha256
