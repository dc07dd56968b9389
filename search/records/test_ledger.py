"""The results folder's test ledger: every scoring of a test split by any sweep in the folder, archived ones included.

Contract: `RESULTS/test_ledger.json` (`TEST_LEDGER_FILE`, beside the sweep
folders) holds one `LedgerEntry` per scoring of a test split by a sweep of
that results folder: which split (`TestSplit`: the data's sha256 and the
sha256 of its sorted test row indices, so the same rows of the same file),
which sweep (`SweepId`: the folder it ran in and when it started, so a rerun
under the same name, the old one archived or deleted by `--overwrite`, is
another sweep), when, which command, which model (`ModelKey`), and whether
`--reuse-test` let it score a split scored before (`reuse_test`).
- `read_ledger(results_dir)`: the entries (none when the file is missing; an
  unreadable file is refused in one line naming it);
- `update_ledger(results_dir, decide)`: under an exclusive lock
  (`fcntl.flock` on `TEST_LEDGER_LOCK`), reads the entries, calls
  `decide(entries)`, which returns `(result, entry or None)`, appends that
  entry and writes the file atomically; returns `result`. The check and the
  record are one step, so two drivers finishing at once cannot both score a
  split first;
- `split_of(record)`, `sweep_of(record)`: a sweep record's split (None for a
  record written before splits were named) and identity;
- `split_scorings(record, entries)`: the scorings of the sweep's test split,
  oldest first: those of `entries` (the results folder's) and the sweep's own
  (`record.test_scorings`) not among them, so a sweep copied away from its
  results folder, or recorded before splits were named, still knows its own;
  `distinct_models(scorings)` counts the models they scored (the card's
  `test.scorings`); `sweep_scorings(sweep_dir)` is `split_scorings` of the
  sweep in `sweep_dir` and its results folder (`results_of(sweep_dir)`, the
  folder holding it).
hpsearch never deletes the file: it outlives every sweep in the folder.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from search.records.model_card import dump
from search.records.paths import TEST_LEDGER_FILE, TEST_LEDGER_LOCK, atomic_write_text
from search.records.sweep_record import ModelKey, SweepRecord, read_record
from trainable.errors import HpsearchError

__all__ = [
    "LedgerEntry",
    "SweepId",
    "TestSplit",
    "distinct_models",
    "read_ledger",
    "results_of",
    "split_of",
    "split_scorings",
    "sweep_of",
    "sweep_scorings",
    "update_ledger",
]

T = TypeVar("T")


class TestSplit(BaseModel):
    """A test split: the same data file (`data_sha256`) and the same test rows (`test_rows_sha256`)."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_sha256: str
    test_rows_sha256: str


class SweepId(BaseModel):
    """A sweep: the folder it ran in (archiving renames the folder, not this) and when it started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: str
    started: str

    @property
    def name(self) -> str:
        return Path(self.out_dir).name


class LedgerEntry(BaseModel):
    """One scoring of a test split."""

    model_config = ConfigDict(extra="forbid")

    split: TestSplit
    sweep: SweepId
    when: str
    command: str  # the hpsearch command that scored it: run, resume, export or pick
    model: ModelKey
    reuse_test: bool = False  # --reuse-test let it score a split scored before


_UNNAMED = TestSplit(data_sha256="", test_rows_sha256="")  # a sweep's own scorings when its split has no name


class _Ledger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[LedgerEntry] = []


def split_of(record: SweepRecord) -> TestSplit | None:
    """The sweep's test split; None for a sweep recorded before test splits were named."""
    if not (record.data_sha256 and record.test_rows_sha256):
        return None
    return TestSplit(data_sha256=record.data_sha256, test_rows_sha256=record.test_rows_sha256)


def sweep_of(record: SweepRecord) -> SweepId:
    return SweepId(out_dir=record.out_dir, started=record.started)


def _identity(entry: LedgerEntry) -> str:
    return json.dumps([dump(entry.sweep), dump(entry.model)], sort_keys=True)


def split_scorings(record: SweepRecord, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The scorings of the sweep's test split, oldest first: the results folder's, and the sweep's own."""
    split, me = split_of(record), sweep_of(record)
    shared = [e for e in entries if split is not None and e.split == split]
    own = [
        LedgerEntry(split=split or _UNNAMED, sweep=me, when=s.when, command=s.command, model=s.model)
        for s in record.test_scorings
    ]
    seen = {_identity(e) for e in shared}
    return sorted(shared + [e for e in own if _identity(e) not in seen], key=lambda e: e.when)


def distinct_models(scorings: list[LedgerEntry]) -> int:
    """How many distinct models (a model: one sweep's trial, seed, epoch, threshold rule and weights) scored."""
    return len({_identity(e) for e in scorings})


def _read(path: Path) -> list[LedgerEntry]:
    try:
        return _Ledger.model_validate_json(path.read_text()).entries
    except FileNotFoundError:
        return []
    except (OSError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HpsearchError(f"{path}: unreadable test ledger ({first}); restore it from a backup") from None


def read_ledger(results_dir: str | Path) -> list[LedgerEntry]:
    """Every scoring recorded in the results folder `results_dir` (none when it has no ledger)."""
    return _read(Path(results_dir) / TEST_LEDGER_FILE)


def results_of(sweep_dir: str | Path) -> Path:
    """The results folder of the sweep in `sweep_dir`, whose test ledger it shares with every sweep there."""
    return Path(sweep_dir).resolve().parent


def sweep_scorings(sweep_dir: str | Path) -> list[LedgerEntry]:
    """Every scoring of the test split of the sweep in `sweep_dir` (none when it has no record)."""
    record = read_record(Path(sweep_dir))
    return [] if record is None else split_scorings(record, read_ledger(results_of(sweep_dir)))


def update_ledger(results_dir: str | Path, decide: Callable[[list[LedgerEntry]], tuple[T, LedgerEntry | None]]) -> T:
    """Read, decide and append under the ledger's lock; returns what `decide` decided."""
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TEST_LEDGER_FILE
    with open(folder / TEST_LEDGER_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        entries = _read(path)
        result, entry = decide(entries)
        if entry is not None:
            text = json.dumps(dump(_Ledger(entries=[*entries, entry])), indent=2)
            atomic_write_text(path, text + "\n")
    return result
