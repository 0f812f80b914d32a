"""``import``: the live store printed as a stack file that round-trips (passwords become
``{env: ...}`` placeholders: the store never gives a password back)."""

from __future__ import annotations

from typing import Any

import click
import yaml

from ..addresses import CONTROLLER, ID_PATTERN, Address, valid_id
from ..errors import UsageError
from ..models import LiveRecord
from .options import EXIT_OK, State, pass_state, store_option


def env_placeholder(address: Address) -> str:
    """SMTP_PASSWORD_<PARTNER>[__<ORG>] (ids have no '_', so the mapping is one-to-one)."""
    tail = f"{address.partner}__{address.org}" if address.org else address.partner or "controller"
    return "SMTP_PASSWORD_" + tail.upper().replace("-", "_")


def _settings_yaml(rec: LiveRecord) -> dict[str, Any]:
    d: dict[str, Any] = {"host": rec.host, "port": rec.port, "tls": rec.tls}
    if rec.tls_mode:
        d["tls_mode"] = rec.tls_mode
    d["username"] = rec.username
    d["password"] = {"env": env_placeholder(rec.address)}
    if rec.sender:
        d["sender"] = rec.sender
    return d


@click.command("import")
@click.option("--partner", help="Only this partner (its record and its organizations').")
@click.option("--name", help="Stack name. Default: the records' common owner, else 'imported'.")
@store_option
@pass_state
def import_cmd(state: State, partner: str | None, name: str | None) -> int:
    """Print the live store as a stack file (passwords as {env: ...} placeholders)."""
    if name is not None and not valid_id(name):
        shown = name.encode("unicode_escape").decode("ascii")
        raise UsageError(f"--name '{shown}' is not a valid stack name", hint=f"a stack name is an id: {ID_PATTERN}")
    if partner is not None and not valid_id(partner):
        shown = partner.encode("unicode_escape").decode("ascii")
        raise UsageError(f"--partner '{shown}' is not a valid partner id", hint=f"ids match {ID_PATTERN}")
    with state.open_store(create=False) as store:
        snap = store.snapshot()
    if partner and not snap.tenants.has_partner(partner):
        raise UsageError(f"partner '{partner}' is not known to the store")
    records = {a: r for a, r in snap.records.items() if not partner or a.partner == partner}
    owners = {r.managed_by for r in records.values() if r.managed_by}
    name = name or (owners.pop() if len(owners) == 1 else "imported")
    doc: dict[str, Any] = {"version": 1, "name": name}
    if CONTROLLER in records:
        doc["controller"] = {"smtp": _settings_yaml(records[CONTROLLER])}
    partners: dict[str, dict[str, Any]] = {}
    for a in sorted(records):
        if not a.partner:
            continue
        entry = partners.setdefault(a.partner, {})
        if a.org:
            entry.setdefault("organizations", {})[a.org] = {"smtp": _settings_yaml(records[a])}
        else:
            entry["smtp"] = _settings_yaml(records[a])
    # a partner's own record first, then its organizations
    doc["partners"] = {
        p: ({"smtp": e["smtp"]} if "smtp" in e else {})
        | ({"organizations": e["organizations"]} if "organizations" in e else {})
        for p, e in partners.items()
    }
    envs = sorted({env_placeholder(a) for a in records})
    header = [
        "# yaml-language-server: $schema=../schemas/stack.schema.json",
        f"# Imported from {store.url_for_display}. Passwords are placeholders: set each variable",
        "# (or change the reference) before plan: " + (", ".join(envs) if envs else "(no records)"),
    ]
    click.echo("\n".join(header))
    click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False), nl=False)
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(import_cmd)
