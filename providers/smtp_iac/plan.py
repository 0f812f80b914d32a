"""Desired stack vs live store, as data: what each managed scope needs (create, update,
delete, no-op), why a scope cannot be written (unknown tenant, feature switched off,
another stack's scope), and which live records the stack leaves unmanaged.

Pure: it takes the desired scopes (passwords already reduced to the store's keyed
fingerprint) and a snapshot of the store, and touches neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .addresses import Address
from .errors import FeatureDisabled, SmtpIacError
from .models import SETTINGS_FIELDS, LiveRecord

CREATE, UPDATE, DELETE, NOOP = "create", "update", "delete", "no-op"
SETTINGS, INHERIT = "settings", "inherit"
CHANGED = "(changed)"
SET = "(set)"


@dataclass(frozen=True)
class DesiredScope:
    """One managed scope of a stack. For settings: every public field, the password
    reference (re-resolved by apply) and the fingerprint of the secret it resolved to."""

    address: Address
    kind: str  # SETTINGS | INHERIT
    fields: Mapping[str, Any] | None = None
    password_ref: Mapping[str, str] | None = None  # e.g. {"env": "SENDGRID_API_KEY"}
    fingerprint: str | None = None

    def content(self) -> tuple | None:
        """What makes two records equal for mail delivery: every field and the password."""
        if self.kind != SETTINGS:
            return None
        return tuple(self.fields.get(f) for f in SETTINGS_FIELDS) + (self.fingerprint,)


def record_content(rec: LiveRecord) -> tuple:
    return tuple(getattr(rec, f) for f in SETTINGS_FIELDS) + (rec.password_fingerprint,)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Refusal:
    """Why a scope cannot be written. ``kind`` is the error kind (``unknown_tenant``,
    ``feature_disabled``, ``ownership``)."""

    kind: str
    message: str
    hint: str | None = None

    @classmethod
    def of(cls, err: SmtpIacError) -> Refusal:
        return cls(err.kind, err.message, err.hint)


@dataclass(frozen=True)
class ScopePlan:
    desired: DesiredScope
    action: str
    live_version: int | None
    live_owner: str | None
    changes: tuple[FieldChange, ...] = ()
    refusal: Refusal | None = None
    adopt: bool = False  # the write takes the scope over from another stack (asked with --adopt)
    notes: tuple[str, ...] = ()

    @property
    def address(self) -> Address:
        return self.desired.address

    @property
    def writes(self) -> bool:
        return self.action in (CREATE, UPDATE, DELETE)


@dataclass
class Diff:
    scopes: list[ScopePlan]
    unmanaged: list[Address] = field(default_factory=list)  # live overrides the stack does not mention

    def counts(self) -> dict[str, int]:
        c = {CREATE: 0, UPDATE: 0, DELETE: 0, NOOP: 0, "refused": 0}
        for s in self.scopes:
            c[s.action] += 1
            if s.refusal:
                c["refused"] += 1
        return c

    @property
    def changes(self) -> list[ScopePlan]:
        return [s for s in self.scopes if s.writes]

    @property
    def refused(self) -> list[ScopePlan]:
        return [s for s in self.scopes if s.refusal]


def field_changes(desired: DesiredScope, live: LiveRecord | None) -> tuple[FieldChange, ...]:
    out = []
    for f in SETTINGS_FIELDS:
        old = getattr(live, f) if live is not None else None
        new = desired.fields.get(f)
        if live is None:
            if new is not None:
                out.append(FieldChange(f, None, new))
        elif old != new:
            out.append(FieldChange(f, old, new))
    if live is None:
        out.append(FieldChange("password", None, SET))
    elif live.password_fingerprint != desired.fingerprint:
        out.append(FieldChange("password", CHANGED, CHANGED))
    return tuple(out)


def diff(
    stack: str, desired: Iterable[DesiredScope], records: Mapping[Address, LiveRecord], tenants, *, adopt: bool = False
) -> Diff:
    """``tenants`` answers ``known(address)``, ``check(address)`` (raises UnknownTenant) and
    ``smtp_enabled(address)`` (``store.snapshot.Tenants``)."""
    scopes: list[ScopePlan] = []
    managed: set[Address] = set()
    for want in desired:
        addr = want.address
        managed.add(addr)
        live = records.get(addr)
        version = live.version if live else None
        owner = live.managed_by if live else None
        notes: list[str] = []
        if want.kind == SETTINGS:
            changes = field_changes(want, live)
            action = CREATE if live is None else (UPDATE if changes else NOOP)
        else:
            changes = ()
            action = DELETE if live is not None else NOOP
        foreign = owner is not None and owner != stack
        if foreign and action == NOOP:
            notes.append(f"managed by stack '{owner}' (no change needed)")
        taking_over = foreign and action != NOOP
        if taking_over and adopt:
            changes = changes + (FieldChange("managed_by", owner, stack),)
        refusal = _refusal(addr, want, action, owner, stack, tenants, adopt)
        if addr.org and live is not None and not tenants.smtp_enabled(addr) and tenants.known(addr):
            notes.append("organization SMTP is switched off: this override is ignored")
        scopes.append(
            ScopePlan(want, action, version, owner, changes, refusal, adopt=taking_over and adopt, notes=tuple(notes))
        )
    unmanaged = sorted(a for a in records if a not in managed)
    return Diff(scopes, unmanaged)


def _refusal(
    addr: Address, want: DesiredScope, action: str, owner: str | None, stack: str, tenants, adopt: bool
) -> Refusal | None:
    if not tenants.known(addr):
        try:
            tenants.check(addr)
        except SmtpIacError as err:
            return Refusal.of(err)
    if action == NOOP:
        return None
    if owner is not None and owner != stack and not adopt:
        return Refusal(
            "ownership", f"managed by stack '{owner}', not '{stack}'", "to take it over, re-run with --adopt"
        )
    if want.kind == SETTINGS and addr.org and not tenants.smtp_enabled(addr):
        return Refusal.of(FeatureDisabled(str(addr)))
    return None
