"""Running a sweep on Ray: the driver, the cluster, the Tuner and what watches it.

Owns: `driver` (run and resume, one path to `best/`), `cluster` (joining or starting
Ray), `tuner` (trial settings, the Optuna searcher, the Tuner), `optuna_searcher` (packs
of Optuna trials), `study_storage` (study.db as the driver reads it), `window_tpe` (TPE
with a bounded cost), `packing` (`search.pack`: how many configurations a trial trains),
`early_stopping` (ASHA per configuration, one referee actor), `mlflow_runs` (a child run
per configuration),
`live` (the running fit: progress, live leaderboard, Ctrl-C), `tune_rows` (Tune's trials
-> leaderboard rows), `folder` (a sweep folder's life cycle), `early_baselines`,
`pick` (the robust pick), `tracking` (MLflow), `_compat` (Ray's private API, fenced).
May import every room of `search` but `cli`, and `trainable`. Ray is imported inside
functions.
"""
