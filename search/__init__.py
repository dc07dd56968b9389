"""hpsearch's driver side: the command line, the sweep on Ray, the exported model and its review.

Rooms, top to bottom (a room imports only the rooms below it and `trainable`):
`cli` (the commands) > `sweep` (running a sweep on Ray) > `export` (the model that
leaves, and its one test scoring) > `review` (reading results for people) >
`records` (the results folder's files as typed records) > `config` (what the user asked
for). import-linter checks it (`pyproject.toml`).
"""
