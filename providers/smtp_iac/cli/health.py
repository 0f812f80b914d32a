"""``smtp-iac health``: check every relay that carries organizations' mail now (one login per
distinct effective settings, never sending mail), keep the results, and report them.

With a database store the checks run here (``monitor.run.check_health``); through the settings
service (an ``https://`` store) the service runs them with its own CA file, timeout and relay
policy (``RemoteStore.check_health``), and this process never holds a password.
Exit 0: every organization in scope has working mail; 2: warnings only (a certificate that
expires within 21 days); 3: some organization has no working mail (a failing relay, or no
effective settings at all); 1: an error."""

from __future__ import annotations

from pathlib import Path

import click

from ..addresses import Address
from ..errors import UnknownTenant, UsageError
from ..relayhealth import HealthReport, Scope
from ..report import health as render
from ..store.protocol import Store
from ..store.snapshot import unknown_tenant
from .options import State, format_option, pass_state, store_option

DEFAULT_TIMEOUT = 15
PARTNER_HINT = "give a partner id (p or partners/p), as smtp-iac tenants list shows it"


@click.command("health")
@click.option(
    "--partner",
    "partners",
    multiple=True,
    metavar="P",
    help="Only the organizations of partner P (repeatable): p or partners/p.",
)
@click.option(
    "--org",
    "orgs",
    multiple=True,
    metavar="ORG",
    help="Only this organization (repeatable): partners/p/organizations/o, p/o or a unique org id.",
)
@format_option("text", "json", "markdown")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Relays checked at once.",
)
@click.option(
    "--timeout",
    "timeout",
    type=click.IntRange(1, 120),
    default=None,
    metavar="SECONDS",
    help=f"Each check's deadline [default: {DEFAULT_TIMEOUT}] (through the service: the service's own).",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="PATH",
    help="Extra trusted CAs (PEM) for the relays' certificates (through the service: the service's own).",
)
@store_option
@pass_state
def health_cmd(
    state: State,
    partners: tuple[str, ...],
    orgs: tuple[str, ...],
    fmt: str,
    concurrency: int,
    timeout: int | None,
    ca_file: str | None,
) -> int:
    """Check the relays that carry organizations' mail now (a login, never a message) and
    report whose mail each carries. Exit 0 all working, 2 warnings only, 3 some organization
    without working mail, 1 error."""
    from ..store import parse_store_url, resolve_store_url

    if parse_store_url(resolve_store_url(state.store, None)).backend == "service":
        from ..store.remote import RemoteStore

        if timeout is not None or ca_file is not None:
            click.echo(
                "note: through the settings service the checks run with the service's own timeout and CA file; "
                "--timeout and --ca-file are not used",
                err=True,
            )
        with state.open_store(create=False) as remote:
            assert isinstance(remote, RemoteStore)
            report = remote.check_health(_scope(remote, partners, orgs), concurrency)
    else:
        from ..monitor.run import check_health

        with state.open_database("smtp-iac health", create=False) as store:
            report = check_health(
                store,
                _scope(store, partners, orgs),
                concurrency=concurrency,
                timeout_seconds=timeout if timeout is not None else DEFAULT_TIMEOUT,
                ca_file=ca_file,
                base_dir=Path.cwd(),
            )
    _emit(report, fmt)
    return report.exit_status()


def _scope(store: Store, partners: tuple[str, ...], orgs: tuple[str, ...]) -> Scope:
    """The scope the options name; a partner or organization the store does not know (or, through
    the service, one beyond the token's reach) is refused before any check."""
    wanted: set[str] = set()
    for p in partners:
        ref = p.strip()
        try:
            address = Address.parse(ref) if ref.startswith("partners/") else Address(ref)
        except ValueError as e:
            raise UnknownTenant(str(e), hint=PARTNER_HINT) from None
        if not address.partner or address.org:
            raise UsageError(f"--partner {ref!r} is not a partner", hint=PARTNER_HINT)
        if store.partner_page(partner=address.partner, limit=1).total == 0:  # one query, not every tenant
            raise unknown_tenant(address, (), [])
        wanted.add(address.partner)
    return Scope(frozenset(wanted), frozenset(store.find_org(o).address for o in orgs))


def _emit(report: HealthReport, fmt: str) -> None:
    if fmt == "json":
        click.echo(render.render_json(report), nl=False)
    elif fmt == "markdown":
        click.echo(render.render_markdown(report), nl=False)
    else:
        click.echo(render.render_text(report), nl=False)
