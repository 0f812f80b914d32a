"""``smtp-iac tokens create|list|revoke``: the settings service's tokens, run against the store
directly (the platform's administrator CLI: whoever holds the database and its key is already its
administrator). ``create`` prints the token once, alone on the first line of stdout, so that
``TOKEN=$(smtp-iac tokens create ...)`` works; everything else goes to stderr. Only the hash
of its secret is stored (``smtp_iac.tokens``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from ..actor import actor_shown, current_actor
from ..addresses import Address
from ..errors import UsageError
from ..tokens import Role, new_token
from .options import EXIT_OK, State, format_option, pass_state, store_option


@click.group("tokens")
def tokens_group() -> None:
    """Tokens of the settings service (smtp-iac serve): create, list, revoke."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True, help="What the token may do.")
@click.option("--partner", metavar="P", help="The partner of a partner-admin token.")
@click.option(
    "--org",
    metavar="ORG",
    help="The organization of an org-admin token: partners/P/organizations/O, P/O or a unique organization id.",
)
@click.option("--name", metavar="TEXT", help="Who or what holds it (the audit log's actor). Default: the role.")
@click.option("--expires-in", "expires_in", type=int, metavar="DAYS", help="Expire after DAYS days (default: never).")
@store_option
@pass_state
def create_cmd(
    state: State, role: str, partner: str | None, org: str | None, name: str | None, expires_in: int | None
) -> int:
    """Create a token and print it once, alone on stdout's first line."""
    if org is not None and Role(role) is Role.ORG_ADMIN:  # P/O or a unique id, as effective takes it
        with state.open_database("tokens create", create=False) as store:
            org = str(store.find_org(org).address)
    try:
        token = new_token(
            name=name or role,
            role=Role(role),
            partner=partner,
            org=org,
            now=datetime.now(UTC),
            expires_in_days=expires_in,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    with state.open_database("tokens create", create=True) as store:
        info = token.info
        if info.partner or info.org:
            store.tenants().check(info.org or Address(info.partner))
        created = store.create_token(token, actor=current_actor())
    click.echo(token.text)
    expiry = f", expires {created.expires_at.isoformat(timespec='seconds')}" if created.expires_at else ""
    click.echo(
        f"created token {created.id} '{created.name}' ({created.scope_text}{expiry}); it is shown once", err=True
    )
    return EXIT_OK


@tokens_group.command("list")
@format_option("text", "json")
@store_option
@pass_state
def list_cmd(state: State, fmt: str) -> int:
    """List tokens (never a secret)."""
    with state.open_database("tokens list", create=False) as store:
        tokens = store.list_tokens()
    if fmt == "json":
        click.echo(json.dumps([t.to_dict() for t in tokens], indent=2))
        return EXIT_OK
    now = datetime.now(UTC)
    for t in tokens:
        state_text = t.usable(now) or (f"expires {t.expires_at:%Y-%m-%d}" if t.expires_at else "active")
        click.echo(f"{t.id}  {t.scope_text:<50}  {state_text:<18}  {actor_shown(t.name)}")
    if not tokens:
        click.echo("no tokens (create one: smtp-iac tokens create --role sysadmin)", err=True)
    return EXIT_OK


@tokens_group.command("revoke")
@click.argument("token_id", metavar="ID")
@store_option
@pass_state
def revoke_cmd(state: State, token_id: str) -> int:
    """Revoke a token at once, on every instance of the service."""
    with state.open_database("tokens revoke", create=False) as store:
        info = store.revoke_token(token_id.strip(), actor=current_actor())
    click.echo(f"revoked token {info.id} '{actor_shown(info.name)}' ({info.scope_text})")
    return EXIT_OK
