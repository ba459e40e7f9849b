"""``python -m vident`` runs the command line."""

from vident.cli import main

main()
