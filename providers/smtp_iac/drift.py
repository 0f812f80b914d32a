"""Drift: live vs desired, read as "what changed out of band". Pure: it reads a ``plan.Diff``
(the same comparison plan makes) and names each difference the way a nightly job reports it."""

from __future__ import annotations

from dataclasses import dataclass

from .plan import CREATE, DELETE, INHERIT, NOOP, UPDATE, Diff, FieldChange

MISSING = "missing"  # a managed record was deleted
CHANGED = "changed"  # fields or password differ
APPEARED = "override_appeared"  # an override appeared where the stack says inherit
OWNER = "owner_changed"  # another stack (or nobody) now owns the record
IGNORED = "override_ignored"  # the org's SMTP switch was turned off: its override no longer applies


@dataclass(frozen=True)
class DriftItem:
    address: str
    kind: str
    message: str
    changes: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict:
        return {
            "address": self.address,
            "kind": self.kind,
            "message": self.message,
            "changes": [{"field": c.field, "live": c.old, "desired": c.new} for c in self.changes],
        }


def drift_items(diff: Diff, stack: str) -> list[DriftItem]:
    out: list[DriftItem] = []
    for s in diff.scopes:
        addr = str(s.address)
        if s.action == CREATE:
            if s.refusal is not None:  # e.g. the org's SMTP switch is off: it was never written, or cannot be again
                out.append(
                    DriftItem(
                        addr,
                        MISSING,
                        "managed override is missing from the store and cannot be "
                        f"written: {s.refusal.message}" + (f" ({s.refusal.hint})" if s.refusal.hint else ""),
                    )
                )
            else:
                out.append(DriftItem(addr, MISSING, "managed override is missing from the store (deleted out of band)"))
        elif s.action == UPDATE:
            fields = tuple(c for c in s.changes if c.field != "managed_by")
            # In a drift report the live value is "old" and the desired is "new".
            out.append(DriftItem(addr, CHANGED, "live settings differ: " + ", ".join(c.field for c in fields), fields))
        elif s.action == DELETE and s.desired.kind == INHERIT:
            out.append(
                DriftItem(
                    addr,
                    APPEARED,
                    "an override appeared where this stack manages inherit"
                    + (f" (managed by '{s.live_owner}')" if s.live_owner else ""),
                )
            )
        if s.action in (UPDATE, NOOP) and s.desired.kind != INHERIT and s.live_owner != stack:
            owner = f"stack '{s.live_owner}'" if s.live_owner else "nobody"
            out.append(DriftItem(addr, OWNER, f"the record is now owned by {owner}, not '{stack}'"))
        if any("switched off" in n for n in s.notes) and s.desired.kind != INHERIT:
            out.append(DriftItem(addr, IGNORED, "organization SMTP is switched off: this override no longer applies"))
    return out
