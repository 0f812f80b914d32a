"""Verify before save: the platform's "Send Test Email" as a real SMTP check with classified
failures (SPEC "Verify").

The names load on first use (PEP 562): ``result`` (what a check found) is pure and is all that
the store and ``plan`` need; ``check`` and ``batch`` bring smtplib, ssl and email, which only a
command that talks SMTP pays for (``tests/test_cli_imports.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .batch import DEFAULT_CONCURRENCY, group_by_settings, settings_key, verify_many
    from .check import run_check
    from .result import ADVICE, Failure, Stage, VerifyResult

_LAZY = {
    "DEFAULT_CONCURRENCY": "batch",
    "group_by_settings": "batch",
    "settings_key": "batch",
    "verify_many": "batch",
    "run_check": "check",
    "ADVICE": "result",
    "Failure": "result",
    "Stage": "result",
    "VerifyResult": "result",
}


__getattr__ = lazy.names(__name__, _LAZY)


__all__ = [
    "ADVICE",
    "DEFAULT_CONCURRENCY",
    "Failure",
    "Stage",
    "VerifyResult",
    "group_by_settings",
    "run_check",
    "settings_key",
    "verify_many",
]
