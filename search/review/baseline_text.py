"""The baselines in words: the verdict against them, how they were tuned, what they were fitted on.

Contract: `verdict(versus)` is the card's `test.vs_baseline.verdict` (`better`,
`not_shown_better`, `worse`) in words, with its key: the one source of those
words (the Markdown card, the report, the terminal). `tuned_note(baselines)`
says the setting each baseline was tuned to and the grid searched (None for a
card from before baselines were tuned); `sampled_note(baselines)` says when
they were fitted on a sample of the training rows (`export.baseline_max_rows`).
Imports nothing heavy.
"""

from __future__ import annotations

from search.records.model_card import CardBaseline, Verdict, VsBaseline

__all__ = ["sampled_note", "tuned_note", "verdict"]

_DIFFERENCE = "the interval of the difference"
_VERDICTS: dict[Verdict, str] = {
    "better": f"The network is better than the baseline on this test split: {_DIFFERENCE} lies above 0.",
    "not_shown_better": f"The network is not shown to be better than the baseline: {_DIFFERENCE} contains 0.",
    "worse": f"The network is worse than the baseline on this test split: {_DIFFERENCE} lies below 0.",
}


def verdict(versus: VsBaseline) -> str:
    """The card's `vs_baseline.verdict` in words (`better`, `not_shown_better`, `worse`), with its key."""
    return f"{_VERDICTS[versus.outcome]} (verdict: {versus.outcome})"


def sampled_note(baselines: dict[str, CardBaseline]) -> str | None:
    """What the baselines were fitted on, in words, when it was a sample of the training rows; else None."""
    sampled = {
        (b.fit_rows, b.train_rows)
        for b in baselines.values()
        if b.fit_rows is not None and b.train_rows is not None and b.fit_rows < b.train_rows
    }
    if not sampled:
        return None
    fit, there = max(sampled)
    return (
        f"The baselines were fitted on a random {fit:,} of the {there:,} training rows "
        f"(export.baseline_max_rows); the network on all of them."
    )


def _tuned(name: str, b: CardBaseline) -> str:
    chosen = ", ".join(f"{knob} = {value:g}" for knob, value in b.chosen.items())
    grid = "; ".join(f"{knob} " + ", ".join(f"{v:g}" for v in values) for knob, values in b.grid.items())
    return f"{name.replace('_', ' ')} {chosen} (of {grid})"


def tuned_note(baselines: dict[str, CardBaseline]) -> str | None:
    """The settings the baselines were tuned to, in words; None for a card from before they were tuned."""
    tuned = "; ".join(_tuned(name, b) for name, b in baselines.items() if b.chosen)
    return f"Tuned like the network, by the lowest validation loss on the same rows: {tuned}." if tuned else None
