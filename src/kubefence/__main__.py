"""``python -m kubefence``: the command line."""

from kubefence.cli.app import main

main()
