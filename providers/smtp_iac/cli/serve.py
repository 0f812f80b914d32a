"""``smtp-iac serve``: the settings service (SPEC "Service") on uvicorn, configured by
``service/server.py`` (header timeout, keep-alive, connection cap).

The store must exist already (``smtp-iac tokens create --role sysadmin`` makes it and the
first token): a mistyped store URL is an error at start, not an empty service that refuses
every token. Listening beyond loopback without ``--tls-cert`` is allowed (a TLS-terminating
proxy in front is the usual setup) and said on stderr, since tokens and passwords travel in
requests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ..store.limits import POOLED
from ..store.url import loopback
from .options import EXIT_OK, State, pass_state, store_option


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="PEM certificate chain: serve HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="PEM private key of --tls-cert.")
@click.option(
    "--deny-relay",
    "deny",
    multiple=True,
    metavar="CIDR",
    help="Never connect to relays there (repeatable). Default: 169.254.0.0/16 and fe80::/10 (cloud metadata); "
    "giving any replaces the default.",
)
@click.option("--allow-unverified", is_flag=True, help="Let a write ask for verify mode off.")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), help="Extra CA bundle (PEM) for relay TLS.")
@click.option(
    "--rate-limit",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="SMTP checks and sends per minute and token.",
)
@click.option(
    "--max-body", default=65536, show_default=True, type=click.IntRange(1024), help="Largest request body, in bytes."
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    help="Most connections open at once; one more is closed at once. Default: the file-descriptor limit "
    "(raised to its hard limit) less the listen backlog and a reserve (17,869 at 20,000), at most 50,000.",
)
@click.option(
    "--pool-size",
    default=POOLED.pool_size,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Most PostgreSQL connections held at once (a pool; lost ones are replaced while serving).",
)
@click.option(
    "--health-interval",
    default=300,
    show_default=True,
    type=click.IntRange(0, 86_400),
    metavar="SECONDS",
    help="Check every relay in force this often, one instance of the store at a time (GET /v1/health, "
    "/metrics); 0: never.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes on the one port (each its own event loop, store connections and metrics); "
    "about one per core.",
)
@store_option
@pass_state
def serve_cmd(
    state: State,
    host: str,
    port: int,
    tls_cert: str | None,
    tls_key: str | None,
    deny: tuple[str, ...],
    allow_unverified: bool,
    ca_file: str | None,
    rate_limit: float,
    max_body: int,
    max_connections: int | None,
    pool_size: int,
    health_interval: int,
    workers: int,
) -> int:
    """The settings service and console (see SPEC "Service"); runs until stopped."""
    from ..service import server
    from ..service import workers as workers_module
    from ..service.app import create_app
    from ..service.config import DEFAULT_DENY, RateLimit, ServiceConfig, parse_networks
    from ..store import resolve_store_url

    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    try:
        networks = parse_networks(list(deny) or list(DEFAULT_DENY))
    except ValueError as e:
        raise UsageError(str(e)) from None
    config = ServiceConfig(
        store_url=resolve_store_url(state.store, None),
        deny_relay=networks,
        max_body_bytes=max_body,
        rate_limit=RateLimit(per_minute=rate_limit, burst=max(1, min(10, int(rate_limit)))),
        allow_unverified=allow_unverified,
        ca_file=Path(ca_file).resolve() if ca_file else None,
        health_interval=float(health_interval),
    )
    store = state.open_database("smtp-iac serve", create=False, limits=POOLED.with_pool_size(pool_size))
    app: Any = create_app(config, store) if workers == 1 else f"{workers_module.__name__}:app"
    if workers > 1:  # each worker opens the store itself; this process only supervises them
        store.close()
        os.environ[workers_module.ENV] = workers_module.to_environment(config, pool_size)
    server.log_to_stderr()
    if not tls_cert and not loopback(host):
        click.echo(f"warning: listening on {host} without --tls-cert: put a TLS-terminating proxy in front", err=True)
    scheme = "https" if tls_cert else "http"
    shown = f" ({workers} workers)" if workers > 1 else ""
    click.echo(f"smtp-iac serve: {store.url_for_display} on {scheme}://{host}:{port}{shown}", err=True)
    server.run(
        server.server_config(
            app,
            host=host,
            port=port,
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
            max_connections=max_connections,
            workers=workers,
        )
    )
    if workers == 1:
        store.close()
    return EXIT_OK
