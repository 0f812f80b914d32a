"""Drift: live vs desired, read as "what changed out of band". Pure: it reads a ``plan.Diff``
(the same comparison plan makes) and names each difference the way a nightly job reports it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .addresses import Address
from .diff import Action, DesiredKind, Diff, FieldChange


class DriftKind(StrEnum):
    MISSING = "missing"  # a managed record was deleted
    CHANGED = "changed"  # fields or password differ
    APPEARED = "override_appeared"  # an override appeared where the stack says inherit
    OWNER = "owner_changed"  # another stack (or nobody) now owns the record
    IGNORED = "override_ignored"  # the org's SMTP switch was turned off: its override no longer applies


@dataclass(frozen=True)
class DriftItem:
    address: Address
    kind: DriftKind
    message: str
    changes: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "kind": self.kind,
            "message": self.message,
            "changes": [{"field": c.field, "live": c.old, "desired": c.new} for c in self.changes],
        }


def drift_items(diff: Diff, stack: str) -> list[DriftItem]:
    out: list[DriftItem] = []
    for s in diff.scopes:
        addr = s.address
        settings = s.desired.kind is DesiredKind.SETTINGS
        if s.action is Action.CREATE:
            if s.refusal is not None:  # e.g. the org's SMTP switch is off: it was never written, or cannot be again
                hint = f" ({s.refusal.hint})" if s.refusal.hint else ""
                why = f"managed override is missing from the store and cannot be written: {s.refusal.message}{hint}"
                out.append(DriftItem(addr, DriftKind.MISSING, why))
            else:
                why = "managed override is missing from the store (deleted out of band)"
                out.append(DriftItem(addr, DriftKind.MISSING, why))
        elif s.action is Action.UPDATE:
            fields = tuple(c for c in s.changes if c.field != "managed_by")
            # In a drift report the live value is "old" and the desired is "new".
            what = "live settings differ: " + ", ".join(c.field for c in fields)
            out.append(DriftItem(addr, DriftKind.CHANGED, what, fields))
        elif s.action is Action.DELETE and not settings:
            owner = f" (managed by '{s.live_owner}')" if s.live_owner else ""
            out.append(
                DriftItem(addr, DriftKind.APPEARED, f"an override appeared where this stack manages inherit{owner}")
            )
        if s.action in (Action.UPDATE, Action.NOOP) and settings and s.live_owner != stack:
            owner = f"stack '{s.live_owner}'" if s.live_owner else "nobody"
            out.append(DriftItem(addr, DriftKind.OWNER, f"the record is now owned by {owner}, not '{stack}'"))
        if s.override_ignored and settings:
            why = "organization SMTP is switched off: this override no longer applies"
            out.append(DriftItem(addr, DriftKind.IGNORED, why))
    return out
