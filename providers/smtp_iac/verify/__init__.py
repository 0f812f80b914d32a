"""Verify before save: the platform's "Send Test Email" as a real SMTP check with classified
failures (SPEC "Verify")."""

from .batch import DEFAULT_CONCURRENCY, group_by_settings, settings_key, verify_many
from .check import run_check
from .result import ADVICE, Failure, Stage, VerifyResult

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
