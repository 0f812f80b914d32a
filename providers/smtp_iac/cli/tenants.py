"""``smtp-iac tenants load|list|enable-smtp|disable-smtp``: partners, organizations and the
per-organization SMTP switch, kept in the store (SPEC "Store").

``load FILE`` reads YAML (``partners: {<p>: {organizations: {<o>: {smtp_enabled: bool}}}}``)
with the same located reader as stack files (no anchors, no duplicate keys, YAML 1.2 scalars)
and checks it against ``schemas/tenants.schema.json`` with the same validator, so every problem
is reported as ``FILE:LINE:COL: error: ...`` and nothing is written unless the whole file is good.
Loading is an idempotent upsert: it never removes a tenant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..addresses import Address
from ..diagnostics import Diagnostic, Omitted, json_path, within_budget
from ..errors import FileRefused, TenantsInvalid, UsageError
from ..reading.filerefs import read_regular
from ..reading.yamlsource import MAX_BYTES, parse_bytes
from ..store.tenants_doc import check_tenants_doc
from .options import EXIT_OK, State, format_option, pass_state, store_option


def read_tenants_file(path: str) -> Any:
    """The tenants document of ``path``, or TenantsInvalid with every problem located."""
    try:
        raw = read_regular(Path(path), what=f"cannot read tenants file {path}", limit=MAX_BYTES)
    except FileRefused as e:
        raise UsageError(e.message) from None
    if not raw.strip():
        raise TenantsInvalid(
            [Diagnostic(path, 1, 1, "error", "file is empty: expected 'partners: {<partner>: {organizations: ...}}'")]
        )
    doc = parse_bytes(raw)
    diags = [
        Diagnostic(
            path, p.line, p.column, "error", p.message.replace("stack files", "tenants files"), json_path(p.path)
        )
        for p in doc.problems
    ]
    omitted = Omitted(doc.omitted)
    if doc.data is not None:
        _, problems, more = check_tenants_doc(doc.data)  # schemas/tenants.schema.json, located like a stack file's
        for p in problems:
            line, col = doc.locate(p.path, key=p.at_key)
            diags.append(Diagnostic(path, line, col, p.severity, p.message, json_path(p.path)))
        omitted += Omitted(1, 0, True) if more else Omitted()
    if diags:
        raise TenantsInvalid(within_budget(sorted(set(diags)), omitted))
    return doc.data


@click.group("tenants")
def tenants_group() -> None:
    """Partners, organizations and the per-organization SMTP switch, in the store."""


@tenants_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@store_option
@format_option("text", "json")
@pass_state
def load_cmd(state: State, file: str, fmt: str) -> int:
    """Add partners and organizations and set SMTP switches from FILE (YAML). Never removes any."""
    doc = read_tenants_file(file)
    with state.open_store(create=True) as store:
        change = store.load_tenants(doc)
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "store": store.url_for_display,
                        "partners_added": change.partners_added,
                        "organizations_added": [str(a) for a in change.orgs_added],
                        "smtp_enabled": [str(a) for a in change.enabled],
                        "smtp_disabled": [str(a) for a in change.disabled],
                        "unchanged": change.unchanged,
                    },
                    indent=2,
                )
            )
        else:
            for p in change.partners_added:
                click.echo(f"+ partners/{p}")
            for a in change.orgs_added:
                click.echo(f"+ {a}")
            for a in change.enabled:
                click.echo(f"~ {a}: smtp enabled")
            for a in change.disabled:
                click.echo(f"~ {a}: smtp disabled")
            click.echo(f"{file}: {change.summary()} ({store.url_for_display})")
    return EXIT_OK


@tenants_group.command("list")
@store_option
@format_option("text", "json")
@pass_state
def list_cmd(state: State, fmt: str) -> int:
    """List partners and their organizations with the SMTP switch of each."""
    with state.open_store(create=False) as store:
        tenants = store.tenants()
    if fmt == "json":
        click.echo(json.dumps(tenants.to_doc(), indent=2))
        return EXIT_OK
    if not tenants.partners:
        click.echo("no tenants in the store (load some with: smtp-iac tenants load FILE)")
        return EXIT_OK
    width = max((len(str(a)) for a in tenants.orgs), default=0)
    for partner, orgs in tenants.partners.items():
        click.echo(f"partners/{partner}  ({len(orgs)} organization(s))")
        for o in orgs:
            a = Address(partner, o)
            state_text = "smtp enabled" if tenants.orgs[a].smtp_enabled else "smtp disabled"
            click.echo(f"  {str(a).ljust(width)}  {state_text}")
    enabled = sum(o.smtp_enabled for o in tenants.orgs.values())
    click.echo(
        f"{len(tenants.partners)} partner(s), {len(tenants.orgs)} organization(s), "
        f"{enabled} with organization-level SMTP enabled"
    )
    return EXIT_OK


def _switch(state: State, ref: str, enabled: bool) -> int:
    with state.open_store(create=False) as store:
        org = store.find_org(ref)
        store.set_smtp_enabled(org.address, enabled)
    was = "already " if org.smtp_enabled == enabled else ""
    click.echo(f"{org.address}: organization-level SMTP {was}{'enabled' if enabled else 'disabled'}")
    return EXIT_OK


@tenants_group.command("enable-smtp")
@click.argument("org", metavar="ORG")
@store_option
@pass_state
def enable_cmd(state: State, org: str) -> int:
    """Switch organization-level SMTP on for ORG (partners/P/organizations/O, P/O, or a unique O)."""
    return _switch(state, org, True)


@tenants_group.command("disable-smtp")
@click.argument("org", metavar="ORG")
@store_option
@pass_state
def disable_cmd(state: State, org: str) -> int:
    """Switch organization-level SMTP off for ORG; its own record, if any, is then ignored."""
    return _switch(state, org, False)
