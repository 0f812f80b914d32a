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

from collections.abc import Container, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from operator import attrgetter, itemgetter
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

    def unknown_among(self, addresses: set[Address]) -> set[Address]:
        """Those of ``addresses`` that are not ``known``, in bulk (a plan asks of thousands)."""

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


class DesiredScopes:
    """A stack's managed scopes as ``desired.desired_scopes`` makes them for ``diff``: its
    ``inherit`` scopes as bare addresses (nine in ten scopes of a large stack: no object each),
    the others as ``DesiredScope``s. Iterating gives every one as a ``DesiredScope``, in address
    order."""

    def __init__(self, scopes: list[DesiredScope], inherit: list[Address]):
        self.scopes, self.inherit = scopes, inherit

    def __len__(self) -> int:
        return len(self.scopes) + len(self.inherit)

    def __iter__(self) -> Iterator[DesiredScope]:
        kind = DesiredKind.INHERIT
        every = [*self.scopes, *(DesiredScope(a, kind) for a in self.inherit)]
        return iter(sorted(every, key=_own_address))


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
_own_address = attrgetter("address")

REFUSED = "refused"  # the key of refused scopes in ``Diff.counts``


@dataclass(frozen=True)
class Unchanged:
    """The scopes a plan leaves as they are with nothing to say of them (no change, note or
    refusal): counted, and made into ``ScopePlan``s only when listed (``Diff.scopes``). At
    20,000 organizations they are ~19,000 of ~20,000 scopes.

    ``inherit``: ``inherit`` scopes with no live record, less ``besides`` (listed in the plan
    instead). ``settings``: settings scopes whose live record, owned by this stack, has the
    same content; ``records``: the live records, for their versions."""

    inherit: Sequence[Address] = ()
    besides: Container[Address] = frozenset()
    besides_count: int = 0
    settings: Sequence[DesiredScope] = ()
    records: Mapping[Address, LiveRecord] = field(default_factory=dict)
    stack: str = ""

    def __len__(self) -> int:
        return len(self.inherit) - self.besides_count + len(self.settings)

    def plans(self) -> list[ScopePlan]:
        noop, kind, besides, records, stack = Action.NOOP, DesiredKind.INHERIT, self.besides, self.records, self.stack
        out = [ScopePlan(DesiredScope(a, kind), noop, None, None) for a in self.inherit if a not in besides]
        out += [ScopePlan(d, noop, records[d.address].version, stack) for d in self.settings]
        return out


@dataclass
class Diff:
    listed: list[ScopePlan]  # every scope but the plainly unchanged (``unchanged``), in address order
    unmanaged: list[Address] = field(default_factory=list)  # live overrides the stack does not mention
    unchanged: Unchanged = field(default_factory=Unchanged)

    @cached_property
    def scopes(self) -> list[ScopePlan]:
        """Every scope, in address order: the unchanged ones are made here (``--show-unchanged``,
        the JSON document), not by the diff."""
        if not len(self.unchanged):
            return self.listed
        return sorted([*self.listed, *self.unchanged.plans()], key=_address_of)

    def counts(self) -> dict[str, int]:
        """Scopes per action, refused ones apart: a refused scope is not a change."""
        c: dict[str, int] = {str(a): 0 for a in Action} | {REFUSED: 0}  # plain text keys, as in JSON
        for s in self.listed:
            c[REFUSED if s.refusal else s.action] += 1
        c[Action.NOOP] += len(self.unchanged)
        return c

    @property
    def changes(self) -> list[ScopePlan]:
        return [s for s in self.listed if s.writes]

    @property
    def refused(self) -> list[ScopePlan]:
        return [s for s in self.listed if s.refusal]


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


_settings_of = itemgetter(*SETTINGS_FIELDS)


def diff(
    stack: str,
    desired: Iterable[DesiredScope] | DesiredScopes,
    records: Mapping[Address, LiveRecord],
    tenants: TenantsView,
    *,
    adopt: bool = False,
    targets: Container[Address] | None = None,
    removed_note: str = REMOVED_NOTE,
) -> Diff:
    """The plan of every scope. Plainly unchanged scopes are only counted (``Unchanged``): an
    ``inherit`` scope with no live record (found with set operations, not one by one) and a
    settings scope whose record, owned by this stack, holds the same fields and fingerprint
    (one tuple comparison); everything else is planned field by field."""
    if isinstance(desired, DesiredScopes):
        wanted, inherit = desired.scopes, desired.inherit
    else:
        wanted, inherit = list(desired), []
    managed = {want.address for want in wanted}
    every_inherit = set(inherit)
    if len(every_inherit) != len(inherit) or not every_inherit.isdisjoint(managed):  # not a stack's
        wanted, inherit, every_inherit = [*wanted, *(DesiredScope(a, DesiredKind.INHERIT) for a in inherit)], [], set()
        managed = {want.address for want in wanted}
    managed |= every_inherit
    if targets is not None:
        inherit = [a for a in inherit if a in targets]
    run_inherit = every_inherit if targets is None else set(inherit)
    # an inherit scope with a live record, or unknown: planned like any other scope
    besides = run_inherit.intersection(records.keys()) | tenants.unknown_among(run_inherit)
    listed: list[ScopePlan] = []
    same: list[DesiredScope] = []
    kinds, get, known, enabled = DesiredKind, records.get, tenants.known, tenants.smtp_enabled
    for want in [*wanted, *(DesiredScope(a, kinds.INHERIT) for a in sorted(besides))]:
        addr = want.address
        if targets is not None and addr not in targets:
            continue
        live = get(addr)
        if (
            live is not None
            and want.kind is kinds.SETTINGS
            and want.fields is not None
            and live.managed_by == stack
            and live.password_fingerprint == want.fingerprint
            and _same_fields(want.fields, live)
            and known(addr)
            and not (addr.org and not enabled(addr))
        ):
            same.append(want)  # no change, note or refusal: counted, not planned
            continue
        listed.append(_plan(stack, want, live, tenants, adopt))
    in_run = [a for a in records if a not in managed and (targets is None or a in targets)]
    for addr in sorted(a for a in in_run if records[a].managed_by == stack):
        live = records[addr]
        gone = DesiredScope(addr, DesiredKind.REMOVED)
        beyond = tenants.write_refusal(addr)  # a service token that may not write it: refused, as a named scope is
        refusal = Refusal.of(beyond) if beyond is not None else None
        listed.append(
            ScopePlan(gone, Action.DELETE, live.version, live.managed_by, refusal=refusal, notes=(removed_note,))
        )
    listed.sort(key=_address_of)
    unmanaged = sorted(a for a in in_run if records[a].managed_by != stack)
    unchanged = Unchanged(inherit, besides, len(besides), same, records, stack)
    return Diff(listed, unmanaged, unchanged)


def _same_fields(fields: Mapping[str, Any], live: LiveRecord) -> bool:
    try:
        return bool(_settings_of(fields) == _settings_of(live.__dict__))
    except KeyError:  # fields of another shape: compared one by one by ``field_changes``
        return False


def _plan(stack: str, want: DesiredScope, live: LiveRecord | None, tenants: TenantsView, adopt: bool) -> ScopePlan:
    """The plan of one scope that is not plainly unchanged."""
    addr = want.address
    if live is None and want.kind is DesiredKind.INHERIT and tenants.known(addr):
        return ScopePlan(want, Action.NOOP, None, None)
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
    return ScopePlan(want, action, version, owner, changes, refusal, adopt=taking_over and adopt, notes=tuple(notes))


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
