"""One trial: a pack of configurations, its one fit, its per-epoch reports and checkpoints.

Owns: `train` (the function Ray Tune runs), `pack` (several configurations as one Keras
model, each trained exactly as alone), `epoch_callback` (score each member, keep its best,
stop members, checkpoint, report), `rungs` (ASHA's rule, per member), `architecture` (the
one builder of a configuration's layers and optimizer), `model` (one model with its preprocessing; loading, predicting),
`fold_model` (k fold-models as one), `layers` (hpsearch's Keras layers and the fold loss),
`validation` (holdout or k folds), `checkpoint`, `settings` (`TrialSettings`).
May import every other room of `trainable`.
"""
