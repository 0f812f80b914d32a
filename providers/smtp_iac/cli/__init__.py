"""The ``smtp-iac`` command line. ``app`` holds the root group and the one place where errors
become messages and exit codes; each module beside it registers one group of commands."""

from .app import main

__all__ = ["main"]
