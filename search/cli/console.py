"""What the command line prints of a sweep: its progress, its top trials, the exported model's review, the pick.

Contract: presentation only, on a rich `Console` the caller owns; the top
trials are a table fitted to the terminal (`search.cli.terminal_table.render`) or,
when stdout is not a terminal, one narrow line a trial. `summarise` ends
`run`/`resume` with exit code 130 (interrupted) or 1 (nothing exported).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer

from search.cli.terminal_table import priority, render
from search.records.paths import LEADERBOARD_FILE, MODEL_FILE, PICK_FILE, REPORT_FILE

if TYPE_CHECKING:
    from rich.console import Console

    from search.api import Progress
    from search.config.schema import Config
    from search.records.model_card import ModelCard
    from search.sweep.driver import SweepOutcome
    from search.sweep.pick import PickOutcome
    from trainable.data.dataset import Dataset

__all__ = ["SweepProgress", "print_pick", "print_review", "print_top", "summarise"]


class SweepProgress:
    """The progress bar of a running sweep (on stderr), fed by the driver's hooks."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console, self.metric = console, ""
        self.task: Any = None
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("trials"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
            console=console,
            transient=False,
        )

    def start(self, cfg: Config, done: int = 0) -> None:
        self.task = self.bar.add_task(cfg.name, total=cfg.search.trials, completed=done, best="")
        self.metric = cfg.search.metric
        self.bar.start()

    def on_run(self, cfg: Config) -> Callable[[Dataset, list[str]], None]:
        def on_start(data: Dataset, notes: list[str]) -> None:
            for line in notes:
                self.console.print(line)
            rows = (
                f"{data.n_dev} development rows in {data.n_folds} folds"
                if data.n_folds
                else f"{len(data.y_train)} train / {len(data.y_val)} val"
            )
            self.console.print(
                f"sweep [bold]{cfg.name}[/]: {cfg.search.trials} trials on {data.source} ({rows} / "
                f"{len(data.y_test)} test rows, {data.n_features} features, {data.n_classes} classes) -> {cfg.out_dir}"
            )
            self.start(cfg)

        return on_start

    def on_resume(self, resume_dir: Path) -> Callable[[Config, Dataset, list[str]], None]:
        def on_start(cfg: Config, data: Dataset, notes: list[str]) -> None:
            for line in notes:
                self.console.print(line)
            board = resume_dir / LEADERBOARD_FILE
            done = max(0, len(board.read_text().splitlines()) - 1) if board.is_file() else 0
            self.console.print(
                f"resuming sweep [bold]{cfg.name}[/]: {done} of {cfg.search.trials} trials had finished -> {resume_dir}"
            )
            self.start(cfg, done)

        return on_start

    def on_progress(self, progress: Progress) -> None:
        best = progress.best
        self.bar.update(
            self.task, completed=progress.done, best=f"best {self.metric} {best:.4f}" if best is not None else ""
        )


def print_top(console: Console, board: pd.DataFrame, metric: str | None, title: str) -> None:
    """The top trials: a table fitted to the terminal, or, when stdout is not one (a log, a pipe),
    one narrow line a trial."""
    top = board.head(5)
    if sys.stdout.isatty():
        console.print(render(top, "table", metric=metric, title=title, width=console.width), end="", soft_wrap=True)
        return
    console.print(title + ":", soft_wrap=True)
    pareto = "pareto_rank" in top.columns and top["pareto_rank"].notna().any()
    for _, row in top.iterrows():
        shown = [c for c in priority(metric, pareto)[2:6] if c in row.index and str(row[c]) not in ("", "nan")]
        console.print(
            f"  #{row['rank']} {row['trial_id']} {row['status']} "
            + " ".join(f"{c} {row[c]:.4g}" if isinstance(row[c], float) else f"{c} {row[c]}" for c in shown),
            soft_wrap=True,
        )


def summarise(console: Console, outcome: SweepOutcome) -> None:
    """The end of `run`/`resume`: the top trials, the exported model, where the files are; the exit code."""
    board, leaderboard_file = outcome.leaderboard, outcome.out_dir / LEADERBOARD_FILE
    metric = outcome.card.metric if outcome.card else None
    if outcome.interrupted:
        if len(board):
            print_top(console, board, metric, "top 5 finished trials")
        typer.echo(f"leaderboard: {leaderboard_file}  ({len(board)} trials finished)", err=True)
        typer.echo(f"interrupted: resume with: hpsearch resume {outcome.out_dir}", err=True)  # one line, unwrapped
        raise typer.Exit(130)
    print_top(console, board, metric, "top 5 trials")
    if outcome.card is not None and outcome.best_dir is not None:
        test = outcome.card.test
        scored = (
            "test split not scored"
            if test.unscored
            else f"test auroc {test.auroc:.4f}, accuracy {test.accuracy:.4f}, loss {test.loss:.4f}"
        )
        console.print(f"best model: {outcome.best_dir / MODEL_FILE}  (trial {outcome.card.trial_id}; {scored})")
    else:
        console.print("[red]no trial finished successfully: nothing exported[/]")
    if outcome.pick is not None:
        print_pick(console, outcome.pick, outcome.out_dir)
    console.print(f"leaderboard: {leaderboard_file}  ({outcome.wall_seconds:.0f} s)")
    print_review(console, outcome.card, outcome.out_dir)
    if outcome.card is None:
        raise typer.Exit(1)


def _test_lines(console: Console, card: ModelCard) -> None:
    """The exported model's one test scoring, in two lines, and the card's warnings; or why it was not scored
    and how to score it."""
    from rich.markup import escape

    from search.review.baseline_text import verdict
    from search.review.test_scoring_text import not_scored, reused, score_anyway

    test = card.test
    if test.unscored:
        console.print(f"[yellow]{not_scored(test)}[/]", soft_wrap=True)
        console.print(score_anyway(test).replace("`", ""), soft_wrap=True)  # one line, unwrapped: copy it
        return
    if test.auroc_ci95:
        lo, hi = test.auroc_ci95
        line = f"test AUROC {test.auroc:.3f} (95% CI {lo:.3f}-{hi:.3f})"
        if test.sensitivity is not None and test.specificity is not None and test.threshold is not None:
            line += (
                f", sensitivity {test.sensitivity:.3f}, specificity {test.specificity:.3f} "
                f"at threshold {test.threshold:.3f} (chosen on validation)"
            )
        console.print(line)
    versus = test.vs_baseline
    if versus:
        lo, hi = versus.delta_auroc_ci95
        console.print(
            f"vs {versus.baseline}: test AUROC {versus.delta_auroc:+.3f} (95% CI {lo:+.3f} to "
            f"{hi:+.3f}). {verdict(versus)}"
        )
    if (test.scorings or 1) > 1:
        console.print(f"[yellow]{reused(test.scorings or 1)}[/]")
    for warning in card.warnings:
        console.print(f"[yellow]warning: {escape(warning)}[/]")


def print_review(console: Console, card: ModelCard | None, out_dir: Path) -> None:
    """The exported model's clinical lines and the report's path (after `run` and `pick`)."""
    if card is not None:
        _test_lines(console, card)
    if (out_dir / REPORT_FILE).is_file():
        console.print(f"report: {out_dir / REPORT_FILE}")


def print_pick(console: Console, outcome: PickOutcome, results_dir: Path) -> None:
    from search.sweep.pick import view

    table = outcome.table
    columns = [c for c in view(outcome.card.metric) if c in table.columns]
    console.print(
        render(table, "table", columns=columns, title="robust pick", width=console.width), end="", soft_wrap=True
    )
    console.print(
        f"winner: trial {outcome.card.trial_id} (seed {outcome.card.training_seed}) "
        f"-> {outcome.best_dir / MODEL_FILE}  ({outcome.wall_seconds:.0f} s)"
    )
    console.print(f"pick table: {results_dir / PICK_FILE}")
