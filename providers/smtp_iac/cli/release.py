"""``release ADDRESS --stack NAME``: the stack stops managing a scope and the record stays, as
``terraform state rm`` (``store.release``). Afterwards the stack's file may stop mentioning the
scope without its plan deleting it, and another stack may take it over without ``--adopt``."""

from __future__ import annotations

import click

from ..actor import actor_shown
from ..addresses import Address, valid_id
from ..errors import UsageError
from .options import EXIT_OK, State, pass_state, store_option


@click.command("release")
@click.argument("address", metavar="ADDRESS")
@click.option("--stack", "stack", required=True, metavar="NAME", help="The stack that manages the scope now.")
@store_option
@pass_state
def release_cmd(state: State, address: str, stack: str) -> int:
    """The stack stops managing ADDRESS; the record stays as it is."""
    try:
        addr = Address.parse(address)
    except ValueError:
        raise UsageError(f"'{actor_shown(address)}' is not a scope address") from None
    if not valid_id(stack):
        raise UsageError(f"--stack '{actor_shown(stack)}' is not a stack name")
    with state.open_store(create=False) as store:
        record = store.release(addr, stack=stack)
    click.echo(f"{addr}: released by stack '{stack}'; the record stays (version {record.version}, managed by no stack)")
    return EXIT_OK
