"""The ``pathlens`` command line. Every command calls the library; none computes by itself."""

from pathlens.cli import _train  # noqa: F401  (registers train-demo)
from pathlens.cli._app import app, main

__all__ = ["app", "main"]
