"""The test split's ledger: every scoring of it, by any sweep of the results folder, so that it is scored once.

Contract: a test split is held out for ONE estimate, across sweeps: a sweep
rerun under a new name, rerun under the same name (the old one archived) or
with `--overwrite` holds out the same rows of the same data, and scoring it
again would let the test choose among models. `Ledger(sweep_dir)` sees two
books: the sweep's record (`sweep.json`'s `test_scorings`,
`search.records.sweep_record`), whose entries keep the test metrics each
scoring produced, and the results folder's test ledger (`test_ledger.json`
beside the sweeps, `search.records.test_ledger`), which keeps every sweep's
scorings of every split, archived and overwritten sweeps included. A sweep's
scorings (`scorings()`) are those of its test split in the results folder's
ledger together with its own (a sweep copied elsewhere, or recorded before
splits were named, still knows its own). Each names when, which sweep, which
model (`model_key(...)`: the trial, its training seed, its best epoch, the
threshold rule, and a fingerprint of the exported weights, so a retrained
model is never taken for another) and which command.
- `previous(key)`: this sweep's entry of that same model, whose metrics an
  export of it again reuses (nothing is scored, nothing recorded);
- `allow(key, reuse_test)`: refuses (`HpsearchError`, exit 2) to score a model
  when another one has scored this test split (in this sweep or another),
  unless `reuse_test` (`--reuse-test`); a key without `weights` (asked before
  the model is loaded) is allowed when an entry matches it so far;
  `allow_new(reuse_test)` does the same for a model not yet known
  (`hpsearch pick` asks before it retrains);
- `claim(key, command, reuse_test, own)`: as the scoring starts, checks and
  records it in the results folder's ledger in one locked step (`reuse_test`
  recorded when that flag let it score a split scored before). `own` is a
  sweep's own scoring (the end of `run`/`resume`): never refused, but when
  another sweep scored the split first and not `reuse_test`, nothing is
  recorded and that sweep's first scoring is returned: the model is exported
  unscored. Otherwise returns None (score it); refuses as `allow` does;
- `record(key, command, test, baselines)` appends the metrics to the sweep's
  record; `count()` is how many distinct models the test split has scored,
  across sweeps (the card's `test.scorings`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from search.records.model_card import CardBaseline, CardTest
from search.records.sweep_record import ModelKey, Scoring, SweepRecord, now, read_record, write_record
from search.records.test_ledger import (
    LedgerEntry,
    SweepId,
    distinct_models,
    results_of,
    split_of,
    split_scorings,
    sweep_of,
    sweep_scorings,
    update_ledger,
)
from trainable.errors import HpsearchError

__all__ = ["Ledger", "model_key", "weights_fingerprint"]


def model_key(trial_id: str, training_seed: int, epoch: int, threshold: str) -> ModelKey:
    return ModelKey(trial_id=str(trial_id), training_seed=int(training_seed), epoch=int(epoch), threshold=threshold)


def weights_fingerprint(model: Any) -> str:
    """A sha256 of a Keras model's weights: the same trained model, or not."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def _describe(entry: LedgerEntry, me: SweepId) -> str:
    model = entry.model
    sweep = "this sweep" if entry.sweep == me else f"sweep {entry.sweep.out_dir} (started {entry.sweep.started})"
    return (
        f"{sweep}, trial {model.trial_id} (seed {model.training_seed}, threshold {model.threshold}), "
        f"by `hpsearch {entry.command}` at {entry.when}"
    )


class Ledger:
    def __init__(self, sweep_dir: str | Path) -> None:
        self.out = Path(sweep_dir)
        self.results = results_of(self.out)  # its test ledger is every sweep's of the results folder

    def _record(self) -> SweepRecord:
        record = read_record(self.out)
        if record is None:
            raise HpsearchError(f"{self.out}: not a sweep folder (its sweep.json is missing)")
        return record

    def entries(self) -> list[Scoring]:
        """This sweep's own scorings, with their metrics."""
        record = read_record(self.out)
        return [] if record is None else list(record.test_scorings)

    def scorings(self) -> list[LedgerEntry]:
        """Every scoring of this sweep's test split, by any sweep of the results folder, oldest first."""
        return sweep_scorings(self.out)

    def previous(self, key: ModelKey) -> Scoring | None:
        return next((e for e in self.entries() if key.matches(e.model)), None)

    def _refusal(self, first: LedgerEntry, me: SweepId) -> HpsearchError:
        return HpsearchError(
            f"{self.out}: its test split was already scored, by {_describe(first, me)}; scoring another model "
            "on it would let the test choose the model, and its estimate would no longer be unbiased: pass "
            "--reuse-test to score it anyway (it is recorded, and the model card says so)"
        )

    def _refuse(self, reuse_test: bool) -> None:
        entries = self.scorings()
        if entries and not reuse_test:
            raise self._refusal(entries[0], sweep_of(self._record()))

    def allow(self, key: ModelKey, reuse_test: bool) -> None:
        if self.previous(key) is None:
            self._refuse(reuse_test)

    def allow_new(self, reuse_test: bool) -> None:
        self._refuse(reuse_test)

    def claim(self, key: ModelKey, command: str, reuse_test: bool, own: bool) -> LedgerEntry | None:
        """None: score the model (recorded now); else the other sweep's scoring that took the split first
        (`own` only). Refuses a scoring `allow` refuses."""
        record = self._record()
        split, me = split_of(record), sweep_of(record)

        def decide(book: list[LedgerEntry]) -> tuple[LedgerEntry | None, LedgerEntry | None]:
            scored = split_scorings(record, book)
            others = [e for e in scored if e.sweep != me]
            if own and others and not reuse_test:
                return others[0], None
            if scored and not (own or reuse_test):
                raise self._refusal(scored[0], me)
            if split is None:  # a sweep recorded before splits were named: its own record alone
                return None, None
            entry = LedgerEntry(
                split=split, sweep=me, when=now(), command=command, model=key, reuse_test=reuse_test and bool(scored)
            )
            return None, entry

        return update_ledger(self.results, decide)

    def count(self) -> int:
        """How many distinct models the test split has scored, across the sweeps of the results folder."""
        return distinct_models(self.scorings())

    def record(self, key: ModelKey, command: str, test: CardTest, baselines: dict[str, CardBaseline]) -> None:
        record = self._record()
        entry = Scoring(when=now(), command=command, model=key, test=test, baselines=baselines)
        write_record(self.out, record.model_copy(update={"test_scorings": [*record.test_scorings, entry]}))
