"""Fixtures of the stack-file tests (helpers live in ``stackfile_helpers``)."""

from stackfile_helpers import check  # noqa: F401
