"""``python -m shared.cli``: the same command as the installed ``hookline`` script."""

from shared.cli.main import main

main()
