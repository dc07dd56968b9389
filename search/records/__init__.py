"""The results folder's files as typed records: their names, `sweep.json`, the model card, the lock.

Owns: `paths` (every file and folder name, atomic writes), `sweep_record` (`SweepRecord`:
`sweep.json`), `model_card` (`ModelCard`: `model_card.json`), `lock` (`.lock`: one
command at a time), `test_ledger` (`test_ledger.json`, in the results folder: every scoring
of a test split by any sweep there). The files' keys are these records' fields.
May import: `search.config`, `trainable`.
"""
