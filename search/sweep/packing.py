"""How many configurations each Tune trial trains: `search.pack`, and the rule behind `auto`.

Contract: `pack_size(cfg, rows, slots)` is the number of configurations a pack
holds at most: `search.pack` when it is a number, else the `auto` rule below;
never more than keeps every slot busy (`ceil(trials / slots)`).
`pack_sizes(trials, size)` cuts the sweep's trials into packs of as even
sizes as `size` allows (their sum is `trials`); the Tune trials are those
packs (`search.sweep.tuner`).

The `auto` rule, from `benchmarks/pack.py` on a 2-core machine (separate fits
/ packed, wall time): a pack pays Keras's per-step cost (the Python loop,
dispatch, the data pipeline) once for all its members, so it wins where that
cost dominates: small tables and narrow layers. On large tables arithmetic
dominates and the gain goes, while a pack's first epoch (tracing) grows with
its members. So: `rows` are the training rows a step walks through, `widest`
the widest layer the space allows:

| training rows      | widest <= 256 | widest > 256 |
|--------------------|---------------|--------------|
| <= 5,000           | 8             | 4            |
| <= 50,000          | 4             | 2            |
| <= 200,000         | 2             | 1            |
| more               | 1             | 1            |
"""

from __future__ import annotations

import math

from search.config.schema import Config

__all__ = ["AUTO_RULE", "auto_size", "pack_size", "pack_sizes"]

# (most training rows, size with narrow layers, size with wide ones); past the last row count: 1
AUTO_RULE = ((5_000, 8, 4), (50_000, 4, 2), (200_000, 2, 1))
WIDE = 256  # widths above this make arithmetic dominate a step


def auto_size(rows: int, widest: int) -> int:
    for most, narrow, wide in AUTO_RULE:
        if rows <= most:
            return narrow if widest <= WIDE else wide
    return 1


def pack_size(cfg: Config, rows: int, slots: int) -> int:
    """The most configurations a pack of this sweep holds."""
    trials = cfg.search.trials
    wanted = auto_size(rows, cfg.space.units.high) if cfg.search.pack == "auto" else int(cfg.search.pack)
    return max(1, min(wanted, math.ceil(trials / max(1, slots)), trials))


def pack_sizes(trials: int, size: int) -> list[int]:
    """`trials` cut into ceil(trials / size) packs, sizes as even as possible, larger first."""
    packs = math.ceil(trials / size)
    return [trials // packs + (1 if i < trials % packs else 0) for i in range(packs)]
