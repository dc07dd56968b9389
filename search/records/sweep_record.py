"""The sweep record, `sweep.json`, as a typed record: where a sweep's state lives and what scored its test split.

Contract: `SweepRecord` is `sweep.json`: `experiment` (where Ray Tune's
experiment lives), `out_dir` (the sweep folder it ran in), `data_sha256`, `test_rows_sha256`
and `folds_sha256` (the data's, its test rows' and the folds' fingerprints),
`reuse_test` (set when `run --reuse-test` started it), `storage`, `started`,
`finished` (None until the sweep ends), and, once they exist,
`mlflow_run_id` and `test_scorings` (every scoring of the test split, a
`Scoring` each: when, which model, which command, its test metrics). The
file keeps the keys it was given and only those. `read_record(out)` is the
record of the sweep in `out` (None when there is none; unreadable: one line
naming the file); `write_record(out, record)` writes it atomically.
`check_same_data(data, why)` refuses data whose fingerprints differ from what
the sweep recorded; `scored_models()` counts the distinct models its test
split has scored. `now()` is the timestamp format of every record.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from search.records.model_card import CardBaseline, CardTest, dump
from search.records.paths import SWEEP_FILE, atomic_write_text
from trainable.data.dataset import Dataset
from trainable.errors import HpsearchError

__all__ = ["ModelKey", "Scoring", "SweepRecord", "now", "read_record", "write_record"]


def now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class ModelKey(BaseModel):
    """Which model scored the test split: the trial, its training seed, its best epoch, the threshold rule,
    and (once the model is loaded) a fingerprint of its weights, so a retrained model is never taken for
    another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trial_id: str
    training_seed: int
    epoch: int
    threshold: str
    weights: str | None = None

    def matches(self, other: ModelKey) -> bool:
        """The same model, as far as both keys tell (a key without `weights` matches any weights)."""
        mine, theirs = dump(self), dump(other)
        return all(theirs[k] == v for k, v in mine.items() if k in theirs)


class Scoring(BaseModel):
    """One scoring of the test split."""

    model_config = ConfigDict(extra="forbid")

    when: str
    command: str  # the hpsearch command that scored it: run, export or pick
    model: ModelKey
    test: CardTest
    baselines: dict[str, CardBaseline]


class SweepRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str
    out_dir: str
    data_sha256: str | None
    folds_sha256: str | None
    storage: str | None
    started: str
    finished: str | None
    mlflow_run_id: str | None = None
    test_rows_sha256: str | None = None  # with data_sha256, names the test split (`search.records.test_ledger`)
    reuse_test: bool = False  # `run --reuse-test`: the sweep scores its test split even if another sweep did
    test_scorings: list[Scoring] = []

    def check_same_data(self, data: Dataset, why: str) -> None:
        """Refuse `data` when its fingerprint, or its folds', differs from what the sweep recorded."""
        if self.data_sha256 and data.sha256 != self.data_sha256:
            raise HpsearchError(
                f"{data.source}: the data changed since the sweep started (sha256 {data.sha256[:12]}, "
                f"was {self.data_sha256[:12]}); {why}"
            )
        if self.folds_sha256 != data.folds_sha256:
            raise HpsearchError(
                f"{data.source}: the cross-validation folds differ from the sweep's "
                f"(search.cv.folds, data.seed or the library that cuts them changed); {why}"
            )

    def scored_models(self) -> int:
        """How many distinct models the test split has scored."""
        return len({json.dumps(dump(s.model), sort_keys=True) for s in self.test_scorings})


def read_record(out: Path) -> SweepRecord | None:
    path = Path(out) / SWEEP_FILE
    try:
        return SweepRecord.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HpsearchError(f"{path}: unreadable sweep record ({first})") from None


def write_record(out: Path, record: SweepRecord) -> None:
    atomic_write_text(Path(out) / SWEEP_FILE, json.dumps(dump(record), indent=2) + "\n")
