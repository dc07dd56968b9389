"""What the user asks for: the typed config, its loading, the search space and the ranking.

Owns: `schema` (one frozen pydantic model per YAML section, no defaults of their own),
`load` (default YAML, user file, flags; one-line errors), `space` (the hyperparameters:
their names, sampling and the article's model), `ranking` (metric, objectives,
constraints). Every default lives in `configs/breast_cancer.yaml`.
May import: `trainable` only.
"""
