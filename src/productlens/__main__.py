"""`python -m productlens` runs the CLI."""

from .cli import main

main()
