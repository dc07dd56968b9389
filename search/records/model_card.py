"""The model card as a typed record: what an exported model is, how it was chosen and how it scored.

Contract: `ModelCard` is `model_card.json`, written by `write(folder)` and read
back by `read_card(folder)` (a missing or unreadable card is refused in one
line naming the file). Its keys are the file's: `trial_id`, `metric`,
`training_seed`, `created`, `hyperparameters` (one entry per name of
`search.config.space.HYPERPARAMETERS`, `units` as a list of widths),
`validation` (the trial's best-epoch `val_*` and `epoch`, with the clinical
metrics at the threshold on the validation rows), `threshold` (the operating
threshold, chosen on validation), `test` (the one test-split scoring; or,
when another sweep of the results folder had scored the same test split, no
metrics: `scored: false`, `scored_by` that sweep's scoring and `score_with`
the command that scores it anyway), `data`
(source, sha256, split sizes, schema, classes), `inputs`, `outputs`,
`versions`, `baselines`, `class_weight`, and, when they apply, `objectives`,
`pareto_rank`, `constraints` and `pick`; `warnings` (plain sentences, with
their numbers, on what the test numbers rest on: too few rows or events).
`test.vs_baseline.verdict` is `verdict_of(delta_auroc_ci95)`: `better`
(the interval of the difference lies above 0), `worse` (below 0) or
`not_shown_better` (it holds 0). Every block keeps the keys it was
given and only those (`exclude_unset`): a key the scoring does not produce for
a task (a multiclass table has no `sensitivity`) is absent, not null. The
fields typed here are those the code reads; a block may hold more (the metrics
`trainable.stats.metrics` computes), kept as they are. Imports pydantic only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from search.records.paths import CARD_FILE
from trainable.data.schema import ColumnSchema
from trainable.errors import HpsearchError

__all__ = [
    "CardBaseline",
    "CardData",
    "CardTest",
    "CardThreshold",
    "CardValidation",
    "DecisionCurve",
    "ModelCard",
    "PerClass",
    "PickBlock",
    "ScoredBy",
    "Subgroup",
    "Verdict",
    "VsBaseline",
    "dump",
    "read_card",
    "verdict_of",
]

Interval = list[float]  # [lo, hi] at 95%
Verdict = Literal["better", "not_shown_better", "worse"]


class _Block(BaseModel):
    model_config = ConfigDict(extra="allow")


class CardValidation(_Block):
    val_loss: float
    val_auroc: float
    val_accuracy: float
    epoch: int
    folds: int  # k of k-fold cross-validation; 0: one validation split
    n: int  # the rows validated (pooled out of fold with folds)
    auroc_ci95: Interval | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    ppv: float | None = None
    npv: float | None = None


class CardThreshold(_Block):
    value: float | None  # None: the most probable class (multiclass)
    method: str
    rule: str  # how to read a prediction, with `value` standing for the threshold
    target_sensitivity: float | None = None
    chosen_on: str | None = None
    out_of_fold: bool | None = None
    positive_class: str | None = None


class VsBaseline(_Block):
    baseline: str
    delta_auroc: float
    delta_auroc_ci95: Interval
    verdict: Verdict | None = None  # absent from cards written before it

    @property
    def outcome(self) -> Verdict:
        """The verdict: the card's, or (an older card) `verdict_of` its interval."""
        return self.verdict or verdict_of(self.delta_auroc_ci95)


def verdict_of(interval: Interval) -> Verdict:
    """The model against the baseline, from the paired interval of model minus baseline: `better` when it lies
    entirely above 0, `worse` entirely below, else `not_shown_better` (an undefined bound shows nothing)."""
    lo, hi = interval
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return "not_shown_better"


class DecisionCurve(_Block):
    thresholds: list[float]
    model: list[float]
    baselines: dict[str, list[float]]
    treat_all: list[float]
    treat_none: list[float]


class Subgroup(_Block):
    column: str
    group: str
    n: int
    events: int | None
    observed_rate: float | None
    mean_predicted: float | None
    auroc: float | None
    auroc_ci95: Interval | None


class _AtThreshold(_Block):
    """What a threshold's calls give: sensitivity and specificity (Wilson intervals), PPV, NPV, calibration."""

    sensitivity: float | None = None
    sensitivity_ci95: Interval | None = None
    specificity: float | None = None
    specificity_ci95: Interval | None = None
    ppv: float | None = None
    npv: float | None = None
    confusion: dict[str, int] | None = None
    calibration_slope: float | None = None
    calibration_slope_ci95: Interval | None = None
    calibration_intercept: float | None = None
    calibration_intercept_ci95: Interval | None = None


class PerClass(_AtThreshold):
    """Multiclass: one class against the rest, at the most probable class (its name under `class`)."""


class ScoredBy(_Block):
    """The scoring that made a test split taken: which sweep (its folder's name when it scored, and the
    folder it ran in), when, with which command, which trial."""

    sweep: str
    out_dir: str
    when: str
    command: str
    trial_id: str


class CardTest(_AtThreshold):
    n: int
    auroc: float | None = None  # None: not scored (`scored` false)
    auroc_ci95: Interval | None = None
    accuracy: float | None = None
    loss: float | None = None
    n_positive: int | None = None
    auprc: float | None = None
    auprc_ci95: Interval | None = None
    brier: float | None = None
    brier_ci95: Interval | None = None
    threshold: float | None = None
    per_class: list[PerClass] | None = None
    vs_baseline: VsBaseline | None = None
    decision_curve: DecisionCurve | None = None
    subgroups: list[Subgroup] | None = None
    calibration_note: str | None = None
    scorings: int | None = None  # distinct models the test split has scored across sweeps (this one, if scored)
    scored: bool | None = None  # false: not scored, because another sweep scored this test split first
    scored_by: ScoredBy | None = None  # who did (with `scored` false)
    score_with: str | None = None  # the command that scores it anyway (--reuse-test; with `scored` false)
    unbiased: bool | None = None  # false: the split has scored other models (--reuse-test)

    @property
    def binary(self) -> bool:
        """A binary outcome: scored at a threshold (a multiclass one has `per_class` instead)."""
        return self.per_class is None

    @property
    def unscored(self) -> bool:
        """No test metrics: another sweep had scored this test split (`scored_by`)."""
        return self.scored is False


class CardData(_Block):
    source: str
    sha256: str
    test_rows_sha256: str | None = None
    n_train: int
    n_val: int
    n_test: int
    n_dev: int
    folds: int
    group: str | None
    groups: dict[str, int] | None
    n_features: int
    feature_names: list[str]
    class_names: list[str]
    layout: str  # the input form: matrix or columns
    columns: list[ColumnSchema] = Field(alias="schema")  # the file's `schema` (a name pydantic reserves)

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CardBaseline(_Block):
    validation: dict[str, Any]  # `trainable.stats.metrics.summary_metrics`
    test: dict[str, Any]
    fit_rows: int | None = None
    train_rows: int | None = None
    chosen: dict[str, int | float] = {}  # the setting tuned on validation, e.g. {"C": 0.1} ({}: an untuned card)
    grid: dict[str, list[int | float]] = {}  # the values searched, per knob


class PickBlock(_Block):
    top_k: int
    repeats: int
    seeds: list[int]
    mean: float
    std: float | None
    values: list[float]
    sweep_rank: int


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trial_id: str
    metric: str
    training_seed: int | None
    created: str
    hyperparameters: dict[str, Any]
    validation: CardValidation
    threshold: CardThreshold
    test: CardTest
    data: CardData
    inputs: dict[str, Any]
    outputs: str
    versions: dict[str, str]
    baselines: dict[str, CardBaseline] = {}
    class_weight: str | None = None
    objectives: list[dict[str, Any]] | None = None
    pareto_rank: int | None = None
    constraints: dict[str, Any] | None = None
    pick: PickBlock | None = None
    warnings: list[str] = []  # plain sentences: what the test numbers rest on (search.export.card_warnings)

    @property
    def positive_class(self) -> str | None:
        """The class a binary model's probability is of."""
        return self.data.class_names[1] if len(self.data.class_names) == 2 else None

    def write(self, folder: Path) -> None:
        (Path(folder) / CARD_FILE).write_text(json.dumps(dump(self), indent=2) + "\n")


def dump(record: BaseModel) -> dict[str, Any]:
    """A record as the JSON-ready dict of its file: the keys it was given, and no others."""
    return record.model_dump(exclude_unset=True, by_alias=True)


def read_card(folder: str | Path) -> ModelCard:
    """The model card in `folder` (an exported model's), or HpsearchError naming the file."""
    path = Path(folder) / CARD_FILE
    try:
        return ModelCard.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise HpsearchError(f"{path}: missing; the folder must be an exported model (e.g. results/NAME/best)") from None
    except (OSError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HpsearchError(f"{path}: not a readable model card ({first})") from None
