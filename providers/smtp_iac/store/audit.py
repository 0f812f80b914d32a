"""The audit log: who did what to which scope, when, and how it ended. Every write and every
refused or failed attempt gets an entry; passwords appear only as keyed fingerprints.

Actions: ``create`` ``update`` ``delete`` (records), ``tenants-load``, ``enable-smtp``,
``disable-smtp`` (tenants), ``rotate-keys``, ``token-create``, ``token-revoke`` (service tokens),
``compare`` (passwords compared with a scope's beyond the service's budget: refused).
Outcomes: ``ok``, ``conflict`` (compare-and-swap lost), ``refused`` (ownership, feature
switched off, unknown tenant, a service token's role), ``verify_failed`` (the check before a
write failed, nothing was written). Every writer (CLI apply, the Pulumi
provider, the settings service) goes through ``write.ScopeWriter``, so they all speak this
vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..addresses import Address
from .db import Cursor, Part, now_text, parse_time, reading


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RELEASE = "release"
    TENANTS_LOAD = "tenants-load"
    ENABLE_SMTP = "enable-smtp"
    DISABLE_SMTP = "disable-smtp"
    ROTATE_KEYS = "rotate-keys"
    TOKEN_CREATE = "token-create"
    TOKEN_REVOKE = "token-revoke"
    COMPARE = "compare"  # a password compared with a scope's (the service's comparison budget)


class AuditOutcome(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"
    REFUSED = "refused"
    VERIFY_FAILED = "verify_failed"


@dataclass(frozen=True)
class AuditEntry:
    """One entry as read back. ``action`` and ``outcome`` hold the values of ``AuditAction``
    and ``AuditOutcome`` (as text: a log written by smtp-iac 0.1 may hold others)."""

    id: int
    at: datetime  # UTC
    actor: str | None
    stack: str | None
    address: str | None
    action: str
    outcome: str
    old_fingerprint: str | None
    new_fingerprint: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d


_AUDIT_SELECT = (
    "SELECT id, at, actor, stack, address, action, outcome, old_fingerprint, new_fingerprint, detail FROM audit"
)


class AuditTrail(Part):
    """The audit log: every write and refused or failed attempt, written in the transaction it
    belongs to (``entry``), and read back."""

    def entry(
        self,
        cur: Cursor,
        *,
        actor: str | None,
        stack: str | None,
        address: Address | None,
        action: AuditAction,
        outcome: AuditOutcome,
        old_fp: str | None = None,
        new_fp: str | None = None,
        detail: str,
        at: str | None = None,
    ) -> None:
        self.db.x(
            cur,
            "INSERT INTO audit (at, actor, stack, address, action, outcome, old_fingerprint, "
            "new_fingerprint, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at or now_text(),
                actor,
                stack,
                str(address) if address is not None else None,
                str(action),
                str(outcome),
                old_fp,
                new_fp,
                detail,
            ),
        )

    @reading
    def audit_log(
        self, *, address: Address | None = None, partner: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries, oldest first; with ``limit``, the newest ``limit`` of them. ``address``:
        that scope's only; ``partner``: the partner's and its organizations'."""
        sql, params = _AUDIT_SELECT, list[object]()
        if address is not None:
            sql += " WHERE address = ?"
            params.append(str(address))
        elif partner is not None:
            # ids are [a-z0-9-]: no LIKE wildcard can be in one
            sql += " WHERE address = ? OR address LIKE ?"
            params += [f"partners/{partner}", f"partners/{partner}/organizations/%"]
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self.db.read() as cur:
            rows = self.db.x(cur, sql, params).fetchall()
        return [AuditEntry(int(r[0]), _at(r[1]), *r[2:]) for r in reversed(rows)]

    @reading
    def audit_logs(self, addresses: Sequence[Address]) -> dict[Address, list[AuditEntry]]:
        """The audit entries of each of ``addresses``, oldest first, in one query per
        ``AUDIT_BATCH`` addresses (drift's who-and-when of many deleted records)."""
        wanted = {str(a): a for a in addresses}
        out: dict[Address, list[AuditEntry]] = {a: [] for a in wanted.values()}
        names = sorted(wanted)
        for i in range(0, len(names), AUDIT_BATCH):
            chunk = names[i : i + AUDIT_BATCH]
            sql = _AUDIT_SELECT + " WHERE address IN (" + ", ".join("?" * len(chunk)) + ") ORDER BY id"
            with self.db.read() as cur:
                rows = self.db.x(cur, sql, chunk).fetchall()
            for r in rows:
                out[wanted[r[4]]].append(AuditEntry(int(r[0]), _at(r[1]), *r[2:]))
        return out


def _at(text: str) -> datetime:
    at = parse_time(text)
    assert at is not None  # the column is NOT NULL
    return at


AUDIT_BATCH = 500
"""Addresses per query of ``audit_logs`` (a bound on the IN list)."""
