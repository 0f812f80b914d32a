"""``effective ORG`` / ``effective --all``: which tier's settings apply to an organization,
and the chain they were resolved through."""

from __future__ import annotations

import json

import click

from ..errors import UsageError
from ..models import effective_tls_mode
from ..report import text
from .options import EXIT_OK, State, format_option, pass_state, store_option


@click.command("effective")
@click.argument("org", required=False)
@click.option("--all", "all_", is_flag=True, help="Every organization (address and winning tier).")
@format_option("text", "json")
@store_option
@pass_state
def effective_cmd(state: State, org: str | None, all_: bool, fmt: str) -> int:
    """Effective SMTP settings of an organization, and the tier they come from."""
    if bool(org) == all_:
        raise UsageError("give one ORG (partners/p/organizations/o, p/o or a unique org id) or --all")
    with state.open_store(create=False) as store:
        snap = store.snapshot()
        if org is None:
            everyone = snap.effective_all()
            if fmt == "json":
                rows = [
                    {"org": str(a), "source": str(r.source) if r.source else None, "tier": r.tier}
                    for a, r in everyone.items()
                ]
                click.echo(json.dumps(rows))
            else:
                for a, r in everyone.items():
                    click.echo(f"{a}\t{r.source or 'none'}")
            return EXIT_OK
        o = store.find_org(org)
        res = snap.effective(o.address)
    if fmt == "json":
        rec = res.record
        settings = (
            rec.public_fields()
            | {
                # the mode the connection uses; ``tls_mode`` is what the record says (null: the default)
                "tls_mode_in_force": effective_tls_mode(rec.tls, rec.tls_mode, rec.port),
                "tls_mode_default": rec.tls and rec.tls_mode is None,
                "password_fingerprint": rec.password_fingerprint,
                "version": rec.version,
                "managed_by": rec.managed_by,
                "updated_at": rec.updated_at.isoformat() if rec.updated_at else None,
                "updated_by": rec.updated_by,
            }
            if rec
            else None
        )
        doc = {
            "org": str(res.org),
            "smtp_enabled": o.smtp_enabled,
            "source": str(res.source) if res.source else None,
            "tier": res.tier,
            "settings": settings,
            "chain": [{"address": str(s.address), "outcome": s.outcome} for s in res.chain],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(text.render_effective(str(res.org), res), nl=False)
    return EXIT_OK
