"""A table as a sweep uses it: read, checked, split, and encoded for a model.

Owns: `sources` (files and built-in tables), `dataset` (`DataSpec` -> `Dataset`),
`schema` (`ColumnSchema`: each column's type and training statistics), `encoding` (raw rows
-> model inputs), `splits` (test, validation, folds; by row or by group), `subgroups`,
`design_matrix` (the network's encoding for scikit-learn).
May import: `trainable.runtime`, `trainable.names`, `trainable.errors`; never `trainable.trial`
or `trainable.stats`.
"""
