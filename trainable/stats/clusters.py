"""Patients, not rows: the sampling unit of an interval when `data.group` keeps a patient's rows together.

Rows of one patient are not independent, so an interval that treats them as
independent is too narrow. Every function here takes `groups`, one id per row
(a patient), and makes whole patients the independent units; callers pass
`groups=None` when every row is its own unit and then do not call them.

Contract:
- `cluster_totals(values, groups)`: (sums per patient, rows per patient), in
  the order of the patients' first rows.
- `clustered_variance(influence, groups)`: the variance of a statistic whose
  per-row influence is `influence` (its mean is the statistic's linear part),
  with patients as the units: I / (I - 1) * sum_i S_i^2 / N^2, S_i a patient's
  total influence, I patients, N rows. For the AUROC's DeLong components it is
  Obuchowski's (1997) clustered variance (the positives', the negatives' and
  their covariance terms in one sum).
- `ratio_variance(values, groups)`: the clustered variance of the mean of
  per-row `values` (a ratio estimator: patients' sums over their rows).
- `effective_n(hits, groups)`: the number of rows divided by the design
  effect of the proportion `hits.mean()` (Kish 1965), the design effect at
  least 1, as Korn & Graubard (1998) do for survey proportions; where the
  proportion is 0 or 1 the design effect cannot be estimated and the number of
  patients is used.
- `count_units(groups)`: the number of patients.
Only NumPy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cluster_totals", "clustered_variance", "count_units", "effective_n", "ratio_variance"]


def _codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's patient as 0..I-1, and I."""
    _, first, codes = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # number the patients in the order of their first rows
    return order[codes.reshape(-1)], len(first)


def count_units(groups: np.ndarray) -> int:
    """The number of patients."""
    return _codes(groups)[1]


def cluster_totals(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum of `values` per patient, rows per patient)."""
    codes, n = _codes(groups)
    values = np.asarray(values, dtype=np.float64)
    return np.bincount(codes, weights=values, minlength=n), np.bincount(codes, minlength=n).astype(np.float64)


def clustered_variance(influence: np.ndarray, groups: np.ndarray) -> float:
    """Variance of a statistic with per-row `influence`, patients as the independent units."""
    sums, _ = cluster_totals(influence, groups)
    n_units = len(sums)
    if n_units < 2:
        return 0.0
    return float(n_units / (n_units - 1) * np.sum(sums**2) / len(influence) ** 2)


def ratio_variance(values: np.ndarray, groups: np.ndarray) -> float:
    """Clustered variance of the mean of per-row `values` (linearised: the residuals' patient totals)."""
    values = np.asarray(values, dtype=np.float64)
    return clustered_variance(values - values.mean(), groups)


def effective_n(hits: np.ndarray, groups: np.ndarray) -> float:
    """Rows / the proportion's design effect (at least 1); the number of patients at a proportion of 0 or 1."""
    hits = np.asarray(hits, dtype=np.float64)
    p, n = float(hits.mean()), len(hits)
    if p <= 0 or p >= 1:
        return float(count_units(groups))
    design_effect = ratio_variance(hits, groups) / (p * (1 - p) / n)
    return n / max(design_effect, 1.0)
