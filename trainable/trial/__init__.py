"""One trial: its model, its one fit, its per-epoch reports and checkpoints.

Owns: `train` (the function Ray Tune runs), `epoch_callback` (score, keep the best,
checkpoint, report), `architecture` (the one builder of a configuration's layers and
optimizer), `model` (one model with its preprocessing; loading, predicting),
`fold_model` (k fold-models as one), `layers` (hpsearch's Keras layers and the fold loss),
`validation` (holdout or k folds), `checkpoint`, `settings` (`TrialSettings`).
May import every other room of `trainable`.
"""
