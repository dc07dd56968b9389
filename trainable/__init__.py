"""What runs inside a trial, and the data and statistics both sides share. Never imports `search`.

Rooms, top to bottom (a room imports only the rooms below it): `trial` (one trial: its
model, its fit, its reports and checkpoints) > `stats` (metrics, intervals, baselines,
Pareto ranks) > `data` (reading, checking, splitting and encoding a table) > `runtime`
(the TensorFlow process). `names` (metrics and report keys) and `errors` (the one error
type for user mistakes) sit below them all. import-linter checks it (`pyproject.toml`).
"""
