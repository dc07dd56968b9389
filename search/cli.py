"""The `hpsearch` command line (typer), and its one error boundary.

Contract: every command turns an `HpsearchError` (a user mistake: config,
data, flags) into ONE line on stderr, `hpsearch: error: ...`, and exit code 2,
with no traceback. Heavy modules (Ray, TensorFlow, Keras, the driver) are
imported inside the commands, so `hpsearch --help` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainable.errors import HpsearchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="hpsearch",
    help="Distributed hyperparameter search for Keras models on tabular (clinical) data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_LEADERBOARD_VIEW = ["rank", "trial_id", "status", "val_auroc", "val_accuracy", "val_loss", "epochs", "units",
                     "activation", "learning_rate", "batch_size", "optimizer"]


def _fail(message: str) -> None:
    typer.echo(f"hpsearch: error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Argument(help="YAML config (default: configs/breast_cancer.yaml).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Sweep name: outputs go to RESULTS_DIR/NAME.")] = None,
    trials: Annotated[Optional[int], typer.Option(help="Number of trials.")] = None,
    max_epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs per trial.")] = None,
    results_dir: Annotated[Optional[str], typer.Option(help="Where sweeps are written (default: results).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the sampler and of weight initialisation.")] = None,
    address: Annotated[Optional[str], typer.Option(help="Join this Ray cluster (default: RAY_ADDRESS, else local).")] = None,
    data: Annotated[Optional[str], typer.Option(help="Data file (.npy/.npz/.csv/.parquet) or builtin:NAME.")] = None,
    target: Annotated[Optional[str], typer.Option(help="Label column of a table file.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Delete an existing sweep of the same name first.")] = False,
) -> None:
    """Run a sweep: sample, train and rank models, then export the best one."""
    overrides = {
        "name": name,
        "search.trials": trials,
        "train.max_epochs": max_epochs,
        "results_dir": results_dir,
        "search.seed": seed,
        "data.source": data,
        "data.target": target,
    }
    if data and not name and config is None:
        overrides["name"] = Path(data).stem if not data.startswith("builtin:") else data.removeprefix("builtin:")
    try:
        from search.config import load_config

        cfg = load_config(config, overrides)
        _run(cfg, address, overwrite)
    except HpsearchError as exc:
        _fail(str(exc))


def _run(cfg, address: Optional[str], overwrite: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from search.driver import run_sweep
    from search.leaderboard import render

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
        console=console,
        transient=False,
    )
    task = progress.add_task(cfg.name, total=cfg.search.trials, best="")

    def on_start(data, archived) -> None:
        if archived is not None:
            console.print(f"previous sweep moved to {archived}")
        console.print(
            f"sweep [bold]{cfg.name}[/]: {cfg.search.trials} trials on {data.source} "
            f"({len(data.y_train)} train / {len(data.y_val)} val / {len(data.y_test)} test rows, "
            f"{data.n_features} features, {data.n_classes} classes) -> {cfg.out_dir}"
        )
        progress.start()

    def on_update(done: int, total: int, best: float | None) -> None:
        text = f"best {cfg.search.metric} {best:.4f}" if best is not None else ""
        progress.update(task, completed=done, best=text)

    try:
        outcome = run_sweep(cfg, address=address, overwrite=overwrite, on_start=on_start, on_update=on_update)
    finally:
        progress.stop()
    board = outcome.leaderboard
    console.print(render(board.head(5), "table", columns=_LEADERBOARD_VIEW, title="top 5 trials"), end="")
    if outcome.card is not None:
        test = outcome.card["test"]
        console.print(
            f"best model: {outcome.best_dir / 'model.keras'}  "
            f"(trial {outcome.card['trial_id']}; test auroc {test['auroc']:.4f}, "
            f"accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f})"
        )
    else:
        console.print("[red]no trial finished successfully: nothing exported[/]")
    console.print(f"leaderboard: {outcome.out_dir / 'leaderboard.csv'}  ({outcome.wall_seconds:.0f} s)")
    if outcome.card is None:
        raise typer.Exit(1)


@app.command()
def leaderboard(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's folder, e.g. results/breast_cancer.")],
    top: Annotated[Optional[int], typer.Option(help="Show only the first N rows.")] = None,
    sort: Annotated[Optional[str], typer.Option(help="Sort by this column (default: the sweep's ranking).")] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv, json or markdown.")] = "table",
) -> None:
    """Show a sweep's leaderboard (while it runs: the trials finished so far)."""
    try:
        from search.leaderboard import read_leaderboard, render

        if format not in ("table", "csv", "json", "markdown"):
            raise HpsearchError(f"--format must be one of table, csv, json, markdown; got {format!r}")
        frame = read_leaderboard(results_dir)
        if sort:
            if sort not in frame.columns:
                raise HpsearchError(f"--sort: no column {sort!r}; columns are: {', '.join(frame.columns)}")
            ascending = sort in ("val_loss", "rank", "train_seconds", "n_params")
            frame = frame.sort_values(sort, ascending=ascending, na_position="last", kind="stable")
        if top is not None:
            if top < 1:
                raise HpsearchError(f"--top must be >= 1, got {top}")
            frame = frame.head(top)
        columns = [c for c in _LEADERBOARD_VIEW if c in frame.columns] if format in ("table", "markdown") else None
        typer.echo(render(frame, format, columns=columns), nl=False if format == "table" else True)
    except HpsearchError as exc:
        _fail(str(exc))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("hpsearch: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
