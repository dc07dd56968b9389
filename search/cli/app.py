"""The `hpsearch` command line (typer), and its one error boundary.

Contract: every command turns an `HpsearchError` (a user mistake: config,
data, flags) into ONE line on stderr, `hpsearch: error: ...`, and exit code 2,
with no traceback. The commands only parse, call one module each
(the Python API, `search.api`, for `run`, `resume`, `leaderboard` and
`predict`; `search.review.report`, `search.sweep.pick`, `search.export.export`) and
present (`search.cli.console`, `search.cli.terminal_table`); those are
imported inside the commands, so `hpsearch --help` imports neither Ray nor
TensorFlow and answers at once.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainable.errors import HpsearchError

if TYPE_CHECKING:
    from search.config.schema import Config

__all__ = ["app", "main"]

app = typer.Typer(
    name="hpsearch",
    help="Distributed hyperparameter search for Keras models on tabular (clinical) data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> None:
    typer.echo(f"hpsearch: error: {message}", err=True)
    raise typer.Exit(2)


def _command(fn: Callable[..., None]) -> Callable[..., None]:
    """Register `fn` as a command behind the error boundary: a user mistake
    (`HpsearchError`) becomes one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except HpsearchError as exc:
            _fail(str(exc))

    return app.command()(guarded)


@_command
def run(
    config: Annotated[Path | None, typer.Argument(help="YAML config (default: configs/breast_cancer.yaml).")] = None,
    name: Annotated[str | None, typer.Option(help="Sweep name: outputs go to RESULTS_DIR/NAME.")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials.")] = None,
    max_epochs: Annotated[int | None, typer.Option(help="Maximum epochs per trial.")] = None,
    results_dir: Annotated[str | None, typer.Option(help="Where sweeps are written (default: results).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the sampler and of weight initialisation.")] = None,
    address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster (default: RAY_ADDRESS, else local).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Ray Tune's experiment storage: a path every node shares (NFS) or a URI (s3://...)."),
    ] = None,
    data: Annotated[str | None, typer.Option(help="Data file (.npy/.npz/.csv/.parquet) or builtin:NAME.")] = None,
    target: Annotated[str | None, typer.Option(help="Label column of a table file.")] = None,
    folds: Annotated[
        str | None, typer.Option(help="Cross-validation folds: auto, 0 (one validation split) or k >= 2.")
    ] = None,
    pack: Annotated[
        str | None, typer.Option(help="Configurations trained together per trial: auto, or N >= 1 (1: one each).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Delete an existing sweep of the same name first.")] = False,
    pick: Annotated[
        bool, typer.Option("--pick", help="Run the robust pick before the one test scoring (config pick.enabled).")
    ] = False,
    mlflow: Annotated[
        str | None,
        typer.Option("--mlflow", help="Track the sweep in MLflow at this URI (config mlflow.tracking_uri)."),
    ] = None,
    reuse_test: Annotated[
        bool,
        typer.Option("--reuse-test", help="Score the best model even if another sweep here scored this test split."),
    ] = False,
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
        "search.cv.folds": int(folds) if folds and folds.lstrip("-").isdigit() else folds,
        "search.pack": int(pack) if pack and pack.lstrip("-").isdigit() else pack,
        "pick.enabled": True if pick else None,
        "mlflow.tracking_uri": mlflow,
    }
    if data and not name and config is None:
        overrides["name"] = Path(data).stem if not data.startswith("builtin:") else data.removeprefix("builtin:")
    from search.config.load import load_config

    cfg = load_config(config, overrides)
    _run(cfg, address, overwrite, storage=storage, reuse_test=reuse_test)


@_command
def resume(
    results_dir: Annotated[Path, typer.Argument(help="The interrupted sweep's folder, e.g. results/breast_cancer.")],
    address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster (default: RAY_ADDRESS, else local).")
    ] = None,
) -> None:
    """Continue an interrupted or killed sweep: finished trials are kept, the others run."""
    from search.records.paths import LEADERBOARD_FILE
    from search.sweep.folder import finished

    if results_dir.is_dir() and finished(results_dir):
        typer.echo(
            f"{results_dir}: the sweep already finished; nothing to resume "
            f"(leaderboard: {results_dir / LEADERBOARD_FILE})",
            err=True,
        )
        return
    _run(None, address, False, resume_dir=results_dir)


def _run(
    cfg: Config | None,
    address: str | None,
    overwrite: bool,
    *,
    storage: str | None = None,
    resume_dir: Path | None = None,
    reuse_test: bool = False,
) -> None:
    """Run (or, with `resume_dir`, resume) a sweep with a progress bar, then summarise it."""
    from rich.console import Console

    from search import api
    from search.cli.console import SweepProgress, summarise

    console = Console(stderr=True)
    progress = SweepProgress(console)
    try:
        if resume_dir is not None:
            sweep = api.resume(
                resume_dir, address=address, on_start=progress.on_resume(resume_dir), on_progress=progress.on_progress
            )
        else:
            assert cfg is not None
            sweep = api.run(
                cfg,
                address=address,
                storage=storage,
                overwrite=overwrite,
                reuse_test=reuse_test,
                on_start=progress.on_run(cfg),
                on_progress=progress.on_progress,
            )
    finally:
        progress.bar.stop()
    assert sweep.outcome is not None
    summarise(console, sweep.outcome)


@_command
def leaderboard(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's folder, e.g. results/breast_cancer.")],
    top: Annotated[int | None, typer.Option(help="Show only the first N rows.")] = None,
    sort: Annotated[str | None, typer.Option(help="Sort by this column (default: the sweep's ranking).")] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv, json or markdown.")] = "table",
    wide: Annotated[bool, typer.Option("--wide", help="Every column, however wide the table gets.")] = False,
) -> None:
    """Show a sweep's leaderboard (while it runs: the trials finished so far)."""
    from search.api import Sweep
    from search.cli.terminal_table import FORMATS, VIEW, render
    from search.records.paths import CONFIG_FILE
    from trainable.names import OBJECTIVE_MODES

    if format not in FORMATS:
        raise HpsearchError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    frame = Sweep(results_dir).leaderboard  # (a running sweep's too: its config.yaml is not needed)
    if sort:
        if sort not in frame.columns:
            raise HpsearchError(f"--sort: no column {sort!r}; columns are: {', '.join(frame.columns)}")
        ascending = sort in ("rank", "pareto_rank", "train_seconds") or OBJECTIVE_MODES.get(sort) == "min"
        frame = frame.sort_values(sort, ascending=ascending, na_position="last", kind="stable")
    if top is not None:
        if top < 1:
            raise HpsearchError(f"--top must be >= 1, got {top}")
        frame = frame.head(top)
    if format == "table":
        metric = None
        if (results_dir / CONFIG_FILE).is_file():
            from search.config.load import load_saved_config

            metric = load_saved_config(results_dir / CONFIG_FILE).search.metric
        typer.echo(render(frame, "table", metric=metric, wide=wide), nl=False)
        return
    columns = [c for c in VIEW if c in frame.columns] if format == "markdown" else None
    typer.echo(render(frame, format, columns=columns))


@_command
def report(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's folder, e.g. results/breast_cancer.")],
) -> None:
    """Write RESULTS_DIR/report.html: plots and clinical metrics, one file that opens offline."""
    from search.review.report import write_report

    typer.echo(f"report: {write_report(results_dir)}")


@_command
def pick(
    results_dir: Annotated[Path, typer.Argument(help="A finished sweep's folder.")],
    top_k: Annotated[int | None, typer.Option(help="Retrain the top K configurations (default: pick.top_k).")] = None,
    repeats: Annotated[int | None, typer.Option(help="Seeds per configuration (default: pick.repeats).")] = None,
    address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster (default: RAY_ADDRESS, else local).")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Ray Tune's storage for the retrains: a path every node shares, or a URI.")
    ] = None,
    reuse_test: Annotated[
        bool, typer.Option("--reuse-test", help="Score the winner on a test split already scored.")
    ] = False,
) -> None:
    """Retrain the top configurations with fresh seeds on Ray, rank by the mean, export the winner to best/."""
    from rich.console import Console

    from search.cli.console import print_pick, print_review
    from search.sweep.pick import PickRequest, pick_sweep

    console = Console(stderr=True)

    def on_start(k: int, n: int, seeds: list[int]) -> None:
        console.print(f"retraining the top {k} configurations x {n} seeds ({', '.join(map(str, seeds))}) on Ray")

    def on_result(done: int, total: int) -> None:
        console.print(f"  {done}/{total} retrains finished")

    outcome = pick_sweep(results_dir, PickRequest(top_k, repeats, address, storage, reuse_test, on_start, on_result))
    print_pick(console, outcome, Path(results_dir))
    print_review(console, outcome.card, Path(results_dir))


@_command
def export(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's folder.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write model.keras, model_card.json, model_card.md.")],
    trial: Annotated[str | None, typer.Option(help="Trial ID (default: the best-ranked trial).")] = None,
    target_sensitivity: Annotated[
        float | None,
        typer.Option(help="Choose the threshold for this validation sensitivity instead of Youden's J."),
    ] = None,
    reuse_test: Annotated[
        bool, typer.Option("--reuse-test", help="Score this model on a test split already scored for another.")
    ] = False,
) -> None:
    """Export any trial's model with its model card (JSON and Markdown)."""
    from search.export.export import export_trial

    card = export_trial(results_dir, trial, out, target_sensitivity, reuse_test)
    test = card.test
    lo, hi = test.auroc_ci95 or (float("nan"), float("nan"))
    scored = "test split not scored" if test.unscored else f"test AUROC {test.auroc:.3f}, 95% CI {lo:.3f}-{hi:.3f}"
    typer.echo(f"exported trial {card.trial_id} -> {out} ({scored})")
    if (test.scorings or 1) > 1:
        from search.review.test_scoring_text import reused

        typer.echo(reused(test.scorings or 1), err=True)


@_command
def predict(
    model_dir: Annotated[Path, typer.Argument(help="An exported model's folder, e.g. results/breast_cancer/best.")],
    input: Annotated[Path, typer.Argument(help="Rows to score: .csv/.parquet (training column names) or .npy/.npz.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write .csv or .parquet here (default: CSV on stdout).")
    ] = None,
) -> None:
    """Probabilities per class and the predicted label (at the model's stored threshold)."""
    from search import api
    from search.export.predict import check_output, write_predictions
    from trainable.data.sources import read_rows

    check_output(out)
    model = api.load_model(model_dir)
    result = model.predict(read_rows(input, model.card.data.feature_names), where=str(input))
    if out is None:
        typer.echo(result.frame.to_csv(index=False), nl=False)
    else:
        write_predictions(result.frame, out)
    typer.echo(f"{len(result.frame)} rows; predicted label: {result.rule}" + (f" -> {out}" if out else ""), err=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("hpsearch: interrupted", err=True)
        sys.exit(130)
    except SystemExit as exc:
        _leave(exc)
    raise SystemExit(0)


def _leave(exc: SystemExit) -> None:
    """Exit with `exc`'s code. After a command that loaded TensorFlow, skip the
    interpreter's teardown (~1.5 s of freeing TensorFlow's objects one by one):
    every output is written and closed by then, the streams are flushed here,
    and Ray is no longer running in this process (else the normal exit runs
    its shutdown hook)."""
    ray = sys.modules.get("ray")
    if (
        "tensorflow" not in sys.modules
        or not isinstance(exc.code, (int, type(None)))
        or (ray is not None and ray.is_initialized())
    ):
        raise exc
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exc.code or 0)


if __name__ == "__main__":
    main()
