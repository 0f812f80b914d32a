"""One error hierarchy. The CLI turns these into messages and exit codes in one place
(``cli.app.run``); the Pulumi provider turns them into resource errors.

Errors are data: ``kind`` (an ``ErrorKind``) says what went wrong, ``address`` where (an
``Address``, made text only where the error is shown), ``message`` and ``hint`` what a person
reads. No message may hold a plain password: messages are built from addresses, field names
and fingerprints only.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .addresses import Address
    from .diagnostics import Diagnostic
    from .verify.result import VerifyResult


class ErrorKind(StrEnum):
    ERROR = "error"
    USAGE = "usage"
    INVALID_STACK = "invalid_stack"
    INVALID_TENANTS = "invalid_tenants"
    SECRET_UNAVAILABLE = "secret_unavailable"
    FILE_REFUSED = "file_refused"
    STORE = "store"
    STORE_URL = "store_url"
    STORE_KEY = "store_key"
    CONFLICT = "conflict"
    OWNERSHIP = "ownership"
    UNKNOWN_TENANT = "unknown_tenant"
    FEATURE_DISABLED = "feature_disabled"
    STALE_PLAN = "stale_plan"
    VERIFY_FAILED = "verify_failed"
    FORBIDDEN = "forbidden"


REFUSAL_KINDS = frozenset(
    {ErrorKind.CONFLICT, ErrorKind.OWNERSHIP, ErrorKind.FEATURE_DISABLED, ErrorKind.UNKNOWN_TENANT, ErrorKind.FORBIDDEN}
)
"""Kinds that refuse a write (the scope is left as it was, the attempt audited), as opposed to
failures of the store or the environment."""


class SmtpIacError(Exception):
    """Base of every error the user is meant to see. ``exit_code`` is what the CLI exits with."""

    exit_code = 1
    kind: ErrorKind = ErrorKind.ERROR

    def __init__(self, message: str, *, address: Address | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.address = address
        self.hint = hint

    def __str__(self) -> str:
        prefix = f"{self.address}: " if self.address is not None else ""
        tail = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{prefix}{self.message}{tail}"


class UsageError(SmtpIacError):
    """Wrong arguments, an unreadable file named on the command line, a missing --yes."""

    kind = ErrorKind.USAGE


class StackInvalid(SmtpIacError):
    """A stack file failed validation; ``diagnostics`` holds every located problem."""

    kind = ErrorKind.INVALID_STACK

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str | None = None):
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(message or f"{len(errors)} error(s) in stack file")
        self.diagnostics = list(diagnostics)


class TenantsInvalid(StackInvalid):
    """A tenants document (``smtp-iac tenants load FILE``) has problems; ``diagnostics`` locates each."""

    kind = ErrorKind.INVALID_TENANTS

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str | None = None):
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(diagnostics, message or f"{len(errors)} error(s) in tenants file")


class SecretUnavailable(SmtpIacError):
    """A password reference ({env}, {file}, {pulumi_config}) cannot be resolved."""

    kind = ErrorKind.SECRET_UNAVAILABLE


class FileRefused(SmtpIacError):
    """A file a stack file names ({file: ...}, verify.ca_file) that it may not make smtp-iac
    read: outside its repository and SMTP_IAC_SECRET_DIRS, the store's own files, not a
    regular file, too large, or unreadable (``filerefs``)."""

    kind = ErrorKind.FILE_REFUSED


class StoreError(SmtpIacError):
    """The store cannot be opened, migrated or read."""

    kind = ErrorKind.STORE


class StoreUnavailable(StoreError):
    """The store's database did not answer in time: its connection was lost, it was restarting,
    a lock or a statement outlived its limit, or no connection was free (``fault`` says which:
    ``connection``, ``pool``, ``lock``, ``statement``, ``busy``). Passing: the same call may
    succeed ``retry_after`` seconds later. ``write`` says what became of a write it ended:
    ``not_applied`` (nothing was written: retry), or ``unknown`` (the connection was lost while
    committing and the database could not be asked afterwards: read the record, its version
    tells; a retry with the same expected version is refused, never applied twice); None for a
    read."""

    def __init__(
        self,
        message: str,
        *,
        fault: str,
        retry_after: int = 2,
        write: str | None = None,
        address: Address | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, address=address, hint=hint)
        self.fault = fault
        self.retry_after = retry_after
        self.write = write


class StoreUrlError(StoreError):
    kind = ErrorKind.STORE_URL


class StoreKeyError(StoreError):
    """No key, a malformed key, or a stored password that no configured key decrypts."""

    kind = ErrorKind.STORE_KEY


class ConflictError(StoreError):
    """Compare-and-swap lost: the record's version moved since it was read."""

    kind = ErrorKind.CONFLICT

    def __init__(
        self,
        address: Address,
        expected: int | None,
        actual: int | None,
        last_writer: str | None = None,
        last_written: str | None = None,
    ):
        who = f" by {last_writer}" if last_writer else ""
        when = f" at {last_written}" if last_written else ""
        super().__init__(
            f"version conflict: expected version {_v(expected)}, store has {_v(actual)} (last written{who}{when})",
            address=address,
            hint="someone else changed this scope; re-run plan (or `pulumi refresh`) and retry",
        )
        self.expected = expected
        self.actual = actual
        self.last_writer = last_writer
        self.last_written = last_written


class OwnershipError(StoreError):
    """The scope is managed by another stack and adoption was not asked for."""

    kind = ErrorKind.OWNERSHIP

    def __init__(self, address: Address, owner: str, stack: str):
        super().__init__(
            f"managed by stack '{owner}', not '{stack}'",
            address=address,
            hint="to take it over, re-run with --adopt (Pulumi: config smtp-iac:adopt true)",
        )
        self.owner = owner
        self.stack = stack


class UnknownTenant(SmtpIacError):
    """A partner or organization the store does not know, or an org under the wrong partner."""

    kind = ErrorKind.UNKNOWN_TENANT


class FeatureDisabled(SmtpIacError):
    """Organization-level SMTP is switched off for the organization. The message says what,
    once; the hint is the platform's advice and the command that does it."""

    kind = ErrorKind.FEATURE_DISABLED

    ADVICE = "contact your partner admin or system administrator to enable it for your organization"

    def __init__(self, address: Address):
        super().__init__(
            "organization-level SMTP is disabled",
            address=address,
            hint=f"{self.ADVICE} (smtp-iac tenants enable-smtp {address})",
        )


class Forbidden(SmtpIacError):
    """The settings service refused: the token's role may not do this (its reason, and the
    platform's advice where there is one)."""

    kind = ErrorKind.FORBIDDEN


class StalePlan(SmtpIacError):
    """A plan no longer matches the live store or the secrets it was made with: a saved plan
    (``saved``), or the plan a stack-file apply made a moment before, when another writer got
    in between."""

    kind = ErrorKind.STALE_PLAN

    def __init__(self, stale: Sequence[tuple[Address, str]], *, saved: bool = True):
        lines = "; ".join(f"{a}: {why}" for a, why in stale)
        if saved:
            message, hint = f"saved plan is stale, nothing applied: {lines}", "run plan again and review the new plan"
        else:
            message = f"the store changed while apply was planning, nothing applied: {lines}"
            hint = "another writer changed these scopes a moment ago; run apply again to see the new plan"
        super().__init__(message, hint=hint)
        self.stale = list(stale)
        self.saved = saved


class VerifyFailed(SmtpIacError):
    """The pre-write SMTP check failed; ``result`` is the classified verify result."""

    kind = ErrorKind.VERIFY_FAILED

    def __init__(self, address: Address, result: VerifyResult):
        super().__init__(f"verify failed ({result.failure}): {result.detail}", address=address, hint=result.advice)
        self.result = result


def _v(v: int | None) -> str:
    return "none (absent)" if v is None else str(v)
