"""Re-export of the user-error type, so `search` code reads `search.errors`.

The class lives in `trainable.errors` because `trainable` must never import
`search`, and data validation (in `trainable`) raises it too.
"""

from trainable.errors import HpsearchError

__all__ = ["HpsearchError"]
