"""The package's version, in one place (the command line's ``--version`` reads it too)."""

__version__ = "0.1.0"
