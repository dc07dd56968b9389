"""Import TensorFlow/Keras without their start-up log lines in the user's terminal.

TensorFlow's C++ runtime writes INFO lines (oneDNN, CUDA stubs) straight to
file descriptor 2 before its logging is configured, whatever Python's logging
says. `import_keras()` sets the documented environment switches and, for the
first import only, points fd 2 at /dev/null; it is restored right after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

__all__ = ["import_keras"]


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        with _fd2_silenced():
            import tensorflow  # noqa: F401
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    import keras

    return keras
