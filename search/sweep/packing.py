"""How many configurations each Tune trial trains: `search.pack`, and the rule behind `auto`.

Contract: `pack_size(cfg, rows, slots)` is the number of configurations a pack
holds at most: `search.pack` when it is a number, else the `auto` rule below;
never more than keeps every slot busy (`ceil(trials / slots)`).
`pack_sizes(trials, size)` cuts the sweep's trials into packs of as even
sizes as `size` allows (their sum is `trials`); the Tune trials are those
packs (`search.sweep.tuner`).

The `auto` rule, from `benchmarks/pack.py` on a 2-core machine (separate fits
/ packed, wall time, medians of 3 interleaved repeats; 20 epochs on the
built-in table, 2 on the synthetic ones, no early stopping): a pack pays the
per-epoch and per-`fit` costs of Keras (one call per epoch already runs all
its steps: `steps_per_execution`), the validation and the bookkeeping once
for all its members, which wins most on small tables with narrow layers
(P = 8: 1.7-2.1x on the built-in table, 1.4x on 7,000 rows, 1.3x at P = 4 on
70,000). Each member still costs its own trace of the train step (about half
a second), so the gain stays well below P. Wide layers (3 x 512) gain
1.2-1.4x on the built-in table but lose on 70,000 rows (0.8-0.9x at P = 4),
and tables past 100,000 training rows were not measured: the rule keeps to
1 there. `rows` are the training rows a
step walks through; `width` the typical width the space samples (the
geometric middle of `space.units`):

| training rows      | width <= 256 | width > 256 |
|--------------------|--------------|-------------|
| <= 10,000          | 8            | 4           |
| <= 100,000         | 4            | 1           |
| <= 200,000         | 2            | 1           |
| more               | 1            | 1           |

Under early stopping (`search.early_stopping.enabled`) `auto` takes at most
4: most configurations stop after `grace_period` epochs, so the trace, which
a pack does not share, is most of their cost, and a frozen member costs its
pack either its share of every later step or a new trace. Measured on the
default sweep (32 trials, 5-fold CV, ASHA; `benchmarks/pack_sweeps.py`, one
run, each P its own command): P = 2: 0.94x the wall of P = 1, P = 4: 0.97x,
P = 8: 1.08x.

On a GPU (`train.gpus_per_trial` > 0) `auto` takes twice the narrow-layer
size (16, 8, 4, 2; at most 8 under early stopping), whatever the width: a
small MLP leaves most of a device idle, and a pack fills it with more work per
step. This has NOT been measured on a real GPU yet (`GPU_FACTOR`).
"""

from __future__ import annotations

import math

from search.config.schema import Config

__all__ = ["AUTO_RULE", "auto_size", "pack_size", "pack_sizes"]

# (most training rows, size with narrow layers, size with wide ones); past the last row count: 1
AUTO_RULE = ((10_000, 8, 4), (100_000, 4, 1), (200_000, 2, 1))
WIDE = 256  # widths above this make arithmetic dominate a step
GPU_FACTOR = 2  # on a GPU: this many times the narrow-layer size (an assumption, not yet measured)


def auto_size(rows: int, width: float, gpu: bool = False) -> int:
    if gpu:
        return GPU_FACTOR * auto_size(rows, 0)
    for most, narrow, wide in AUTO_RULE:
        if rows <= most:
            return narrow if width <= WIDE else wide
    return 1


EARLY_STOPPING_MOST = 4  # under early stopping (see the module docstring)


def pack_size(cfg: Config, rows: int, slots: int) -> int:
    """The most configurations a pack of this sweep holds: `search.pack`, or `auto`; then no larger than
    fills every slot with packs of as even sizes as possible (e.g. 24 trials on 2 slots: 4 packs of 6 rather
    than 3 of 8, which would leave a slot idle for the last third of the sweep)."""
    trials, slots = cfg.search.trials, max(1, slots)
    width = math.sqrt(cfg.space.units.low * cfg.space.units.high)
    if cfg.search.pack == "auto":
        gpu = cfg.train.gpus_per_trial > 0
        wanted = auto_size(rows, width, gpu)
        if cfg.search.early_stopping.enabled:
            wanted = min(wanted, EARLY_STOPPING_MOST * (GPU_FACTOR if gpu else 1))
    else:
        wanted = int(cfg.search.pack)
    wanted = max(1, min(wanted, math.ceil(trials / slots), trials))
    packs = math.ceil(trials / wanted)
    if packs > slots and packs % slots:  # a last wave that would leave slots idle: more, smaller packs
        packs += slots - packs % slots
    return max(1, min(wanted, math.ceil(trials / packs)))


def pack_sizes(trials: int, size: int) -> list[int]:
    """`trials` cut into ceil(trials / size) packs, sizes as even as possible, larger first."""
    packs = math.ceil(trials / size)
    return [trials // packs + (1 if i < trials % packs else 0) for i in range(packs)]
