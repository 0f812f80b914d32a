"""Wording shared by the text and markdown reporters."""

from __future__ import annotations

from typing import Any

from ..planning.blast import ImpactKind, PartnerImpact
from ..planning.diff import Action, DesiredKind, FieldChange, ScopePlan

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.NOOP: " "}


def value(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def change_text(c: FieldChange, *, created: bool) -> str:
    if c.field == "password":
        return f"password: {c.new}"
    if created:
        return f"{c.field}={value(c.new)}"
    return f"{c.field}: {value(c.old)} → {value(c.new)}"


def scope_summary(s: ScopePlan) -> str:
    if s.refusal:
        return f"REFUSED ({s.refusal.kind}): {s.refusal.message}" + (f"; {s.refusal.hint}" if s.refusal.hint else "")
    if s.action is Action.DELETE:
        owner = f" (owned by '{s.live_owner}')" if s.live_owner else ""
        why = f"{s.notes[0]}: " if s.desired.kind is DesiredKind.REMOVED and s.notes else ""
        return f"{why}remove override{owner}; inherit from the tier above"
    parts = [change_text(c, created=s.action is Action.CREATE) for c in s.changes]
    return "; ".join(parts)


def transitions_text(p: PartnerImpact) -> str:
    parts = []
    for (f, t, kind), n in sorted(p.transitions.items(), key=lambda kv: -kv[1]):
        parts.append(f"{n:,} {f}→{t}" + (" (new settings)" if kind is ImpactKind.SETTINGS else ""))
    return ", ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
