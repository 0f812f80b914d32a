"""``release``: a stack stops managing a scope and the record stays, as ``terraform state rm``.

Rules:

- Only the stack that manages the record may release it (``managed_by`` is its name); a record
  of another stack, of no stack, or no record at all is refused and says which.
- The settings and the password are untouched; ``managed_by`` becomes empty, and the version
  moves on like any write (a saved plan made before, which might delete the scope as removed
  from the stack, is then stale and applies nothing).
- Audited as ``release``, with the record's fingerprint on both sides.
"""

from __future__ import annotations

from ..actor import actor_of
from ..addresses import Address
from ..errors import UsageError
from ..models import LiveRecord
from .audit import AuditAction, AuditOutcome, AuditTrail
from .db import Db, Part, now_text
from .records import Records


class Release(Part):
    def __init__(self, db: Db, audit: AuditTrail, records: Records):
        super().__init__(db)
        self.audit = audit
        self.records = records

    def release(self, address: Address, *, stack: str, actor: str | None = None) -> LiveRecord:
        """The record after ``stack`` let go of it. UsageError when it is not ``stack``'s."""
        actor = actor_of(actor)
        with self.db.write() as cur:
            live = self.records.live(cur, address)
            if live is None:
                raise UsageError(f"no record at {address}: nothing to release")
            if live.managed_by != stack:
                owner = f"stack '{live.managed_by}'" if live.managed_by else "no stack"
                raise UsageError(
                    f"{address} is managed by {owner}, not '{stack}': nothing released",
                    hint="release names the stack that manages the scope (see `smtp-iac store audit --address`)",
                )
            self.db.x(
                cur,
                "UPDATE records SET managed_by = NULL, updated_at = ?, updated_by = ?, version = version + 1 "
                "WHERE address = ? AND version = ?",
                (now_text(), actor, str(address), live.version),
            )
            self.audit.entry(
                cur,
                actor=actor,
                stack=stack,
                address=address,
                action=AuditAction.RELEASE,
                outcome=AuditOutcome.OK,
                old_fp=live.fingerprint,
                new_fp=live.fingerprint,
                detail=f"stack '{stack}' released version {live.version}; the record stays, managed by no stack",
            )
        record = self.records.get(address)
        assert record is not None
        return record
