"""Pareto fronts: the non-dominated sorting of NSGA-II (Deb et al. 2002).

Contract: `pareto_ranks(values, modes)` ranks the rows of `values` (n x
objectives, each minimised or maximised as `modes` says): rank 1 is the front
no point dominates, rank 2 the front once rank 1 is removed, and so on. A
point dominates another when it is no worse on every objective and better on
one. O(n^2) comparisons: fine for the hundreds of trials of a sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pareto_ranks"]


def pareto_ranks(values: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    v = np.asarray(values, dtype=float) * signs  # every objective minimised
    no_worse = (v[:, None, :] <= v[None, :, :]).all(axis=2)
    better = (v[:, None, :] < v[None, :, :]).any(axis=2)
    dominates = no_worse & better  # dominates[i, j]: i dominates j
    ranks = np.zeros(len(v), dtype=int)
    left = np.ones(len(v), dtype=bool)
    rank = 0
    while left.any():
        rank += 1
        front = left & ~(dominates & left[:, None]).any(axis=0)
        ranks[front] = rank
        left &= ~front
    return ranks
