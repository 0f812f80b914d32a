"""Desired stack vs live store, as data: what each managed scope needs (create, update,
delete, no-op), why a scope cannot be written (unknown tenant, feature switched off,
another stack's scope), and which live records the stack leaves unmanaged.

A live record that this stack manages (``managed_by``) but that its file no longer mentions
is planned as ``delete`` with the note ``removed from the stack`` (SPEC: as a resource removed
from a Terraform configuration); ``release`` is how a stack lets go without deleting. With
``targets``, only the scopes they match are planned, removed or listed as unmanaged.

Pure: it takes the desired scopes (passwords already reduced to the store's keyed
fingerprint), the live records and a view of the tenants, and touches none of them.
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple, Protocol

from ..addresses import Address
from ..errors import ErrorKind, FeatureDisabled, SmtpIacError
from ..models import INHERIT, SETTINGS_FIELDS, LiveRecord


class Action(StrEnum):
    """What a managed scope needs."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def writes(self) -> bool:
        return self is not Action.NOOP


class DesiredKind(StrEnum):
    """What a stack says of a managed scope: an override's settings, or ``inherit`` (none)."""

    SETTINGS = "settings"
    INHERIT = INHERIT
    REMOVED = "removed"  # no longer in the stack file, but still managed by the stack: removed


CHANGED = "(changed)"
SET = "(set)"
IGNORED_NOTE = "organization SMTP is switched off: this override is ignored"
REMOVED_NOTE = "removed from the stack"
DESTROY_NOTE = "destroy: the stack removes every override it manages"

Content = tuple[Hashable, ...]
"""What makes two records equal for mail delivery: every field and the password's fingerprint."""


class TenantsView(Protocol):
    """What the diff needs to know of the platform's tenants (``store.snapshot.Tenants``)."""

    def known(self, address: Address) -> bool: ...

    def check(self, address: Address) -> None:
        """Raise ``UnknownTenant`` (with a hint) unless ``address`` names a known scope."""

    def smtp_enabled(self, address: Address) -> bool: ...

    def write_refusal(self, address: Address) -> SmtpIacError | None:
        """Why the planner may not write ``address`` whatever the change (the settings
        service's token; a database store: never), or None."""


class DesiredScope(NamedTuple):
    """One managed scope of a stack. For settings: every public field, the password
    reference (re-resolved by apply) and the fingerprint of the secret it resolved to.

    ``DesiredScope`` and ``ScopePlan`` are named tuples, immutable as frozen dataclasses
    would be but built four times faster: a plan makes one of each per managed scope."""

    address: Address
    kind: DesiredKind
    fields: Mapping[str, Any] | None = None
    password_ref: Mapping[str, str] | None = None  # e.g. {"env": "SENDGRID_API_KEY"}
    fingerprint: str | None = None

    def content(self) -> Content | None:
        if self.kind is not DesiredKind.SETTINGS or self.fields is None:
            return None
        return (*(self.fields.get(f) for f in SETTINGS_FIELDS), self.fingerprint)


def record_content(rec: LiveRecord) -> Content:
    return (*(getattr(rec, f) for f in SETTINGS_FIELDS), rec.password_fingerprint)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Refusal:
    """Why a scope cannot be written (``unknown_tenant``, ``feature_disabled``, ``ownership``)."""

    kind: ErrorKind
    message: str
    hint: str | None = None

    @classmethod
    def of(cls, err: SmtpIacError) -> Refusal:
        return cls(err.kind, err.message, err.hint)


class ScopePlan(NamedTuple):
    desired: DesiredScope
    action: Action
    live_version: int | None
    live_owner: str | None
    changes: tuple[FieldChange, ...] = ()
    refusal: Refusal | None = None
    adopt: bool = False  # the write takes the scope over from another stack (asked with --adopt)
    notes: tuple[str, ...] = ()

    @property
    def override_ignored(self) -> bool:
        """A live organization override that its SMTP switch (off) makes ineffective."""
        return IGNORED_NOTE in self.notes

    @property
    def address(self) -> Address:
        return self.desired.address

    @property
    def writes(self) -> bool:
        return self.action.writes


_address_of = attrgetter("desired.address")

REFUSED = "refused"  # the key of refused scopes in ``Diff.counts``


@dataclass
class Diff:
    scopes: list[ScopePlan]
    unmanaged: list[Address] = field(default_factory=list)  # live overrides the stack does not mention

    def counts(self) -> dict[str, int]:
        """Scopes per action, refused ones apart: a refused scope is not a change."""
        c: dict[str, int] = {str(a): 0 for a in Action} | {REFUSED: 0}  # plain text keys, as in JSON
        for s in self.scopes:
            c[REFUSED if s.refusal else s.action] += 1
        return c

    @property
    def changes(self) -> list[ScopePlan]:
        return [s for s in self.scopes if s.writes]

    @property
    def refused(self) -> list[ScopePlan]:
        return [s for s in self.scopes if s.refusal]


def field_changes(desired: DesiredScope, live: LiveRecord | None) -> tuple[FieldChange, ...]:
    fields = desired.fields or {}
    out = []
    for f in SETTINGS_FIELDS:
        old = getattr(live, f) if live is not None else None
        new = fields.get(f)
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
    stack: str,
    desired: Iterable[DesiredScope],
    records: Mapping[Address, LiveRecord],
    tenants: TenantsView,
    *,
    adopt: bool = False,
    targets: Container[Address] | None = None,
    removed_note: str = REMOVED_NOTE,
) -> Diff:
    scopes: list[ScopePlan] = []
    desired = list(desired)
    managed = {want.address for want in desired}
    inherit, noop, known, get = DesiredKind.INHERIT, Action.NOOP, tenants.known, records.get
    for want in desired:
        addr = want.address
        if targets is not None and addr not in targets:
            continue
        live = get(addr)
        if live is None and want.kind is inherit and known(addr):
            scopes.append(ScopePlan(want, noop, None, None))  # nine in ten scopes of a large stack
            continue
        version = live.version if live else None
        owner = live.managed_by if live else None
        notes: list[str] = []
        changes: tuple[FieldChange, ...] = ()
        if want.kind is DesiredKind.SETTINGS:
            changes = field_changes(want, live)
            action = Action.CREATE if live is None else (Action.UPDATE if changes else Action.NOOP)
        else:
            action = Action.DELETE if live is not None else Action.NOOP
        foreign = owner is not None and owner != stack
        if foreign and action is Action.NOOP:
            notes.append(f"managed by stack '{owner}' (no change needed)")
        taking_over = foreign and action.writes
        if taking_over and adopt:
            changes = (*changes, FieldChange("managed_by", owner, stack))
        refusal = _refusal(addr, want, action, owner, stack, tenants, adopt)
        if addr.org and live is not None and not tenants.smtp_enabled(addr) and tenants.known(addr):
            notes.append(IGNORED_NOTE)
        scopes.append(
            ScopePlan(want, action, version, owner, changes, refusal, adopt=taking_over and adopt, notes=tuple(notes))
        )
    in_run = [a for a in records if a not in managed and (targets is None or a in targets)]
    for addr in sorted(a for a in in_run if records[a].managed_by == stack):
        live = records[addr]
        gone = DesiredScope(addr, DesiredKind.REMOVED)
        scopes.append(ScopePlan(gone, Action.DELETE, live.version, live.managed_by, notes=(removed_note,)))
    scopes.sort(key=_address_of)
    unmanaged = sorted(a for a in in_run if records[a].managed_by != stack)
    return Diff(scopes, unmanaged)


def _refusal(
    addr: Address,
    want: DesiredScope,
    action: Action,
    owner: str | None,
    stack: str,
    tenants: TenantsView,
    adopt: bool,
) -> Refusal | None:
    if not tenants.known(addr):
        try:
            tenants.check(addr)
        except SmtpIacError as err:
            return Refusal.of(err)
    if action is Action.NOOP:
        return None
    beyond = tenants.write_refusal(addr)
    if beyond is not None:
        return Refusal.of(beyond)
    if owner is not None and owner != stack and not adopt:
        return Refusal(
            ErrorKind.OWNERSHIP, f"managed by stack '{owner}', not '{stack}'", "to take it over, re-run with --adopt"
        )
    if want.kind is DesiredKind.SETTINGS and addr.org and not tenants.smtp_enabled(addr):
        return Refusal.of(FeatureDisabled(addr))
    return None
