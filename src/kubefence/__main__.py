"""``python -m kubefence``: the command line."""

from kubefence.cli.entry import main

main()
