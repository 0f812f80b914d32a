"""The one write path. Every writer of a scope (``smtp-iac apply``, the Pulumi provider's
create/update/delete, the settings service) writes through ``ScopeWriter``:

    refuse early  ->  verify  ->  compare-and-swap write  ->  audit

- Refuse early: a write planned against a version that is no longer the live one, or aimed
  at a scope another stack manages (unless adopting), is refused before any SMTP connection
  is opened. The store refuses both again, atomically, in the write itself. (``apply`` of a
  plan refuses early for the whole plan instead: a stale plan applies nothing.)
- Verify: settings to be written pass the classified SMTP check first (``verify``); a
  failure leaves the scope as it was. A store that checks writes itself (the settings
  service: ``RecordStore.verifies_writes``) runs the check on its side, with the write's
  ``check_options``, and audits a failure there; the writer then runs none.
- Write: ``RecordStore.put`` / ``RecordStore.delete``, compare-and-swap on the expected version, with its
  audit entry in the same transaction.
- Audit: every refused or failed attempt is audited too, with the same actions (``create``,
  ``update``, ``delete``), outcomes (``conflict``, ``refused``, ``verify_failed``) and actor
  (the writer's, named once) whoever writes.

The outcome of each write is a ``ScopeResult``; the error behind a refusal or failure rides
along, so a caller that must raise (Pulumi) raises exactly what the store or the check said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
from typing import Any

from ..actor import actor_of
from ..addresses import Address
from ..errors import REFUSAL_KINDS, ConflictError, SmtpIacError, VerifyFailed
from ..guard import write_refusal
from ..models import LiveRecord, ResolvedSettings, VerifyOptions
from ..store import AuditAction, AuditOutcome, RecordStore
from ..verify import VerifyResult
from .diff import Action

Verifier = Callable[[Address, ResolvedSettings], VerifyResult]
"""Runs the check of settings about to be written at an address (``verify.run_check``)."""


class Outcome(StrEnum):
    APPLIED = "applied"
    VERIFY_FAILED = "verify_failed"
    FAILED = "failed"  # the store failed (down, key missing): not a refusal
    REFUSED = "refused"  # conflict, ownership, feature switched off, unknown tenant


@dataclass(frozen=True)
class ScopeWrite:
    """One scope to write: ``settings`` to create or update it, or None to remove its override.
    ``expected_version`` is the live version the write was decided against (None: absent)."""

    address: Address
    action: Action
    settings: ResolvedSettings | None
    expected_version: int | None
    stack: str | None  # None: out of band (the service's console and API clients that are no stack)
    adopt: bool = False
    check_options: VerifyOptions | None = None  # the check a store that verifies writes runs

    @classmethod
    def put(
        cls,
        address: Address,
        settings: ResolvedSettings,
        expected_version: int | None,
        stack: str | None,
        adopt: bool,
        check_options: VerifyOptions | None = None,
    ) -> ScopeWrite:
        action = Action.CREATE if expected_version is None else Action.UPDATE
        return cls(address, action, settings, expected_version, stack, adopt, check_options)

    @classmethod
    def remove(
        cls, address: Address, expected_version: int | None, stack: str | None, adopt: bool = False
    ) -> ScopeWrite:
        return cls(address, Action.DELETE, None, expected_version, stack, adopt)


@dataclass(frozen=True)
class ScopeResult:
    address: Address
    action: Action
    outcome: Outcome
    _: KW_ONLY
    message: str = ""
    hint: str | None = None
    version: int | None = None  # the record's version after the write (None: deleted or not written)
    verify: VerifyResult | None = None
    error: SmtpIacError | None = field(default=None, compare=False, repr=False)
    record: LiveRecord | None = None  # the record as written

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.APPLIED

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "action": self.action,
            "outcome": self.outcome,
            "message": self.message,
            "hint": self.hint,
            "version": self.version,
            "verify": self.verify.to_dict() if self.verify else None,
        }


class ScopeWriter:
    """Writes scopes to ``store`` as ``actor`` (default: ``actor.current_actor()``)."""

    def __init__(self, store: RecordStore, *, actor: str | None = None):
        self.store = store
        self.actor = actor_of(actor)

    def write(self, w: ScopeWrite, live: LiveRecord | None, verify: Verifier | None) -> ScopeResult:
        """The whole path for one scope. ``live``: the record as the caller read it just now."""
        refused = self.refuse_early(w, live)
        if refused is not None:
            return refused
        checks_here = w.settings is not None and verify is not None and not self.store.verifies_writes
        check = verify(w.address, w.settings) if checks_here and verify is not None and w.settings else None
        return self.commit(w, check)

    def refuse_early(self, w: ScopeWrite, live: LiveRecord | None) -> ScopeResult | None:
        """A refusal (audited) when the live record says the write cannot succeed; else None."""
        err = write_refusal(
            w.address,
            expected=w.expected_version,
            actual=live.version if live else None,
            owner=live.managed_by if live else None,
            stack=w.stack,
            adopt=w.adopt,
            last_writer=live.updated_by if live else None,
            last_written=live.updated_at.isoformat() if live and live.updated_at else None,
        )
        if err is None:
            return None
        outcome = AuditOutcome.CONFLICT if isinstance(err, ConflictError) else AuditOutcome.REFUSED
        self.audit_refused(w, outcome, f"{err.kind}: {err.message}")
        return self._not_written(w, Outcome.REFUSED, err)

    def commit(self, w: ScopeWrite, check: VerifyResult | None = None) -> ScopeResult:
        """Write ``w`` unless its ``check`` failed; every outcome audited."""
        if check is not None and not check.ok:
            self.audit_refused(w, AuditOutcome.VERIFY_FAILED, f"{check.failure}: {check.detail}")
            return _verify_failed(w, VerifyFailed(w.address, check))
        record = None
        try:
            if w.settings is None:
                self.store.delete(
                    w.address, expected_version=w.expected_version, stack=w.stack, actor=self.actor, adopt=w.adopt
                )
            else:
                written = self.store.put(
                    w.address,
                    w.settings,
                    expected_version=w.expected_version,
                    stack=w.stack,
                    actor=self.actor,
                    adopt=w.adopt,
                    verify=w.check_options,
                )
                record, check = written.record, check or written.check
        except VerifyFailed as err:  # the store's own check (``verifies_writes``), audited there
            return _verify_failed(w, err)
        except SmtpIacError as err:  # conflict, ownership, feature off, unknown tenant, store down
            outcome = Outcome.REFUSED if err.kind in REFUSAL_KINDS else Outcome.FAILED
            return self._not_written(w, outcome, err, check)
        version = record.version if record is not None else None
        return ScopeResult(w.address, w.action, Outcome.APPLIED, version=version, verify=check, record=record)

    def _not_written(
        self, w: ScopeWrite, outcome: Outcome, err: SmtpIacError, check: VerifyResult | None = None
    ) -> ScopeResult:
        return ScopeResult(
            w.address,
            w.action,
            outcome,
            message=err.message,
            hint=err.hint,
            version=w.expected_version,
            verify=check,
            error=err,
        )

    def audit_refused(self, w: ScopeWrite, outcome: AuditOutcome, detail: str) -> None:
        """Audit an attempt that was not written (also used by ``apply`` for a stale plan)."""
        password = w.settings.password.get_secret_value() if w.settings is not None else None
        new_fp = self.store.fingerprint(w.address, password) if password is not None else None
        self.store.record_attempt(
            w.address,
            stack=w.stack,
            action=AuditAction(w.action),
            outcome=outcome,
            detail=detail,
            actor=self.actor,
            new_fingerprint=new_fp,
        )


def _verify_failed(w: ScopeWrite, err: VerifyFailed) -> ScopeResult:
    check = err.result
    message = f"verify failed ({check.failure}) at {check.stage}: {check.detail}"
    return ScopeResult(
        w.address,
        w.action,
        Outcome.VERIFY_FAILED,
        message=message,
        hint=check.advice,
        version=w.expected_version,
        verify=check,
        error=err,
    )
