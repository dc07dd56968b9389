"""Numbers as people read them, the same in the model card and the report.

Contract: `number(value, digits=3)` is `value` with `digits` decimals; a pair
(an interval) as "lo to hi"; None, NaN and infinities as "n/a" (a value that
is not defined is never shown as a number); anything else as `str(value)`.
`with_interval(value, interval)` is `value` followed by its 95% interval in
parentheses, when there is one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["number", "with_interval"]


def number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{number(value[0], digits)} to {number(value[1], digits)}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def with_interval(value: Any, interval: Any, digits: int = 3) -> str:
    text = number(value, digits)
    return f"{text} ({number(interval, digits)})" if interval else text
