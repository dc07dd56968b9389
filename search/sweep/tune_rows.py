"""Ray Tune's trials and results -> leaderboard rows, on the driver.

Contract: `local_checkpoint(checkpoint, out, id)` is a checkpoint's folder on this
machine (copied into `out/checkpoints/<id>` from remote storage).
`row_of_trial(trial, max_epochs)` is a finished trial's row as Tune
calls back with it (while the sweep runs); `rows_of_results(results,
max_epochs, out)` are the rows of a `ResultGrid` at the end (checkpoints on
remote storage are copied into `out/checkpoints/<id>` first, so everything
after the sweep reads local folders). `error_text(trial_or_result)` is one
line for a failed trial: the exception's last line, or that its worker
process died. Imports Ray inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.records.paths import CHECKPOINTS_DIR, trial_dirname
from search.review.leaderboard import trial_row
from trainable.trial.checkpoint import STATE_FILE

__all__ = ["error_text", "local_checkpoint", "row_of_trial", "rows_of_results"]

_WORKER_DIED = "the trial's worker process died (killed, out of memory, or crashed)"


def error_text(trial_or_result: Any) -> str:
    """One line for a failed trial's error: the exception's last line (its
    type and message), or, when the worker process died, a line saying so."""
    from ray.exceptions import RayActorError

    err = getattr(trial_or_result, "error", None)
    if isinstance(err, RayActorError):
        return f"{type(err).__name__}: {_WORKER_DIED}"
    if err is not None and not isinstance(err, str):
        text = f"{type(err).__name__}: {err}".strip()
        return text.splitlines()[-1] if text else type(err).__name__
    path = getattr(trial_or_result, "error_file", None) or ""
    try:
        text = Path(path).read_text().strip().rsplit("Failure # ", 1)[-1]  # the file lists every failure
    except OSError:
        return "trial failed"
    if "The actor died unexpectedly" in text:
        return f"ActorDiedError: {_WORKER_DIED}"
    return text.splitlines()[-1] if text else "trial failed"


def row_of_trial(trial: Any, max_epochs: int, failed: bool = False) -> dict[str, Any]:
    checkpoint = getattr(trial, "checkpoint", None)
    return trial_row(
        trial.trial_id,
        trial.config,
        trial.last_result,
        max_epochs=max_epochs,
        error=error_text(trial) if failed else None,
        checkpoint=getattr(checkpoint, "path", None),
    )


def local_checkpoint(checkpoint: Any, out: Path, trial_id: str) -> str | None:
    """The checkpoint's folder on this machine: as is on a local or shared path;
    copied into `out/checkpoints/<trial>` from remote storage (s3://...)."""
    if checkpoint is None:
        return None
    if checkpoint.filesystem.type_name == "local":
        return checkpoint.path
    target = out / CHECKPOINTS_DIR / trial_id
    if not (target / STATE_FILE).is_file():
        checkpoint.to_directory(str(target))
    return str(target)


def rows_of_results(results: Any, max_epochs: int, out: Path) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        metrics = result.metrics or {}
        # the trial's own folder names it: a result's metrics may be another trial's (a failed actor reuse)
        trial_id = Path(str(result.path).rstrip("/")).name.removeprefix(trial_dirname(""))
        rows.append(
            trial_row(
                trial_id,
                result.config or {},
                metrics,
                max_epochs=max_epochs,
                error=error_text(result) if result.error else None,
                checkpoint=local_checkpoint(result.checkpoint, out, trial_id),
            )
        )
    return rows
