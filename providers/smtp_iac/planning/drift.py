"""Drift: live vs desired, read as "what changed out of band, by whom, when". Pure: it reads a
``plan.Diff`` (the same comparison plan makes), the live records and the audit log it is
given, and names each difference the way a nightly job reports it.

Who and when: a live record carries its last writer (``updated_by``, ``updated_at``); a record
that is gone, and an organization's SMTP switch, only the audit log remembers (the newest
``delete`` or ``disable-smtp`` that succeeded). Passwords appear as keyed fingerprints only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..actor import actor_shown
from ..addresses import Address
from ..models import LiveRecord
from .diff import CHANGED, Action, DesiredKind, Diff, FieldChange, ScopePlan

if TYPE_CHECKING:
    from ..store.audit import AuditEntry

AuditFor = Callable[[Address], Sequence["AuditEntry"]]
"""The audit entries of one address, oldest first (``Store.audit_log(address=...)``)."""


class DriftKind(StrEnum):
    MISSING = "missing"  # a managed record was deleted
    CHANGED = "changed"  # fields or password differ
    APPEARED = "override_appeared"  # an override appeared where the stack says inherit
    OWNER = "owner_changed"  # another stack (or nobody) now owns the record
    IGNORED = "override_ignored"  # the org's SMTP switch was turned off: its override no longer applies
    REMOVED = "removed_from_stack"  # the stack still manages a record its file no longer mentions


class Event(StrEnum):
    """What the who and when of a drift item are the who and when of."""

    WRITTEN = "written"  # the live record's last write
    DELETED = "deleted"  # the audit log's newest successful delete
    SWITCHED_OFF = "smtp_switched_off"  # the audit log's newest disable-smtp that turned the switch off
    ATTEMPTED = "attempted"  # no write succeeded since: the newest attempt (e.g. verify_failed)


_SAID = {
    Event.WRITTEN: "last written",
    Event.DELETED: "deleted",
    Event.SWITCHED_OFF: "SMTP switched off",
    Event.ATTEMPTED: "last attempt",
}


@dataclass(frozen=True)
class Provenance:
    event: Event
    by: str | None
    at: datetime | None
    detail: str = ""  # for ATTEMPTED: the action and its outcome

    def __post_init__(self) -> None:
        # The store is read as found: an actor written by another tool (or by hand) may hold
        # terminal escapes, line breaks or bidi controls, or be huge. Shown escaped, capped.
        if self.by is not None:
            object.__setattr__(self, "by", actor_shown(self.by))

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": str(self.event),
            "by": self.by,
            "at": self.at.isoformat() if self.at else None,
            **({"detail": self.detail} if self.detail else {}),
        }

    def text(self) -> str:
        """E.g. ``deleted by console at 2025-06-01 12:00:00 UTC``."""
        what = _SAID[self.event] + (f" ({self.detail})" if self.detail else "")
        return f"{what} by {self.by or 'an unknown actor'}" + (f" at {when(self.at)}" if self.at else "")


def when(at: datetime) -> str:
    """A timestamp as people and CI logs read it: UTC, to the second."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class DriftItem:
    address: Address
    kind: DriftKind
    message: str
    changes: tuple[FieldChange, ...] = ()
    who: Provenance | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "kind": self.kind,
            "message": self.message,
            # a password: the two keyed fingerprints (which one differs, never the secret)
            "changes": [{"field": c.field, "live": c.old, "desired": c.new} for c in self.changes],
            "who": self.who.to_dict() if self.who else None,
        }


def drift_items(
    diff: Diff,
    stack: str,
    records: Mapping[Address, LiveRecord] | None = None,
    audit_for: AuditFor | None = None,
) -> list[DriftItem]:
    """Each difference of ``diff``; with ``records`` (the live ones) and ``audit_for``, each
    names who made it and when, and a changed password shows its two fingerprints."""
    records = records or {}
    out: list[DriftItem] = []
    for s in diff.listed:  # a plainly unchanged scope (``diff.Unchanged``) has drifted in no way
        addr = s.address
        live = records.get(addr)
        if live is not None and live.version != s.live_version:
            live = None  # written again since the plan read it: not the record the diff compared
        written = _written(live)
        settings = s.desired.kind is DesiredKind.SETTINGS
        if s.action is Action.CREATE:
            why, who = _missing(audit_for(addr) if audit_for else None)
            if s.refusal is not None:  # e.g. the org's SMTP switch is off: it was never written, or cannot be again
                hint = f" ({s.refusal.hint})" if s.refusal.hint else ""
                why = f"managed override is missing from the store and cannot be written: {s.refusal.message}{hint}"
            out.append(DriftItem(addr, DriftKind.MISSING, why, who=who))
        elif s.action is Action.UPDATE:
            fields = tuple(_shown(c, s, live) for c in s.changes if c.field != "managed_by")
            # In a drift report the live value is "old" and the desired is "new".
            what = "live settings differ: " + ", ".join(c.field for c in fields)
            out.append(DriftItem(addr, DriftKind.CHANGED, what, fields, who=written))
        elif s.action is Action.DELETE and s.desired.kind is DesiredKind.INHERIT:
            owner = f" (managed by '{s.live_owner}')" if s.live_owner else ""
            why = f"an override appeared where this stack manages inherit{owner}"
            out.append(DriftItem(addr, DriftKind.APPEARED, why, who=written))
        elif s.action is Action.DELETE and not settings:
            why = "the stack file no longer mentions this scope, which the stack still manages: apply deletes it"
            out.append(DriftItem(addr, DriftKind.REMOVED, why, who=written))
        if s.action in (Action.UPDATE, Action.NOOP) and settings and s.live_owner != stack:
            owner = f"stack '{s.live_owner}'" if s.live_owner else "nobody"
            why = f"the record is now owned by {owner}, not '{stack}'"
            out.append(DriftItem(addr, DriftKind.OWNER, why, who=written))
        if s.override_ignored and settings:
            why = "organization SMTP is switched off: this override no longer applies"
            off = _switched_off(audit_for, addr) if audit_for else None
            out.append(DriftItem(addr, DriftKind.IGNORED, why, who=off))
    return out


def _written(live: LiveRecord | None) -> Provenance | None:
    return Provenance(Event.WRITTEN, live.updated_by, live.updated_at) if live is not None else None


def _shown(c: FieldChange, s: ScopePlan, live: LiveRecord | None) -> FieldChange:
    """A password change as the two keyed fingerprints, when both are known."""
    if c.field == "password" and c.old == CHANGED and live is not None and s.desired.fingerprint:
        return FieldChange("password", live.password_fingerprint, s.desired.fingerprint)
    return c


def _missing(entries: Sequence[AuditEntry] | None) -> tuple[str, Provenance | None]:
    """Why a managed record is not in the store, and who is behind it, from its audit entries."""
    gone = "managed override is missing from the store"
    if entries is None:
        return f"{gone} (deleted out of band)", None
    writes = [e for e in entries if e.action in ("create", "update", "delete")]
    deleted = next((e for e in reversed(writes) if e.action == "delete" and e.outcome == "ok"), None)
    if deleted is not None:
        return f"{gone} (deleted)", _from_audit(Event.DELETED, deleted)
    if not writes:
        return f"{gone} (never written: the audit log has no write of it)", None
    last = writes[-1]
    if last.outcome == "ok":
        return f"{gone} (removed outside smtp-iac: the audit log has no deletion)", _from_audit(Event.WRITTEN, last)
    why = f"{gone} (not written: the last attempt did not succeed)"
    return why, _from_audit(Event.ATTEMPTED, last, f"{last.action}: {last.outcome}")


def _switched_off(audit_for: AuditFor, address: Address) -> Provenance | None:
    for e in reversed(audit_for(address)):
        if e.action == "disable-smtp" and e.outcome == "ok" and not e.detail.startswith("unchanged"):
            return _from_audit(Event.SWITCHED_OFF, e)
    return None


def _from_audit(event: Event, e: AuditEntry, detail: str = "") -> Provenance:
    return Provenance(event, e.actor, e.at, detail)
