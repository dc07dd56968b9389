"""The model card's warnings: too few test rows, too few events of a class, a subgroup with too few events;
recorded in the card, shown in the Markdown card and the report."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from conftest import load
from test_records import CARD

from search.export.card_warnings import MIN_CLASS_EVENTS, MIN_SUBGROUP_EVENTS, MIN_TEST_ROWS, scoring_warnings
from search.records.model_card import ModelCard, dump
from search.review.card_text import card_markdown
from search.review.model_section import _warnings


def test_the_thresholds_are_strict_and_a_subgroup_without_a_class_is_flagged():
    y = np.repeat([0, 1], [MIN_TEST_ROWS - MIN_CLASS_EVENTS, MIN_CLASS_EVENTS])  # exactly at the thresholds
    assert scoring_warnings(y, ["no", "yes"], {}) == []
    # site a: 10 rows of each class (at the threshold); site b: the other 80 rows, all of class no
    site = np.where((np.arange(len(y)) < MIN_SUBGROUP_EVENTS) | (y == 1), "a", "b").astype(object)
    assert scoring_warnings(y, ["no", "yes"], {"site": site}) == [
        "Subgroup site = b has 0 test rows of class yes (fewer than 10 events): its AUROC is unreliable or undefined."
    ]


def test_the_built_in_tables_test_split_is_small():
    d = load("builtin:breast_cancer")  # 86 test rows, both classes well above 10
    assert scoring_warnings(d.y_test, d.class_names, d.subgroups) == [
        f"The test split has {len(d.y_test)} rows (fewer than 100): every test number rests on them, "
        "and the intervals are wide."
    ]


def _four_classes(tmp_path, rows: int = 140):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "sex": rng.choice(["F", "M"], rows),
            "grade": np.repeat(
                ["a", "b", "c", "d"], [rows // 2, rows // 4, rows // 8, rows - rows // 2 - rows // 4 - rows // 8]
            ),
        }
    )
    path = tmp_path / "grades.csv"
    frame.to_csv(path, index=False)
    return load(str(path), target="grade", subgroups=["sex"])


def test_a_four_class_table_warns_of_each_class_and_subgroup_its_small_test_split_rests_on(tmp_path):
    d = _four_classes(tmp_path)
    counts = np.bincount(d.y_test, minlength=4)
    assert len(d.y_test) == 21 and counts.max() >= 10 > counts.min()  # the 21 test rows of 4 classes
    warnings = scoring_warnings(d.y_test, d.class_names, d.subgroups)
    assert warnings[0] == (
        "The test split has 21 rows (fewer than 100): every test number rests on them, and the intervals are wide."
    )
    few = [(name, n) for name, n in zip(d.class_names, counts) if n < 10]
    assert warnings[1 : 1 + len(few)] == [
        f"The test split has {n} rows of class {name} (fewer than 10 events): every test number about that "
        "class rests on them."
        for name, n in few
    ]
    by_sex = warnings[1 + len(few) :]
    assert [w.split(" has ")[0] for w in by_sex] == ["Subgroup sex = F", "Subgroup sex = M"]
    female = d.y_test[d.subgroups["sex"] == "F"]
    for name, n in zip(d.class_names, np.bincount(female, minlength=4)):
        assert (f"{n} test rows of class {name}" in by_sex[0] or f"{n} of class {name}" in by_sex[0]) == (n < 10)


def test_the_card_records_its_warnings_and_both_renderings_show_them():
    warnings = ["The test split has 40 rows (fewer than 100): every test number rests on them, <and> more."]
    record = {**copy.deepcopy(CARD), "warnings": warnings}
    card = ModelCard.model_validate(record)
    assert dump(card) == record and ModelCard.model_validate(CARD).warnings == []  # an older card: none
    text = card_markdown(card)
    assert "## Warnings\n\n- The test split has 40 rows (fewer than 100)" in text
    assert "## Warnings" not in card_markdown(ModelCard.model_validate(CARD))
    assert _warnings(card) == (
        "<ul class=warn><li>The test split has 40 rows (fewer than 100): every test number rests on them, "
        "&lt;and&gt; more.</li></ul>"
    )
