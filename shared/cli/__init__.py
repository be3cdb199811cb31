"""The ``hookline`` command: the composition root, the one package that may import the worker and the receiver."""

from shared.cli.main import main

__all__ = ["main"]
