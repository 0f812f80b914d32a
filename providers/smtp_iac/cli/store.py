"""``smtp-iac store rotate-keys`` and ``smtp-iac store audit``: key rotation and the audit
log of the store (SPEC "Store": a comma-separated SMTP_IAC_STORE_KEY rotates, the first key
encrypts; every write and every refused or failed attempt is audited)."""

from __future__ import annotations

import json

import click

from ..actor import actor_shown
from ..addresses import Address
from ..errors import UsageError
from .options import EXIT_OK, State, format_option, pass_state, store_option


@click.group("store")
def store_group() -> None:
    """The settings store: key rotation and the audit log."""


@store_group.command("rotate-keys")
@store_option
@pass_state
def rotate_keys_cmd(state: State) -> int:
    """Re-encrypt every stored password with the first key of SMTP_IAC_STORE_KEY.

    Put the new key first and keep the old one after it (NEW,OLD), run this, then drop OLD.
    Versions do not move; fingerprints do, so plans saved before a rotation become stale."""
    with state.open_database("store rotate-keys", create=False) as store:
        n = store.rotate_keys()
        click.echo(f"re-encrypted {n} password(s) in {store.url_for_display}")
    return EXIT_OK


@store_group.command("audit")
@click.option("--address", help="Only entries of this scope (e.g. partners/acme).")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="The newest N entries.")
@format_option("text", "json")
@store_option
@pass_state
def audit_cmd(state: State, address: str | None, limit: int, fmt: str) -> int:
    """Show the audit log (who, when, what, outcome; fingerprints, never passwords)."""
    try:
        addr = Address.parse(address) if address else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    with state.open_store(create=False) as store:
        entries = store.audit_log(address=addr, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return EXIT_OK
    for entry in entries:
        fp = (
            f" {entry.old_fingerprint or '-'} → {entry.new_fingerprint or '-'}"
            if (entry.old_fingerprint or entry.new_fingerprint)
            else ""
        )
        who = actor_shown(entry.actor) if entry.actor else "-"
        click.echo(
            f"{entry.at.isoformat(timespec='seconds')} {who} [{entry.stack or '-'}] "
            f"{entry.action} {entry.address or '-'}: {entry.outcome}{fp}"
            + (f" ({entry.detail})" if entry.detail else "")
        )
    return EXIT_OK
