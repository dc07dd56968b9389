"""The process a model runs in: TensorFlow's environment, set-up and memory, and private APIs fenced.

Owns: `environment` (the named variables of a TensorFlow process; a quiet import of
Keras), `tf` (thread pools, memory between the trials of a reused worker), `_compat`
(each patch of a TensorFlow or Keras internal, with the versions it was checked against).
May import: `trainable.names`, `trainable.errors` only.
"""
