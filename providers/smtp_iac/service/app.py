"""The ASGI application: ``create_app(config)`` puts the service together once per process.

    server.run(server.server_config(create_app(ServiceConfig(store_url="postgresql://...")), host=..., port=...))

(``service.server``: how it is served, with the limits on slow and many clients.)

The store is opened here, once, and shared by every request of the process (a store's
connection is serialized by its own lock; several processes or instances each open their
own). The console (``smtp_iac.console``) is mounted at ``/``. With ``health_interval``, the
lifespan runs the relay health checks in the background (``health.HealthRunner``) and stops
them on shutdown; ``/metrics`` exports the relays' health from the store either way.
Middleware, outside in: telemetry (log line, metrics, last-resort 500), body cap, 405 for a
method the path's resource does not serve (``methods``). Docs pages that would load scripts
from a CDN are off; the schema is at ``/openapi.json`` (``document``: FastAPI's, made exact).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..console import SESSION_KEY_PURPOSE
from ..console import mount as mount_console
from ..monitor.run import last_report
from ..store import DatabaseStore, open_database
from ..store.limits import POOLED, Limits
from . import problems
from .checkcache import CheckCache
from .clients import router as clients
from .config import ServiceConfig
from .context import Ctx
from .document import ServiceApp
from .fingerprints import KEY_PURPOSE as FINGERPRINT_KEY_PURPOSE
from .fingerprints import ScopeFingerprints
from .handoff import StoreThreads
from .health import HealthRunner
from .health import router as health
from .limits import BodyLimit, CheckSlots, RateLimiter
from .methods import MethodGate
from .ops import router as ops
from .organizations import router as organizations
from .relaypolicy import RelayPolicy
from .scopes import router as scopes
from .telemetry import AccessLog, Metrics, RequestTelemetry, TimedStore
from .tiermap import router as tiermap

ROUTERS = (organizations, scopes, tiermap, health, clients, ops)
"""Every route of the service (the fuzz test enumerates operations from these)."""

DESCRIPTION = """The platform's SMTP settings (controller, partners, organizations) behind the
platform's roles. Authenticate with `Authorization: Bearer TOKEN` (`smtp-iac tokens create`).
Errors are `application/problem+json`. Writes are compare-and-swap on the record's version
(`ETag`, `If-Match`, `If-None-Match: *`) and are verified with a real SMTP check first."""


def bare_app(**kw: Any) -> FastAPI:
    """The routes without a store or middleware: what the OpenAPI document is made from."""
    app = ServiceApp(
        title="smtp-iac settings service",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        # no redirect from /path/ to /path: Starlette builds its Location from the request's Host
        # header, which a client chooses (an open redirect); a wrong path is a plain 404
        redirect_slashes=False,
        **kw,
    )
    for router in ROUTERS:
        app.include_router(router)
    return app


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI 3.1 document, as ``/openapi.json`` serves it; published as
    ``schemas/service.openapi.json`` (``python -m smtp_iac.service.app``, checked by a test)."""
    return bare_app().openapi()


def create_app(config: ServiceConfig, store: DatabaseStore | None = None, limits: Limits = POOLED) -> FastAPI:
    """The service over ``store`` (default: ``open_database(config.store_url)`` with pooled
    connections and the service's ``limits``, closed on shutdown)."""
    owned = store is None
    opened: DatabaseStore = (
        store if store is not None else open_database(config.store_url, purpose="smtp-iac serve", limits=limits)
    )
    metrics = Metrics()
    access = AccessLog()
    ctx = Ctx(
        store=TimedStore(opened, metrics),
        config=config,
        relays=RelayPolicy(config.deny_relay),
        limiter=RateLimiter(config.rate_limit),
        metrics=metrics,
        checks=CheckCache(),
        slots=CheckSlots(),
        fingerprints=ScopeFingerprints(opened.derived_key(FINGERPRINT_KEY_PURPOSE)),
        threads=StoreThreads(opened.connections, opened.limits.wait_s, opened.url_for_display),
    )
    metrics.watch_health(lambda: last_report(ctx.store))
    runner = HealthRunner(ctx, config.health_interval) if config.health_interval > 0 else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            await runner.stop(grace=config.verify_timeout_seconds + 5.0)
        await console.api.close()
        ctx.threads.close()
        access.flush()
        if owned:
            opened.close()

    app = bare_app(lifespan=lifespan)
    app.state.ctx = ctx
    app.state.health_runner = runner
    problems.install(app)
    console = mount_console(app, config.session_key or opened.derived_key(SESSION_KEY_PURPOSE), ctx.store)
    app.add_middleware(MethodGate, routes=[route for router in ROUTERS for route in router.routes])
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, streamed=frozenset({"/v1/tenants"}))
    app.add_middleware(RequestTelemetry, metrics=metrics, log=access)
    return app


if __name__ == "__main__":
    import json

    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
