"""What every console page works with: the ``Console`` (session codec, API client, templates),
the signed-in ``Session`` of a request, form checks (CSRF, same origin), and rendering.

A page that cannot go on raises ``PageExit`` with the answer to give instead (sign in again,
an error page with the API's words); ``install`` turns it into that answer.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..actor import actor_shown
from ..service.config import RateLimit
from ..service.limits import RateLimiter
from .api import Answer, Api
from .session import LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Session, SessionCodec, csrf_ok, same_origin
from .timefmt import time_tag

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["version"] = __version__
templates.env.filters["shown"] = actor_shown  # names read from the store: no bidi or invisible characters
templates.env.filters["when"] = time_tag  # an API time: readable, the exact value on hover

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PageExit(Exception):
    """Stop a page and answer ``response`` instead."""

    def __init__(self, response: Response):
        super().__init__("page exit")
        self.response = response


SIGNINS = RateLimit(per_minute=10, burst=10)
"""Sign-ins per token and instance: each session a sign-out ends is kept in the store until its
cookie would expire (8 h), so this bounds what one token can make the store keep."""


class EndedSessions(Protocol):
    """Where sessions ended by sign-out are kept (the store: every instance sees them)."""

    def end_session(self, session_id: str, expires_at: datetime) -> None: ...

    def session_ended(self, session_id: str) -> bool: ...


class Console:
    def __init__(self, app: FastAPI, session_key: bytes, ended: EndedSessions):
        self.codec = SessionCodec(session_key)
        self.api = Api(app)
        self.ended = ended
        self.signins = RateLimiter(SIGNINS)
        self.kept_health: dict[str, tuple[str, Any]] = {}  # token id -> (ETag, markers): ``pages``

    async def session(self, request: Request) -> Session | None:
        """The request's session: its cookie opens, and it was not ended by a sign-out."""
        session = self.codec.open(request.cookies.get(SESSION_COOKIE))
        if session is None or await run_in_threadpool(self.ended.session_ended, session.id):
            return None
        return session

    async def end(self, session: Session) -> None:
        if session.expires_at is not None:
            await run_in_threadpool(self.ended.end_session, session.id, session.expires_at)


def console(request: Request) -> Console:
    c: Console = request.app.state.console
    return c


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


async def session_of(request: Request) -> Session:
    """The request's session; else, PageExit to the sign-in page (coming back here after)."""
    session = await console(request).session(request)
    if session is None:  # back here after sign-in, when here is a page (a form's POST is not)
        back = "?next=" + quote(request.url.path, safe="/") if request.method == "GET" else ""
        raise PageExit(redirect("/signin" + back))
    request.state.token = session.who  # for the page's log line, as an API request's
    return session


def set_session(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/signin")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


async def posted(request: Request, session: Session | None) -> dict[str, str]:
    """A submitted form's fields, after its CSRF value and origin are checked (403 page otherwise)."""
    form = await request.form(max_files=0, max_fields=32, max_part_size=16 * 1024)
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin_ok = same_origin(request.headers.get("origin"), request.headers.get("sec-fetch-site"), own)
    token_ok = csrf_ok(session, data.get("csrf")) if session is not None else False
    if not (origin_ok and token_ok):
        raise PageExit(
            render(
                request,
                "problem.html",
                403,
                who=session.who if session else None,
                csrf=session.csrf if session else "",
                title="Form refused",
                detail="This form was not sent from this console's own page (its CSRF value or origin did not match).",
                hint="Open the page again and resend the form.",
            )
        )
    return data


async def call(request: Request, session: Session, method: str, path: str, **kw: Any) -> Answer:
    """An API call as the signed-in token; a 401 (token revoked or expired) ends the session."""
    answer = await console(request).api.call(session.token, method, path, **kw)
    if answer.status == 401:
        why = next((w for w in ("revoked", "expired") if w in answer.detail), "rejected")
        response = redirect("/signin?ended=" + why)
        end_session(response)
        raise PageExit(response)
    return answer


def fail(request: Request, session: Session, answer: Answer) -> PageExit:
    """An error page with the API's own words (403: not yours; 404: no such scope; ...)."""
    titles = {403: "Not available to you", 404: "Not found", 429: "Too many requests", 503: "Store unavailable"}
    return PageExit(
        render(
            request,
            "problem.html",
            answer.status if answer.status >= 400 else 500,
            who=session.who,
            csrf=session.csrf,
            title=titles.get(answer.status, "Something went wrong"),
            detail=answer.detail or "the settings service refused this",
            hint=answer.hint,
        )
    )


def install(app: FastAPI) -> None:
    async def on_exit(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageExit)
        return exc.response

    app.add_exception_handler(PageExit, on_exit)
