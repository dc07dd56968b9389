"""Statistics: metrics and their thresholds, intervals and paired differences, baselines, Pareto ranks.

Owns: `metrics` (scores, clinical metrics, net benefit), `intervals` (DeLong, Wilson, BCa),
`calibration` (slope and intercept, profile likelihood), `clusters` (patients as the units of an
interval), `baselines` (logistic regression and gradient boosting on the network's
encoding), `pareto` (non-dominated sorting).
May import: `trainable.data`, `trainable.names`, `trainable.errors`; never `trainable.trial`.
"""
