"""What a model card says of its test scoring, in words: scored once, scored among others, or not scored.

Contract: the same sentences in `model_card.md` (`search.review.card_text`),
the report (`search.review.model_section`) and the terminal
(`search.cli.console`):
- `scored_sentence(test)`: the card's one sentence on its test numbers;
- `not_scored(test)`: a model exported without test metrics, because another
  sweep of the results folder scored the same test split first (the card's
  `test.scored_by`): which sweep, which trial, which command, when;
- `score_anyway(test)`: how to score it anyway, in one line (`test.score_with`,
  a command with `--reuse-test`);
- `reused(n)`: the warning of a test split that has scored `n` > 1 models:
  its estimate is no longer unbiased.
Imports nothing heavy.
"""

from __future__ import annotations

from search.records.model_card import CardTest

__all__ = ["not_scored", "reused", "score_anyway", "scored_sentence"]


def not_scored(test: CardTest) -> str:
    """Why a model has no test metrics: the sweep that scored its test split first."""
    by = test.scored_by
    who = (
        f"sweep {by.sweep} (trial {by.trial_id}, by `hpsearch {by.command}` at {by.when})"
        if by is not None
        else "another sweep"
    )
    return (
        f"Not scored on the test split: its {test.n} test rows, of the same data, were scored by {who}, "
        "and a test split is scored once across the sweeps of a results folder."
    )


def score_anyway(test: CardTest) -> str:
    """How to score an unscored model anyway, in one line."""
    how = f"`{test.score_with}`" if test.score_with else "`--reuse-test`"
    return f"To score it anyway (recorded; its test estimate is then no longer unbiased): {how}"


def reused(n: int) -> str:
    """The warning of a test split that has scored `n` > 1 models."""
    return (
        f"The test split has scored {n} different models, across the sweeps of this results folder "
        "(--reuse-test): choosing among them on it makes its numbers optimistic; the test estimate is no "
        "longer unbiased."
    )


def scored_sentence(test: CardTest) -> str:
    """The model card's sentence on its test numbers (Markdown)."""
    if test.unscored:
        return f"**{not_scored(test)}** {score_anyway(test)}."
    n = test.scorings or 1
    if n > 1:
        return f"**{reused(n)}**"
    return (
        "It was scored once, for this model. The validation numbers are optimistic, because they were used to "
        "choose this model among the trials; the test numbers are not."
    )
