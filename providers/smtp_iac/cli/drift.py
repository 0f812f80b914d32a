"""``drift FILE``: the live store against the stack, for the nightly job. Writes nothing.

Each difference names who made it and when: the live record's last writer, or (a deleted
record, a switched-off organization) the audit log's entry. That costs, only when there is
drift, one more read of the records and one batched read of the audit log (one request per
thousand such scopes through the settings service)."""

from __future__ import annotations

import click

from ..addresses import Address
from ..errors import ErrorKind
from ..models import LiveRecord
from ..planning.drift import DriftKind, drift_items
from ..planning.planner import make_plan
from ..planning.targets import Targets
from ..report import markdown, text
from .options import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    State,
    format_option,
    pass_state,
    store_option,
    target_option,
)
from .output import emit, load_stack

_FROM_RECORDS = frozenset({DriftKind.CHANGED, DriftKind.APPEARED, DriftKind.OWNER, DriftKind.REMOVED})


@click.command("drift")
@click.argument("file", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
@target_option
@store_option
@pass_state
def drift_cmd(state: State, file: str, fmt: str, targets: tuple[str, ...]) -> int:
    """Compare the live store with the stack; write nothing. Exit 0 none, 2 drift, 1 error."""
    limit = Targets.parse(targets)
    loaded = load_stack(file)
    with state.open_store(loaded.stack.store, create=False) as store:
        plan = make_plan(loaded, store, stack_file=file, blast=False, targets=limit)
        items = drift_items(plan.diff, plan.stack)
        if items:  # again, with who and when
            records: dict[Address, LiveRecord] = {}
            if any(i.kind in _FROM_RECORDS for i in items):
                records = {r.address: r for r in store.list_records()}
            history = [i.address for i in items if i.kind in (DriftKind.MISSING, DriftKind.IGNORED)]
            logs = store.audit_logs(history) if history else {}
            items = drift_items(plan.diff, plan.stack, records, lambda a: logs.get(a, []))
    unknown = [
        (s.address, s.refusal.message)
        for s in plan.diff.listed
        if s.refusal is not None and s.refusal.kind is ErrorKind.UNKNOWN_TENANT
    ]
    emit(
        fmt,
        text_out=lambda: text.render_drift(plan.stack, items),
        md_out=lambda: markdown.render_drift(plan.stack, items),
        data=lambda: {
            "stack": plan.stack,
            "drift": bool(items),
            "items": [i.to_dict() for i in items],
            "errors": [{"address": str(address), "message": message} for address, message in unknown],
        },
    )
    if unknown:
        for address, message in unknown:
            click.echo(f"error: {address}: {message}", err=True)
        return EXIT_ERROR
    return EXIT_CHANGES if items else EXIT_OK
