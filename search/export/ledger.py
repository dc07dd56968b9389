"""The test split's ledger: every scoring of it, so that it is scored once per sweep unless the user says otherwise.

Contract: a sweep's test split is held out for ONE estimate. `Ledger(sweep_dir)`
reads and writes the `test_scorings` of the sweep's record (`sweep.json`,
`search.records.sweep_record`); each entry records when, which model
(`model_key(...)`: the trial, its training seed, its best epoch, the
threshold rule, and a fingerprint of the exported weights, so a retrained
model is never taken for another), which command, and the test metrics it
produced (`test`, `baselines`).
- `previous(key)`: the entry of that same model, whose metrics an export of it
  again reuses (nothing is scored, nothing recorded);
- `allow(key, reuse_test)`: refuses (`HpsearchError`, exit 2) to score a model
  when another one has been scored on this test split, unless `reuse_test`
  (`--reuse-test`); a key without `weights` (asked before the model is
  loaded) is allowed when an entry matches it so far;
  `allow_new(reuse_test)` does the same for a model not yet known
  (`hpsearch pick` asks before it retrains);
- `record(key, command, test, baselines)` appends the entry; `count()` is how
  many distinct models the test split has scored (the card's `test.scorings`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from search.records.model_card import CardBaseline, CardTest
from search.records.sweep_record import ModelKey, Scoring, SweepRecord, now, read_record, write_record
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


def _describe(entry: Scoring) -> str:
    model = entry.model
    return (
        f"trial {model.trial_id} (seed {model.training_seed}, threshold {model.threshold}) "
        f"by `hpsearch {entry.command}` at {entry.when}"
    )


class Ledger:
    def __init__(self, sweep_dir: str | Path) -> None:
        self.out = Path(sweep_dir)

    def _record(self) -> SweepRecord:
        record = read_record(self.out)
        if record is None:
            raise HpsearchError(f"{self.out}: not a sweep folder (its sweep.json is missing)")
        return record

    def entries(self) -> list[Scoring]:
        record = read_record(self.out)
        return [] if record is None else list(record.test_scorings)

    def previous(self, key: ModelKey) -> Scoring | None:
        return next((e for e in self.entries() if key.matches(e.model)), None)

    def _refuse(self, reuse_test: bool) -> None:
        entries = self.entries()
        if entries and not reuse_test:
            raise HpsearchError(
                f"{self.out}: its test split was already scored, for {_describe(entries[0])}; scoring another model "
                "on it would let the test choose the model, and its estimate would no longer be unbiased: pass "
                "--reuse-test to score it anyway (it is recorded, and the model card says so)"
            )

    def allow(self, key: ModelKey, reuse_test: bool) -> None:
        if self.previous(key) is None:
            self._refuse(reuse_test)

    def allow_new(self, reuse_test: bool) -> None:
        self._refuse(reuse_test)

    def count(self) -> int:
        """How many distinct models the test split has scored."""
        record = read_record(self.out)
        return 0 if record is None else record.scored_models()

    def record(self, key: ModelKey, command: str, test: CardTest, baselines: dict[str, CardBaseline]) -> None:
        record = self._record()
        entry = Scoring(when=now(), command=command, model=key, test=test, baselines=baselines)
        write_record(self.out, record.model_copy(update={"test_scorings": [*record.test_scorings, entry]}))
