"""Ray Tune's trials and results -> leaderboard rows, on the driver.

Contract: a Tune trial trains a pack of configurations
(`trainable.trial.train.pack_config`); each configuration is one row
(`member_rows`), its checkpoint the folder named by its trial id inside the
pack's checkpoint. `local_checkpoint(checkpoint, out, id)` is a checkpoint's
folder on this machine (copied into `out/checkpoints/<id>` from remote
storage). `rows_of_trial(trial, max_epochs)` are a finished pack's rows as
Tune calls back with it (while the sweep runs); `rows_of_results(results,
max_epochs, out)` are the rows of a `ResultGrid` at the end, with each
configuration's sampled hyperparameters (checkpoints on remote storage are
copied into `out/checkpoints/<id>` first, so everything after the sweep reads
local folders). `error_text(trial_or_result)` is one
line for a failed trial: the exception's last line, or that its worker
process died. Imports Ray inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.records.paths import CHECKPOINTS_DIR, trial_dirname
from search.review.leaderboard import trial_row
from search.review.sweep_results import sampled_configs
from trainable.names import BEST_EPOCH, DIVERGED, MEMBERS, STOPPED, member_metrics
from trainable.trial.checkpoint import PACK_STATE_FILE

__all__ = ["error_text", "local_checkpoint", "member_rows", "rows_of_results", "rows_of_trial"]

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


def member_rows(
    pack: str,
    config: dict[str, Any],
    metrics: dict[str, Any] | None,
    *,
    max_epochs: int,
    error: str | None,
    checkpoint: str | None,
) -> list[dict[str, Any]]:
    """One row per configuration of the pack `pack` (Tune trial id): its metrics (`member_metrics`), its
    checkpoint folder inside the pack's (when it scored an epoch), and the pack's error unless it was stopped
    early or diverged before (then its row stands as it ended)."""
    found = member_metrics(metrics)
    rows = []
    for member in config.get(MEMBERS) or []:
        name = str(member["id"])
        own = found.get(name, {})
        frozen = bool(own.get(DIVERGED) or own.get(STOPPED))  # ended before its pack went on (and failed)
        scored = int(own.get(BEST_EPOCH, 0) or 0) > 0
        rows.append(
            trial_row(
                name,
                dict(member.get("hp") or {}),
                own,
                max_epochs=max_epochs,
                error=None if frozen else error,
                checkpoint=f"{checkpoint}/{name}" if checkpoint and scored else None,
                pack=pack,
            )
        )
    return rows


def rows_of_trial(trial: Any, max_epochs: int, failed: bool = False) -> list[dict[str, Any]]:
    """The rows of a pack as Tune calls back with its trial (while the sweep runs)."""
    checkpoint = getattr(trial, "checkpoint", None)
    return member_rows(
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
    if not (target / PACK_STATE_FILE).is_file():
        checkpoint.to_directory(str(target))
    return str(target)


def rows_of_results(results: Any, max_epochs: int, out: Path) -> tuple[list[dict[str, Any]], dict[str, dict]]:
    """Every configuration's row, and its sampled hyperparameters by trial id."""
    rows, sampled = [], {}
    for result in results:
        # the trial's own folder names it: a result's metrics may be another trial's (a failed actor reuse)
        pack = Path(str(result.path).rstrip("/")).name.removeprefix(trial_dirname(""))
        config = result.config or {}
        rows += member_rows(
            pack,
            config,
            result.metrics or {},
            max_epochs=max_epochs,
            error=error_text(result) if result.error else None,
            checkpoint=local_checkpoint(result.checkpoint, out, pack),
        )
        sampled.update(sampled_configs(config))
    return rows, sampled
