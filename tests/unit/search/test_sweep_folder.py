"""A sweep folder's life cycle, and what `run` and `resume` refuse before Ray starts: one line each
(`HpsearchError`; exit code 2 at the CLI). Tune's trials and results as leaderboard rows. Fast: no Ray started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.config.load import load_config
from search.sweep.driver import resume_sweep, run_sweep
from trainable.errors import HpsearchError

# --- what resume and run refuse: one line (HpsearchError; exit code 2 at the CLI) ----


def _sweep_folder(out: Path, **record) -> Path:
    """A sweep folder as `run` starts it: the resolved config and the sweep record (of the default data)."""
    out.mkdir(parents=True)
    cfg = load_config(None, {"results_dir": str(out.parent), "name": out.name})
    (out / "config.yaml").write_text(cfg.to_yaml())
    data = cfg.load_data()
    (out / "sweep.json").write_text(
        json.dumps(
            {
                "experiment": str(out / "tune"),
                "out_dir": str(out),
                "data_sha256": data.sha256,
                "folds_sha256": data.folds_sha256,
                "storage": None,
                "started": "2026-01-01T00:00:00",
                "finished": None,
                **record,
            }
        )
    )
    return out


def test_resume_at_the_command_line_refuses_in_one_line_or_says_there_is_nothing_to_do(cli, tmp_path):
    missing = cli("resume", tmp_path / "nope")
    assert missing.exit_code == 2 and "Traceback" not in missing.stderr
    assert missing.error_lines() == [f"hpsearch: error: {tmp_path / 'nope'}: results directory not found"]

    done = _sweep_folder(tmp_path / "done", finished="2026-01-01T00:00:00")
    before = sorted(p.name for p in done.iterdir())
    result = cli("resume", done)
    assert result.exit_code == 0 and "the sweep already finished; nothing to resume" in result.stderr
    assert sorted(p.name for p in done.iterdir()) == before


def test_resume_refuses_what_it_cannot_continue(tmp_path, article_npy):
    with pytest.raises(HpsearchError, match="no sweep here \\(config.yaml is missing\\)"):
        resume_sweep(tmp_path)

    moved = _sweep_folder(tmp_path / "moved", out_dir="/elsewhere")
    with pytest.raises(HpsearchError, match="this sweep ran in /elsewhere .* move it back"):
        resume_sweep(moved)

    early = _sweep_folder(tmp_path / "early")
    (early / "tune").mkdir()
    (early / "tune" / "tuner.pkl").write_bytes(b"")  # Tuner() ran, the first state save did not
    with pytest.raises(
        HpsearchError, match=f"no saved Ray Tune state.*hpsearch run {early / 'config.yaml'} --overwrite"
    ):
        resume_sweep(early)

    stale = _sweep_folder(tmp_path / "stale")  # its Tune state pickles a class this version does not have
    (stale / "tune").mkdir()
    (stale / "tune" / "tuner.pkl").write_bytes(b"csearch._gone\nLiveLeaderboard\n.")
    (stale / "tune" / "experiment_state-2026-01-01_00-00-00.json").write_text("{}")
    with pytest.raises(HpsearchError, match="cannot load the saved Ray Tune state .*ModuleNotFoundError.*--overwrite"):
        resume_sweep(stale)

    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "config.yaml").write_text(load_config(None, {"data.source": str(article_npy)}).to_yaml())
    (changed / "sweep.json").write_text(
        json.dumps(
            {
                "experiment": str(changed / "tune"),
                "out_dir": str(changed),
                "data_sha256": "0" * 64,
                "folds_sha256": None,
                "storage": None,
                "started": "2026-01-01T00:00:00",
                "finished": None,
            }
        )
    )
    with pytest.raises(HpsearchError, match="the data changed since the sweep started"):
        resume_sweep(changed)

    refolded = _sweep_folder(tmp_path / "refolded", folds_sha256="0" * 64)  # recorded folds != these folds
    with pytest.raises(HpsearchError, match="the cross-validation folds differ from the sweep's"):
        resume_sweep(refolded)


def test_run_refuses_an_unfinished_sweep_a_storage_file_and_an_address_without_a_cluster(tmp_path):
    unfinished = _sweep_folder(tmp_path / "results" / "breast_cancer")
    cfg = load_config(None, {"results_dir": str(tmp_path / "results")})
    with pytest.raises(
        HpsearchError, match=f"holds an unfinished sweep; continue it with `hpsearch resume {unfinished}`"
    ):
        run_sweep(cfg)
    (tmp_path / "file").write_text("")
    other = load_config(None, {"results_dir": str(tmp_path / "other")})
    with pytest.raises(HpsearchError, match="--storage .*: exists and is not a directory"):
        run_sweep(other, storage=str(tmp_path / "file"))
    with pytest.raises(HpsearchError, match="--address 127.0.0.1:1: no Ray cluster answers there"):
        run_sweep(other, address="127.0.0.1:1")  # nothing listens on port 1: refused at once, no waiting
    with pytest.raises(HpsearchError, match="--address head-node: expected HOST:PORT"):
        run_sweep(other, address="head-node")
    assert not (tmp_path / "other").exists()


def test_the_error_column_names_the_exception_or_a_dead_worker(tmp_path):
    import traceback

    import ray.exceptions
    from ray.tune import Result

    from search.sweep.tune_rows import error_text

    try:
        raise RuntimeError("injected failure 1 (raise)")
    except RuntimeError as exc:
        raised = ray.exceptions.RayTaskError("train", traceback.format_exc(), exc)  # as a worker sends it
    died = ray.exceptions.ActorDiedError()  # what Ray raises when a trial's worker is SIGKILLed
    assert error_text(Result({}, None, raised, str(tmp_path))).endswith("RuntimeError: injected failure 1 (raise)")
    assert error_text(Result({}, None, died, str(tmp_path))) == (
        "ActorDiedError: the trial's worker process died (killed, out of memory, or crashed)"
    )


def test_a_packs_rows_are_named_by_its_own_folder_and_config_not_by_its_last_metrics(tmp_path):
    from types import SimpleNamespace

    from search.sweep.tune_rows import rows_of_results

    # a failed actor reuse: the lost pack's result carries the previous pack's metrics
    metrics = {"epoch": 1, "members": {"aaa-0": {"epoch": 1, "best_epoch": 1, "best_val_loss": 0.3}}}
    results = [
        SimpleNamespace(
            metrics=metrics,
            path=str(tmp_path / "trial_aaa"),
            config={"batch_size": 32, "members": [{"id": "aaa-0", "hp": {"batch_size": 32}}]},
            error=None,
            checkpoint=None,
        ),
        SimpleNamespace(
            metrics=metrics,
            path=str(tmp_path / "trial_bbb"),
            config={"batch_size": 32, "members": [{"id": "bbb-0", "hp": {"batch_size": 32}}]},
            error="RuntimeError: lost",
            checkpoint=None,
        ),
    ]
    rows, sampled = rows_of_results(results, max_epochs=1, out=tmp_path)
    assert [(r["trial_id"], r["pack"], r["status"]) for r in rows] == [
        ("aaa-0", "aaa", "completed"),
        ("bbb-0", "bbb", "error"),
    ]
    assert rows[0]["val_loss"] == 0.3 and rows[1]["val_loss"] is None
    assert sampled == {"aaa-0": {"batch_size": 32}, "bbb-0": {"batch_size": 32}}
