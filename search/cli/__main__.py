"""`python -m search.cli`: the `hpsearch` command."""

from search.cli.app import main

main()
