"""The command line: typer commands behind one error boundary, and what they print.

Owns: `app` (the commands; a user mistake is one line and exit 2), `console` (progress,
summaries), `terminal_table` (the leaderboard as a terminal table, CSV, JSON, Markdown).
May import every other room of `search`; imports them inside the commands, so that
`hpsearch --help` loads neither Ray nor TensorFlow.
"""
