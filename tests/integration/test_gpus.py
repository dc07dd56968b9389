"""GPUs on a CPU-only machine: the session's Ray declares 2 logical GPUs (`conftest.LOGICAL_GPUS`)."""

import json

import pytest

from search.sweep.driver import run_sweep
from trainable.names import DEVICES

pytestmark = pytest.mark.slow


def test_half_a_gpu_per_trial_runs_four_trials_at_once_each_told_its_gpu(ray_session, tiny):
    cfg = tiny(
        name="gpus",
        **{"train.gpus_per_trial": 0.5, "train.cpus_per_trial": 0.5, "search.trials": 4, "search.pack": 1},
    )
    outcome = run_sweep(cfg)
    assert len(outcome.leaderboard) == 4 and set(outcome.leaderboard["status"]) == {"completed"}
    assert outcome.card is not None  # they trained (on the CPU) and the best was exported
    last = [
        json.loads(path.read_text().splitlines()[-1]) for path in sorted((cfg.out_dir / "tune").glob("*/result.json"))
    ]
    assert len(last) == 4
    # Ray set each trial's CUDA_VISIBLE_DEVICES: two trials on each GPU
    assert sorted(r[DEVICES] for r in last) == ["0", "0", "1", "1"]
    # four at once: every trial had started before any trial ended
    assert max(r["entered_at"] for r in last) < min(r["reported_at"] for r in last)
