"""Reading a sweep's results for people: the leaderboard, ties, the report, the model card in words.

Owns: `leaderboard` (rows, statuses, ranking, the file), `ties` (validation intervals and
`tied_with_best`), `sweep_results` (a sweep folder read back), `report` with its sections
(`model_section`, `pareto_section`) and pieces (`html`, `numbers`), `card_text`
(`model_card.md`), `test_scoring_text` (what a card says of its test scoring, everywhere).
May import: `search.records`, `search.config`, `trainable`; never `search.sweep` or
`search.export`.
"""
