"""``import``: the live store printed as a stack file that round-trips (passwords become
``{env: ...}`` placeholders: the store never gives a password back).

What the store knows is imported:

- Records with the same host, port, tls, tls_mode, username and sender (two or more) share a
  relay under ``relays:``, named after its host (``smtp.example.com`` -> ``smtp-example-com``,
  then ``-2``, ``-3``... in address order of each group's first scope), and each of those scopes
  says ``smtp: {relay: NAME}``. The relay's password is one placeholder,
  ``SMTP_RELAY_PASSWORD_<NAME>`` (a prefix no scope placeholder has, so no partner id can
  collide with it), for the password most of its scopes share (same keyed fingerprint; a tie
  goes to the first scope). A scope whose password differs overrides it with its own
  placeholder: ``{relay: NAME, password: {env: SMTP_PASSWORD_<PARTNER>[__<ORG>]}}``. Through
  the settings service, fingerprints are bound to their scope and never tell a shared password:
  each scope of a relay but the first then names its own placeholder (the header says so).
- ``store:`` is the URL the import read from, unless it holds a password (a PostgreSQL URL
  with one in its user-info or a ``password=`` parameter): a stack file is committed, so the
  key is then left out and a header line says so.
- ``verify:`` is not kept in the store: it is left out (the default, ``mode: login``, applies)
  and a header line says to re-add ``mode``, ``to`` and ``ca_file`` if the stack had them.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from typing import Any

import click
import yaml

from ..addresses import CONTROLLER, ID_PATTERN, Address, valid_id
from ..errors import UsageError
from ..models import SETTINGS_FIELDS, LiveRecord
from ..reading.rules import HostError, host_ascii
from ..store import resolve_store_url
from ..store.url import mask_url, parse_store_url
from .options import EXIT_OK, State, pass_state, store_option

RELAY_ENV_PREFIX = "SMTP_RELAY_PASSWORD_"
_NAME_ROOM = 56  # a relay name is an id (63 characters at most): room for a "-NNN" suffix


def env_placeholder(address: Address) -> str:
    """SMTP_PASSWORD_<PARTNER>[__<ORG>] (ids have no '_', so the mapping is one-to-one)."""
    tail = f"{address.partner}__{address.org}" if address.org else address.partner or "controller"
    return "SMTP_PASSWORD_" + tail.upper().replace("-", "_")


def relay_placeholder(name: str) -> str:
    """SMTP_RELAY_PASSWORD_<NAME> (relay names are ids: one-to-one, as scopes')."""
    return RELAY_ENV_PREFIX + name.upper().replace("-", "_")


def _fields(rec: LiveRecord, password: str) -> dict[str, Any]:
    d: dict[str, Any] = {"host": rec.host, "port": rec.port, "tls": rec.tls}
    if rec.tls_mode:
        d["tls_mode"] = rec.tls_mode
    d["username"] = rec.username
    d["password"] = {"env": password}
    if rec.sender:
        d["sender"] = rec.sender
    return d


def _relay_base(host: str) -> str:
    """A relay name from a host: its ASCII form, lowercase, every run of other characters a '-'."""
    with contextlib.suppress(HostError):  # a record written before the host rules: as it is
        host = host_ascii(host)
    base = re.sub(r"[^a-z0-9]+", "-", host.lower())[:_NAME_ROOM].strip("-")
    return base or "relay"


class _Relays:
    """The relays of an import: groups of two or more records with the same public fields."""

    def __init__(self, records: dict[Address, LiveRecord]):
        groups: dict[tuple[Any, ...], list[Address]] = {}
        for a in sorted(records):
            groups.setdefault(tuple(getattr(records[a], f) for f in SETTINGS_FIELDS), []).append(a)
        self.settings: dict[str, dict[str, Any]] = {}
        self.used: dict[Address, dict[str, Any]] = {}  # a scope's smtp: {relay: NAME[, password]}
        taken: set[str] = set()
        for members in sorted((m for m in groups.values() if len(m) > 1), key=lambda m: m[0]):
            first = records[members[0]]
            base = name = _relay_base(first.host)
            n = 1
            while name in taken or not valid_id(name):
                n += 1
                name = f"{base}-{n}"
            taken.add(name)
            counts = Counter(records[a].password_fingerprint for a in members)
            shared = max(counts, key=counts.__getitem__)  # the most used; of equals, the first scope's
            self.settings[name] = _fields(first, relay_placeholder(name))
            for a in members:
                ref: dict[str, Any] = {"relay": name}
                if records[a].password_fingerprint != shared:
                    ref["password"] = {"env": env_placeholder(a)}
                self.used[a] = ref

    def smtp(self, address: Address, rec: LiveRecord) -> dict[str, Any]:
        return self.used.get(address) or _fields(rec, env_placeholder(address))

    def placeholders(self) -> list[str]:
        """Every variable the import's references name, sorted."""
        envs = {s["password"]["env"] for s in self.settings.values()}
        return sorted(envs | {r["password"]["env"] for r in self.used.values() if "password" in r})


@click.command("import")
@click.option("--partner", help="Only this partner (its record and its organizations').")
@click.option("--name", help="Stack name. Default: the records' common owner, else 'imported'.")
@store_option
@pass_state
def import_cmd(state: State, partner: str | None, name: str | None) -> int:
    """Print the live store as a stack file (passwords as {env: ...} placeholders; settings
    that several scopes share as relays)."""
    if name is not None and not valid_id(name):
        shown = name.encode("unicode_escape").decode("ascii")
        raise UsageError(f"--name '{shown}' is not a valid stack name", hint=f"a stack name is an id: {ID_PATTERN}")
    if partner is not None and not valid_id(partner):
        shown = partner.encode("unicode_escape").decode("ascii")
        raise UsageError(f"--partner '{shown}' is not a valid partner id", hint=f"ids match {ID_PATTERN}")
    url = resolve_store_url(state.store, None)
    with state.open_store(create=False) as store:
        snap = store.snapshot()
    if partner and not snap.tenants.has_partner(partner):
        raise UsageError(f"partner '{partner}' is not known to the store")
    records = {a: r for a, r in snap.records.items() if not partner or a.partner == partner}
    owners = {r.managed_by for r in records.values() if r.managed_by}
    name = name or (owners.pop() if len(owners) == 1 else "imported")
    relays = _Relays(records)
    doc: dict[str, Any] = {"version": 1, "name": name}
    with_password = parse_store_url(url).backend != "sqlite" and mask_url(url) != url
    if not with_password:
        doc["store"] = url
    if relays.settings:
        doc["relays"] = dict(sorted(relays.settings.items()))
    if CONTROLLER in records:
        doc["controller"] = {"smtp": relays.smtp(CONTROLLER, records[CONTROLLER])}
    partners: dict[str, dict[str, Any]] = {}
    for a in sorted(records):
        if not a.partner:
            continue
        entry = partners.setdefault(a.partner, {})
        if a.org:
            entry.setdefault("organizations", {})[a.org] = {"smtp": relays.smtp(a, records[a])}
        else:
            entry["smtp"] = relays.smtp(a, records[a])
    # a partner's own record first, then its organizations
    doc["partners"] = {
        p: ({"smtp": e["smtp"]} if "smtp" in e else {})
        | ({"organizations": e["organizations"]} if "organizations" in e else {})
        for p, e in partners.items()
    }
    envs = relays.placeholders() + sorted(env_placeholder(a) for a in records if a not in relays.used)
    header = [
        "# yaml-language-server: $schema=../schemas/stack.schema.json",
        f"# Imported from {store.url_for_display}. Passwords are placeholders: set each variable",
        "# (or change the reference) before plan: " + (", ".join(envs) if envs else "(no records)"),
        "# Scopes with the same host, port, tls, tls_mode, username and sender share a relay;",
        f"# its password is {RELAY_ENV_PREFIX}<NAME>, overridden where a scope's password differs.",
        "# verify: is not kept in the store: the default (mode: login, system CAs) applies; re-add",
        "# mode, to and ca_file if the stack had them.",
    ]
    if store.fingerprints_per_scope:
        header.append(
            "# Through the settings service no two scopes' passwords can be compared: each scope of a relay "
            "but the first has its own placeholder (give the same value where they share one)."
        )
    if with_password:
        header.append("# store: left out: the store URL holds a password; give it with --store or SMTP_IAC_STORE.")
    click.echo("\n".join(header))
    click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False), nl=False)
    return EXIT_OK
