"""The test split's ledger: every scoring of it, so that it is scored once per sweep unless the user says otherwise.

Contract: a sweep's test split is held out for ONE estimate. `Ledger(sweep_dir)`
reads and writes the `test_scorings` list of the sweep's `sweep.json`; each
entry records when, which model (`model_key(...)`: the trial, its training
seed, its best epoch, the threshold rule, and a fingerprint of the exported
weights, so a retrained model is never taken for another), which command,
and the test metrics it produced (`test`, `baselines`). A sweep exported
before the ledger existed counts its `best/` model card as its one scoring.
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

import json
from pathlib import Path
from typing import Any

from search.layout import BEST_DIR, CARD_FILE
from search.results import now, read_record, write_record
from trainable.errors import HpsearchError

__all__ = ["Ledger", "model_key", "weights_fingerprint"]


def model_key(trial_id: str, training_seed: int, epoch: int, threshold: str, weights: str | None = None) -> dict:
    key = {"trial_id": str(trial_id), "training_seed": int(training_seed), "epoch": int(epoch), "threshold": threshold}
    return key if weights is None else {**key, "weights": weights}


def weights_fingerprint(model) -> str:
    """A sha256 of a Keras model's weights: the same trained model, or not."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def _matches(entry_model: dict, key: dict) -> bool:
    return all(entry_model[k] == v for k, v in key.items() if k in entry_model)


def _describe(entry: dict[str, Any]) -> str:
    model = entry["model"]
    return (f"trial {model['trial_id']} (seed {model['training_seed']}, threshold {model['threshold']}) "
            f"by `hpsearch {entry['command']}` at {entry['when']}")


class Ledger:
    def __init__(self, sweep_dir: str | Path) -> None:
        self.out = Path(sweep_dir)

    def _legacy(self) -> list[dict[str, Any]]:
        """An export from before the ledger: its card's test block is the sweep's scoring."""
        card_file = self.out / BEST_DIR / CARD_FILE
        if not card_file.is_file():
            return []
        card = json.loads(card_file.read_text())
        if "test" not in card:
            return []
        threshold = (card.get("threshold") or {}).get("method", "youden")
        key = model_key(card["trial_id"], card.get("training_seed") or 0, card["validation"].get("epoch", 0), threshold)
        return [{"when": card.get("created", "?"), "command": "run", "model": key, "test": card["test"],
                 "baselines": card.get("baselines", {})}]

    def entries(self) -> list[dict[str, Any]]:
        record = read_record(self.out) or {}
        return list(record["test_scorings"]) if "test_scorings" in record else self._legacy()

    def previous(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return next((e for e in self.entries() if _matches(e["model"], key)), None)

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
        return len({json.dumps(e["model"], sort_keys=True) for e in self.entries()})

    def record(self, key: dict[str, Any], command: str, test: dict[str, Any], baselines: dict[str, Any]) -> None:
        record = read_record(self.out)
        if record is None:  # a folder of the first release: finished, but it wrote no sweep.json
            record = {"out_dir": str(self.out), "finished": now()}
        entries = [*self.entries(), {"when": now(), "command": command, "model": key, "test": test,
                                     "baselines": baselines}]
        write_record(self.out, {**record, "test_scorings": entries})
