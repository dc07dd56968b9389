"""Shared fixtures: one real Ray instance per test session, tiny configs, data files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
HPSEARCH = [sys.executable, "-m", "search.cli"]


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray instance, started once and shared by every slow test."""
    import ray

    from search.cluster import init_ray
    from search.config import load_config
    from trainable.quiet import quiet_tensorflow

    quiet_tensorflow()
    os.environ.pop("RAY_ADDRESS", None)
    init_ray(None, load_config())
    yield ray
    ray.shutdown()


def tiny_overrides(tmp_path: Path, **extra) -> dict:
    """Overrides for a sweep small enough for CI: a few trials, 1-3 epochs."""
    base = {
        "results_dir": str(tmp_path / "results"),
        "search.trials": 3,
        "train.max_epochs": 2,
        "search.early_stopping": {"enabled": False, "grace_period": 1, "reduction_factor": 2},
    }
    base.update(extra)
    return base


@pytest.fixture
def article_npy(tmp_path: Path) -> Path:
    """A file in the article's format: float matrix, last column = 0/1 label."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    path = tmp_path / "data.npy"
    np.save(path, np.column_stack([X, y]))
    return path
