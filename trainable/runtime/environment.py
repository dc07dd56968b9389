"""The environment of a process that runs TensorFlow: the driver, and every trial's Ray worker.

Contract: each variable TensorFlow or Keras reads at import is a named
setting here:
- `QUIET_ENV`: TensorFlow's C++ log level (its INFO lines stay out of the
  user's terminal);
- `BACKEND_ENV`: Keras 3 runs on TensorFlow;
- `GPU_MEMORY_ENV`: TensorFlow allocates GPU memory as it needs it (memory
  growth), so trials that share a GPU (`train.gpus_per_trial` < 1) do not
  each take all of it. Which GPUs a trial sees is Ray's to set: it sets
  `CUDA_VISIBLE_DEVICES` for each trial to the GPUs it was given.
`process_env(cpus)` is all of them (and, with `cpus`, TensorFlow's thread
pools sized to them): what the driver gives Ray's workers.
`prepare_tensorflow()` sets them in this process where the user has not, and
lowers the `tensorflow` and `absl` Python loggers. `import_keras()` returns
`keras`, importing TensorFlow the first time with file descriptor 2 pointed at
/dev/null, because TensorFlow's C++ runtime writes INFO lines (oneDNN, CUDA
stubs) straight to it before any logging is configured. Imports nothing
heavy at module level.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["BACKEND_ENV", "GPU_MEMORY_ENV", "QUIET_ENV", "import_keras", "prepare_tensorflow", "process_env"]

QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
BACKEND_ENV = {"KERAS_BACKEND": "tensorflow"}
GPU_MEMORY_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def process_env(cpus: int | None = None) -> dict[str, str]:
    """The variables a TensorFlow process of hpsearch starts with; with `cpus`, thread pools of that size."""
    env = {**QUIET_ENV, **BACKEND_ENV, **GPU_MEMORY_ENV}
    if cpus is not None:
        env.update(TF_NUM_INTRAOP_THREADS=str(cpus), TF_NUM_INTEROP_THREADS=str(cpus))
    return env


def prepare_tensorflow() -> None:
    """Set `process_env()` in this process (where unset) and quiet TensorFlow's Python loggers."""
    for key, value in process_env().items():
        os.environ.setdefault(key, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


@contextlib.contextmanager
def _fd2_silenced() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> Any:
    """Return the `keras` module, importing TensorFlow quietly the first time."""
    for key, value in {**QUIET_ENV, **BACKEND_ENV}.items():
        os.environ.setdefault(key, value)
    if "tensorflow" not in sys.modules:
        with _fd2_silenced():
            import tensorflow  # noqa: F401
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import keras

    return keras
