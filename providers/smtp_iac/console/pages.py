"""Sign-in, sign-out and the tier map (``/``): controller, partners and organizations, with the
tier in force for each organization and who manages each record, a page of 50 at a time, and
relay health (``GET /v1/health``: per partner, the worst of its relays and how many of its
organizations have no working mail). Each partner's row names its record's relay, from the
page of partners itself (no request per row), or says that its organizations inherit the
controller default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..addresses import Address
from ..tokens import Role, TokenInfo, parse_token
from .api import scope_path
from .health_view import TierHealth, parse
from .session import LOGIN_COOKIE, Session
from .views import TIER_WORDS, Pager, home, inherits_words, sees_controller, sees_health, sees_partners
from .web import call, console, end_session, fail, posted, redirect, render, session_of, set_session

router = APIRouter(include_in_schema=False)

PAGE = 50
_NEXT = re.compile(r"^/((scopes|organizations)/[a-z0-9/%-]{1,300})?$")
"""Where sign-in may return to: this console's own pages only (never another site)."""
Id = Annotated[str, Query(max_length=63, pattern=r"^[a-z0-9-]*$")]
Offset = Annotated[int, Query(ge=0, le=10**9)]


ENDED = {
    "revoked": "Your session ended: the token was revoked. Sign in with another token.",
    "expired": "Your session ended: the token expired. Sign in with another token.",
    "rejected": "Your session ended: the service no longer accepts the token. Sign in again.",
}
"""What the sign-in page says after a session ended; a link chooses among these, never the words."""


def _next(value: str | None) -> str | None:
    return value if value and _NEXT.fullmatch(value) else None


@router.get("/signin")
async def signin_page(request: Request, next: str | None = None, ended: str | None = None) -> Response:
    c = console(request)
    if await c.session(request) is not None:
        return redirect(_next(next) or "/")
    nonce = c.codec.login_nonce()
    message = ENDED.get(ended or "", ENDED["rejected"]) if ended else None
    response = render(
        request, "signin.html", csrf=c.codec.login_csrf(nonce), next=_next(next) or "", message=message, who=None
    )
    _login_cookie(request, response, nonce)
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    c = console(request)
    form = await request.form(max_files=0, max_fields=8)
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    target = _next(data.get("next")) or ""
    if not c.codec.login_ok(request.cookies.get(LOGIN_COOKIE), data.get("csrf")):
        return _signin_again(request, "The sign-in form expired or did not come from this page: try again.", target)
    token = data.get("token", "").strip()[:512]
    if not token:
        return _signin_again(request, "Enter a token (a sysadmin makes one with: smtp-iac tokens create).", target)
    parsed = parse_token(token)
    if parsed is None:  # and so never sent on, in a header, as it was typed
        return _signin_again(request, "That token was not accepted: not an smtp-iac token.", target, 401)
    wait = c.signins.take(parsed[0])  # each session a sign-out ends is kept in the store until it expires
    if wait is not None:
        again = f"Too many sign-ins with this token: try again in {max(1, int(wait) + 1)} s."
        return _signin_again(request, again, target, 429)
    answer = await c.api.call(token, "GET", "/v1/whoami")
    if not answer.ok:
        return _signin_again(request, f"That token was not accepted: {answer.detail}.", target, 401)
    b = answer.body
    org = Address.parse(b["org"]) if b.get("org") else None
    who = TokenInfo(b["id"], b["name"], Role(b["role"]), b.get("partner") or "", org)
    cookie, _ = c.codec.seal(token, who)
    response = redirect(target or home(who))
    set_session(request, response, cookie)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    session = await session_of(request)
    await posted(request, session)
    await console(request).end(session)  # a copy of the cookie no longer works, on any instance
    response = redirect("/signin")
    end_session(response)
    return response


@router.get("/")
async def tier_map(
    request: Request,
    q: Id = "",
    partner: Id = "",
    tier: Annotated[str, Query(pattern=r"^(organization|partner|controller|none)?$")] = "",
    offset: Offset = 0,
    poffset: Offset = 0,
) -> Response:
    session = await session_of(request)
    who = session.who
    if home(who) != "/":
        return redirect(home(who))
    controller = None
    controller_known = False  # whether the page knows if there is a controller default
    if sees_controller(who):
        answer = await call(request, session, "GET", scope_path("controller"))
        controller = answer.body if answer.ok else None
        controller_known = answer.ok or answer.status == 404
    partners = None
    if sees_partners(who):
        answer = await call(request, session, "GET", "/v1/tiermap/partners", params={"offset": poffset, "limit": PAGE})
        if not answer.ok:
            raise fail(request, session, answer)
        partners = answer.body
    params = {"q": q, "partner": partner, "tier": tier, "offset": offset, "limit": PAGE}
    answer = await call(request, session, "GET", "/v1/tiermap/organizations", params=params)
    if not answer.ok:
        raise fail(request, session, answer)
    orgs = answer.body
    health = await _tier_health(request, session) if sees_health(who) else None
    base = {"q": q, "partner": partner, "tier": tier}
    return render(
        request,
        "tiermap.html",
        who=who,
        csrf=session.csrf,
        controller=controller,
        inherits=inherits_words(controller, controller_known),
        partners=partners,
        partner_pager=_partner_pager(partners, poffset, base | {"offset": offset}),
        orgs=orgs,
        pager=Pager(orgs["total"], offset, PAGE, base | {"poffset": poffset}),
        filters=base,
        tier_words=TIER_WORDS,
        health=health,
        limited_partner=who.partner if who.role is Role.PARTNER_ADMIN else "",
    )


KEPT_HEALTH = 64
"""The most tokens whose tier map health markers are kept (the oldest goes first)."""


async def _tier_health(request: Request, session: Session) -> TierHealth | None:
    """The health markers of the last results within the token's reach (None: the map stands
    without them). The markers of the last answer are kept with its ``ETag`` and asked for
    with ``If-None-Match``: while nothing moved (304) they serve again, unparsed."""
    kept_by = console(request).kept_health
    kept = kept_by.pop(session.who.id, None)
    headers = {"If-None-Match": kept[0]} if kept else None
    answer = await call(request, session, "GET", "/v1/health", headers=headers)
    health: TierHealth | None
    if answer.status == 304 and kept is not None:
        health = kept[1]
    else:
        report = parse(answer.body) if answer.ok else None
        health = TierHealth(report) if report is not None else None
        kept = (answer.headers["etag"], health) if health is not None and answer.headers.get("etag") else None
    if kept is not None:  # the newest last: the oldest goes first
        while len(kept_by) >= KEPT_HEALTH:
            del kept_by[next(iter(kept_by))]
        kept_by[session.who.id] = kept
    return health


def _partner_pager(partners: dict[str, Any] | None, poffset: int, base: dict[str, Any]) -> Pager | None:
    return Pager(partners["total"], poffset, PAGE, base, "poffset") if partners else None


def _signin_again(request: Request, message: str, target: str, status: int = 400) -> Response:
    c = console(request)
    nonce = c.codec.login_nonce()
    response = render(
        request, "signin.html", status, csrf=c.codec.login_csrf(nonce), next=target, message=message, who=None
    )
    _login_cookie(request, response, nonce)
    return response


def _login_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
