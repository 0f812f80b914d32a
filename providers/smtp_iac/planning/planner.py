"""Making a plan: one snapshot of the store (a constant number of queries), the stack's
desired scopes, the pure diff, and the blast radius over every organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..actor import current_actor
from ..addresses import Address
from ..reading.stackfile import LoadedStack
from .blast import blast_radius
from .desired import desired_scopes
from .diff import DESTROY_NOTE, REMOVED_NOTE, Action, Content, DesiredScopes, Diff, diff, record_content
from .plan import Plan
from .targets import Targets

if TYPE_CHECKING:
    from ..store import Store


def planned_contents(d: Diff, before: Mapping[Address, Content]) -> dict[Address, Content]:
    """Record contents by address as they would be after applying ``d`` (refused scopes stay)."""
    after = dict(before)
    noop = Action.NOOP
    for s in d.listed:  # the unchanged scopes change nothing
        if s.action is noop or s.refusal is not None:
            continue
        if s.action in (Action.CREATE, Action.UPDATE):
            content = s.desired.content()
            if content is not None:
                after[s.address] = content
        elif s.action is Action.DELETE:
            after.pop(s.address, None)
    return after


def make_plan(
    loaded: LoadedStack,
    store: Store,
    *,
    stack_file: str,
    adopt: bool = False,
    environ: Mapping[str, str] | None = None,
    blast: bool = True,
    targets: Targets | None = None,
    destroy: bool = False,
) -> Plan:
    """``blast=False`` (drift) skips the blast radius, which only a plan shows. ``targets``
    limits the plan to those scopes. ``destroy`` plans the removal of every override the stack
    manages, as if its file named none (its ``inherit`` scopes need nothing)."""
    snap = store.snapshot()
    desired = (
        DesiredScopes([], [])
        if destroy
        else desired_scopes(loaded, store.fingerprints, environ=environ, store_files=store.local_files)
    )
    note = DESTROY_NOTE if destroy else REMOVED_NOTE
    d = diff(loaded.name, desired, snap.records, snap.tenants, adopt=adopt, targets=targets, removed_note=note)
    radius = None
    if blast:
        before = {a: record_content(r) for a, r in snap.records.items()}
        after = planned_contents(d, before)
        radius = blast_radius(snap.tenants, before, after)
    return Plan(
        stack=loaded.name,
        stack_file=stack_file,
        store=store.url_for_display,
        verify=loaded.stack.verify,
        diff=d,
        blast=radius,
        adopt=adopt,
        targets=targets.texts() if targets is not None else None,
        created_by=current_actor(),
    )
