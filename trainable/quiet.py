"""Keeping TensorFlow quiet: its log lines stay out of the user's terminal, in the driver and in workers.

Contract: `QUIET_ENV` holds the environment switches a quiet TensorFlow process
needs (the driver gives them to Ray's workers); `quiet_tensorflow()` sets them
in this process (without overriding what the user set) and lowers the
`tensorflow` and `absl` Python loggers; `import_keras()` returns `keras`,
importing TensorFlow the first time with file descriptor 2 pointed at
/dev/null, because TensorFlow's C++ runtime writes INFO lines (oneDNN, CUDA
stubs) straight to it before any logging is configured. Imports nothing heavy
at module level.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

__all__ = ["QUIET_ENV", "import_keras", "quiet_tensorflow"]

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONWARNINGS": "ignore",
    "CUDA_VISIBLE_DEVICES": "",
    "KERAS_BACKEND": "tensorflow",
}


def quiet_tensorflow() -> None:
    """Set `QUIET_ENV` (where unset) and quiet TensorFlow's Python loggers."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


@contextlib.contextmanager
def _fd2_silenced():
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


def import_keras():
    """Return the `keras` module, importing TensorFlow quietly the first time."""
    for key in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND"):
        os.environ.setdefault(key, QUIET_ENV[key])
    if "tensorflow" not in sys.modules:
        with _fd2_silenced():
            import tensorflow  # noqa: F401
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import keras

    return keras
