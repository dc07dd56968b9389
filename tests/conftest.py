"""Shared set-up: one real Ray instance per test session, tiny configs, the CLI in-process, data files.

`tests/unit/` mirrors the packages and runs in seconds (no Ray, no training);
`tests/integration/` trains real models, on real Ray (marked `slow`).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent

# The suite caches bytecode as a default Python does, even in a shell that sets PYTHONDONTWRITEBYTECODE:
# the project installs without compiling it (no `compile-bytecode`: uv recompiles the whole environment at
# every `uv run` then, uv issue #12202), and every Ray worker would otherwise compile TensorFlow anew.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
HPSEARCH = [sys.executable, "-m", "search.cli"]


LOGICAL_GPUS = 2  # the session's Ray declares GPUs this machine does not have: trials asking none are unaffected


@pytest.fixture(scope="session")
def ray_session() -> Any:
    """A real local Ray instance, started once and shared by every slow test (with `LOGICAL_GPUS`)."""
    import ray

    from search.config.load import load_config
    from search.sweep.cluster import init_ray
    from trainable.runtime.environment import prepare_tensorflow

    prepare_tensorflow()
    os.environ.pop("RAY_ADDRESS", None)
    init_ray(None, load_config(), num_gpus=LOGICAL_GPUS)
    yield ray
    ray.shutdown()


def tiny_overrides(tmp_path: Path, **extra: Any) -> dict[str, Any]:
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
def tiny(tmp_path: Path) -> Callable[..., Any]:
    """`tiny(name=..., **{"dotted.key": value})`: a `Config` for a tiny sweep under `tmp_path/results`."""
    from search.config.load import load_config

    def make(**extra: Any) -> Any:
        return load_config(None, tiny_overrides(tmp_path, **extra))

    return make


def hyperparameters(**changes: Any) -> dict[str, Any]:
    """A trial's sampled hyperparameters: the article's model (the space's seed point), with `changes`. A test
    names only the values it needs, so a new hyperparameter needs no change here."""
    from search.config.load import load_config
    from search.config.space import seed_point

    return {**seed_point(load_config().space), **changes}


def serve_without_hpsearch(model_dir: Path, frame: pd.DataFrame, tmp_path: Path, form: str = "serving") -> np.ndarray:
    """The class probabilities of `model_dir/serving` (`form="onnx"`: of its `model.onnx`, in onnxruntime) for
    `frame`'s raw rows, computed in a new Python process where `search` and `trainable` cannot be imported
    (nor TensorFlow, for ONNX) (`tests/integration/serving_client.py`)."""
    rows, out = tmp_path / "serving_rows.parquet", tmp_path / "serving_proba.npy"
    frame.to_parquet(rows)
    client = ROOT / "tests" / "integration" / "serving_client.py"
    done = subprocess.run(
        [sys.executable, str(client), str(model_dir), str(rows), str(out), form],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out)


def data_spec(source: str = "builtin:breast_cancer", **changes: Any) -> Any:
    """The default config's `DataSpec` for `source`, with `changes` (e.g. `folds=5`, `target="outcome"`)."""
    from search.config.load import load_config

    spec = load_config().data.spec(0, ())
    changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
    return dataclasses.replace(spec, source=source, **changes)


def load(source: str = "builtin:breast_cancer", **changes: Any) -> Any:
    """`load_dataset(data_spec(source, **changes))`."""
    from trainable.data.dataset import load_dataset

    return load_dataset(data_spec(source, **changes))


@dataclasses.dataclass
class Ran:
    """What a command printed and how it ended (in-process or a subprocess alike)."""

    exit_code: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


@pytest.fixture
def cli() -> Callable[..., Ran]:
    """`cli(*args, env=None)`: an `hpsearch` command run in-process (typer's CliRunner, the same error boundary)."""
    from typer.testing import CliRunner

    from search.cli.app import app

    def invoke(*args: Any, env: dict[str, str] | None = None) -> Ran:
        result = CliRunner().invoke(app, [str(a) for a in args], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def hpsearch_process() -> Callable[..., Ran]:
    """`hpsearch_process(*args, env=None)`: an `hpsearch` command in its own Python process."""

    def run(*args: Any, env: dict[str, str] | None = None, timeout: float = 600) -> Ran:
        done = subprocess.run(
            [*HPSEARCH, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def article_npy(tmp_path: Path) -> Path:
    """A file in the article's format: float matrix, last column = 0/1 label."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    path = tmp_path / "data.npy"
    np.save(path, np.column_stack([X, y]))
    return path


def clinical_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A clinical-style table: numbers, text, booleans, missing values, a patient id, a text outcome."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n).round()
    crp = rng.lognormal(1, 0.8, n)
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice(["I", "II", "III", "IV"], n)
    logit = 0.08 * (age - 60) + 0.8 * np.log(crp) + (stage == "IV") * 2.0 + (sex == "M") * 0.5 - 1.0
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "age": age,
            "crp": crp,
            "sex": sex,
            "stage": stage,
            "smoker": rng.choice([True, False], n),
            "outcome": np.where(y, "died", "survived"),
        }
    )
    frame.loc[rng.choice(n, 25, replace=False), "crp"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "stage"] = None
    return frame


@pytest.fixture
def clinical_csv(tmp_path: Path) -> Path:
    path = tmp_path / "clinical.csv"
    clinical_frame().to_csv(path, index=False)
    return path
