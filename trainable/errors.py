"""The one error type for user mistakes (bad config, bad data, bad CLI input).

Raised anywhere in `trainable` or `search`; the CLI turns it into one line on
stderr and exit code 2. The message states the rule and the value received.
This module imports nothing of ours, so every other module may import it.
"""

__all__ = ["HpsearchError"]


class HpsearchError(Exception):
    """A mistake in the user's input: config, data file, or command line."""
