"""The model that leaves: exporting a trial, the one scoring of the test split, predicting.

Owns: `export` (a trial -> `best/` or `--out`: model, card, predictions), `test_scoring`
(clinical metrics, baselines, decision curve, subgroups on the test split), `ledger`
(every scoring of the test split: scored once unless told), `predict` (raw rows -> an
exported model's probabilities).
May import: `search.review`, `search.records`, `search.config`, `trainable`; never
`search.sweep` or `search.cli`.
"""
