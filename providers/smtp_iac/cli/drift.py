"""``drift FILE``: the live store against the stack, for the nightly job. Writes nothing."""

from __future__ import annotations

import click

from ..drift import drift_items
from ..errors import ErrorKind
from ..planner import make_plan
from ..report import markdown, text
from .options import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, State, format_option, pass_state, store_option
from .output import emit, load_stack


@click.command("drift")
@click.argument("file", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
@store_option
@pass_state
def drift_cmd(state: State, file: str, fmt: str) -> int:
    """Compare the live store with the stack; write nothing. Exit 0 none, 2 drift, 1 error."""
    loaded = load_stack(file)
    with state.open_store(loaded.stack.store, create=False) as store:
        plan = make_plan(loaded, store, stack_file=file, blast=False)
    unknown = [
        (s.address, s.refusal.message)
        for s in plan.diff.scopes
        if s.refusal is not None and s.refusal.kind is ErrorKind.UNKNOWN_TENANT
    ]
    items = drift_items(plan.diff, plan.stack)
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


def register(cli: click.Group) -> None:
    cli.add_command(drift_cmd)
