"""The model card's warnings: what the one test scoring rests on when that is too little to lean on.

Contract: `scoring_warnings(y, class_names, subgroups)` returns the card's
`warnings` (`search.records.model_card.ModelCard.warnings`), plain sentences
with their numbers, in this order:
- the test split has fewer than `MIN_TEST_ROWS` rows;
- a class has fewer than `MIN_CLASS_EVENTS` test rows (its events: every
  class counts, so a binary outcome's non-events too), one sentence per class;
- a subgroup (`export.subgroups`: one group of a column, as
  `search.export.test_scoring` reports it) has fewer than
  `MIN_SUBGROUP_EVENTS` test rows of a class, one sentence per group naming
  the classes and their counts.
`y` holds the test rows' class indices (0..K-1, `class_names` order);
`subgroups` maps a column to its group label per test row. No warning: an
empty list. These are the only thresholds of the warnings.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["MIN_CLASS_EVENTS", "MIN_SUBGROUP_EVENTS", "MIN_TEST_ROWS", "scoring_warnings"]

MIN_TEST_ROWS = 100  # fewer test rows than this: every test number rests on few rows
MIN_CLASS_EVENTS = 10  # fewer test rows of a class than this: what is said of that class rests on them
MIN_SUBGROUP_EVENTS = 10  # the same within one subgroup


def _counts(y: np.ndarray, class_names: list[str]) -> dict[str, int]:
    found = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
    return {name: int(n) for name, n in zip(class_names, found)}


def _rows_of(few: dict[str, int]) -> str:
    """`{died: 7, x: 2}` -> "7 test rows of class died and 2 of class x"."""
    parts = [f"{n} of class {name}" for name, n in few.items()]
    parts[0] = parts[0].replace(" of class", " test rows of class", 1)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def scoring_warnings(y: np.ndarray, class_names: list[str], subgroups: Mapping[str, np.ndarray]) -> list[str]:
    """The card's warnings for a test split of labels `y` (see the module docstring)."""
    warnings = []
    if len(y) < MIN_TEST_ROWS:
        warnings.append(
            f"The test split has {len(y)} rows (fewer than {MIN_TEST_ROWS}): every test number rests on them, "
            "and the intervals are wide."
        )
    for name, n in _counts(y, class_names).items():
        if n < MIN_CLASS_EVENTS:
            warnings.append(
                f"The test split has {n} rows of class {name} (fewer than {MIN_CLASS_EVENTS} events): "
                "every test number about that class rests on them."
            )
    for column, labels in subgroups.items():
        for group in sorted(set(labels), key=str):
            counts = _counts(np.asarray(y)[labels == group], class_names)
            few = {name: n for name, n in counts.items() if n < MIN_SUBGROUP_EVENTS}
            if few:
                each = " each" if len(few) > 1 else ""
                warnings.append(
                    f"Subgroup {column} = {group} has {_rows_of(few)} (fewer than {MIN_SUBGROUP_EVENTS} events"
                    f"{each}): its AUROC is unreliable or undefined."
                )
    return warnings
