"""`python -m papertrend` runs the CLI."""

from papertrend.cli import main

main()
