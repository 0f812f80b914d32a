"""The console: the platform's Ops Console (partner admins) and Web Console (organization admins),
and the system administrator's view of every tier, served by ``smtp-iac serve`` at ``/``.

Plain server-rendered HTML (Jinja2, autoescaped) with one small script (Send Test Email without
a page load, the TLS mode field following the TLS switch, times in the reader's zone; every
page works without it); every action is a call to the service's own API with the signed-in
token (``api``), so the console can do nothing the API would refuse, and offers nothing a role
may not do (``views.offers``). Modules: ``session`` (sealed cookie, CSRF), ``web`` (request
helpers), ``pages`` (sign-in, tier map), ``scope_page``, ``org_page``, ``forms``, ``views``,
``results`` (a check's result in the form's words), ``timefmt`` (times), ``health_view``
(relay health in words).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import web
from .org_page import router as org_router
from .pages import router as pages_router
from .scope_page import router as scope_router
from .web import HERE, Console, EndedSessions

SESSION_KEY_PURPOSE = "console session v1"
"""What the store key derives the session cookies' key for (``Store.derived_key``)."""


def mount(app: FastAPI, session_key: bytes, ended: EndedSessions) -> Console:
    """Serve the console on ``app`` (the service), its sessions sealed with ``session_key`` and
    ended by sign-out in ``ended`` (the store)."""
    console = Console(app, session_key, ended)
    app.state.console = console
    web.install(app)
    for router in (pages_router, scope_router, org_router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return console
