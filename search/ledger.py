"""The test split's ledger: every scoring of it, so that it is scored once per sweep unless the user says otherwise.

Contract: a sweep's test split is held out for ONE estimate. `Ledger(sweep_dir)`
reads and writes the `test_scorings` list of the sweep's `sweep.json`; each
entry records when, which model (`model_key(...)`: the trial, its training
seed, its best epoch, the threshold rule) and which command, and the test
metrics it produced (`test`, `baselines`).
- `previous(key)`: the entry of that same model, whose metrics an export of it
  again reuses (nothing is scored, nothing recorded);
- `allow(key, reuse_test)`: refuses (`HpsearchError`, exit 2) to score a model
  when another one has been scored on this test split, unless `reuse_test`
  (`--reuse-test`); `allow_new(reuse_test)` does the same for a model not yet
  known (`hpsearch pick` asks before it retrains);
- `record(key, command, test, baselines)` appends the entry; `count()` is how
  many distinct models the test split has scored (the card's `test.scorings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.results import now, read_record, write_record
from trainable.errors import HpsearchError

__all__ = ["Ledger", "model_key"]


def model_key(trial_id: str, training_seed: int, epoch: int, threshold: str) -> dict[str, Any]:
    return {"trial_id": str(trial_id), "training_seed": int(training_seed), "epoch": int(epoch), "threshold": threshold}


def _describe(entry: dict[str, Any]) -> str:
    model = entry["model"]
    return (f"trial {model['trial_id']} (seed {model['training_seed']}, threshold {model['threshold']}) "
            f"by `hpsearch {entry['command']}` at {entry['when']}")


class Ledger:
    def __init__(self, sweep_dir: str | Path) -> None:
        self.out = Path(sweep_dir)

    def entries(self) -> list[dict[str, Any]]:
        return list((read_record(self.out) or {}).get("test_scorings", []))

    def previous(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return next((e for e in self.entries() if e["model"] == key), None)

    def _refuse(self, reuse_test: bool) -> None:
        entries = self.entries()
        if entries and not reuse_test:
            raise HpsearchError(
                f"{self.out}: its test split was already scored, for {_describe(entries[0])}; scoring another model "
                "on it would let the test choose the model, and its estimate would no longer be unbiased: pass "
                "--reuse-test to score it anyway (it is recorded, and the model card says so)"
            )

    def allow(self, key: dict[str, Any], reuse_test: bool) -> None:
        if self.previous(key) is None:
            self._refuse(reuse_test)

    def allow_new(self, reuse_test: bool) -> None:
        self._refuse(reuse_test)

    def count(self) -> int:
        """How many distinct models the test split has scored."""
        return len({str(sorted(e["model"].items())) for e in self.entries()})

    def record(self, key: dict[str, Any], command: str, test: dict[str, Any], baselines: dict[str, Any]) -> None:
        record = read_record(self.out) or {}
        entries = [*record.get("test_scorings", []),
                   {"when": now(), "command": command, "model": key, "test": test, "baselines": baselines}]
        write_record(self.out, {**record, "test_scorings": entries})
