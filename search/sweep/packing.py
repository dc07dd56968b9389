"""How many configurations each Tune trial trains: `search.pack`, and the rule behind `auto`.

Contract: `pack_size(cfg, rows, slots)` is the number of configurations a pack
holds at most: `search.pack` when it is a number, else the `auto` rule below;
never more than keeps every slot busy (`ceil(trials / slots)`).
`pack_sizes(trials, size)` cuts the sweep's trials into packs of as even
sizes as `size` allows (their sum is `trials`); the Tune trials are those
packs (`search.sweep.tuner`).

The `auto` rule, from `benchmarks/pack.py` on a 2-core machine (separate fits
/ packed, wall time, medians of 3 interleaved repeats; 10 epochs on the
built-in table, 2 on the synthetic ones): a pack pays Keras's per-step cost
(the Python loop, dispatch, the data pipeline) once for all its members, and
that wins most where the per-step cost dominates: small tables and narrow
layers (P = 8: 1.7-2.1x on the built-in table, 1.4x on 7,000 rows, 1.3x on
70,000). Each member still costs its own trace of the train step (about a
first epoch alone), so the gain stays below P. Wide layers (3 x 512) gain
1.2-1.4x at P = 4 or 8. Tables past 100,000 training rows were not measured
to gain: there the rule keeps to 2, then 1. `rows` are the training rows a
step walks through; `width` the typical width the space samples (the
geometric middle of `space.units`):

| training rows      | width <= 256 | width > 256 |
|--------------------|--------------|-------------|
| <= 10,000          | 8            | 4           |
| <= 100,000         | 4            | 4           |
| <= 200,000         | 2            | 2           |
| more               | 1            | 1           |
"""

from __future__ import annotations

import math

from search.config.schema import Config

__all__ = ["AUTO_RULE", "auto_size", "pack_size", "pack_sizes"]

# (most training rows, size with narrow layers, size with wide ones); past the last row count: 1
AUTO_RULE = ((10_000, 8, 4), (100_000, 4, 4), (200_000, 2, 2))
WIDE = 256  # widths above this make arithmetic dominate a step


def auto_size(rows: int, width: float) -> int:
    for most, narrow, wide in AUTO_RULE:
        if rows <= most:
            return narrow if width <= WIDE else wide
    return 1


def pack_size(cfg: Config, rows: int, slots: int) -> int:
    """The most configurations a pack of this sweep holds."""
    trials = cfg.search.trials
    width = math.sqrt(cfg.space.units.low * cfg.space.units.high)
    wanted = auto_size(rows, width) if cfg.search.pack == "auto" else int(cfg.search.pack)
    return max(1, min(wanted, math.ceil(trials / max(1, slots)), trials))


def pack_sizes(trials: int, size: int) -> list[int]:
    """`trials` cut into ceil(trials / size) packs, sizes as even as possible, larger first."""
    packs = math.ceil(trials / size)
    return [trials // packs + (1 if i < trials % packs else 0) for i in range(packs)]
