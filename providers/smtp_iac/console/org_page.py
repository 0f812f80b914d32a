"""``/organizations/{org}``: the settings an organization's mail goes out with, the chain of
tiers that explains why, whether its mail works (the last relay health results, ``GET
/v1/health``), its SMTP switch (for those who may change it), the platform's advice when the
switch is off, and the audit trail of its scope.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..addresses import Address
from .api import Answer, org_path
from .health_view import org_line, parse
from .session import Session
from .views import STEP_WORDS, SWITCH_OFF_ADVICE, TIER_WORDS, offers, sees_health
from .web import call, fail, posted, redirect, render, session_of

router = APIRouter(include_in_schema=False)

AUDIT_ROWS = 20


@router.get("/organizations/{org:path}")
async def org_page(request: Request, org: str, switched: str | None = None) -> Response:
    session = await session_of(request)
    addr = _org(request, session, org)
    answer = await call(request, session, "GET", org_path(str(addr), "/effective"))
    if not answer.ok:
        raise fail(request, session, answer)
    effective = answer.body
    offer = offers(session.who, addr, bool(effective["smtp_enabled"]))
    audit = None
    if offer.audit:
        entries = await call(request, session, "GET", "/v1/audit", params={"address": str(addr), "limit": AUDIT_ROWS})
        audit = list(reversed(entries.body)) if entries.ok else None
    health = None
    if sees_health(session.who):  # the last results of this organization's relay
        answer = await call(request, session, "GET", "/v1/health", params={"org": str(addr)})
        health = org_line(parse(answer.body) if answer.ok else None, effective.get("source"))
    flash = {"on": "Organization-level SMTP is now on.", "off": "Organization-level SMTP is now off."}.get(
        switched or ""
    )
    return render(
        request,
        "organization.html",
        who=session.who,
        csrf=session.csrf,
        address=str(addr),
        addr=addr,
        effective=effective,
        offers=offer,
        audit=audit,
        health=health,
        flash=flash,
        tier_words=TIER_WORDS,
        step_words=STEP_WORDS,
        switch_off_advice=SWITCH_OFF_ADVICE,
    )


@router.post("/organizations/{org:path}/smtp")
async def switch(request: Request, org: str) -> Response:
    session = await session_of(request)
    addr = _org(request, session, org)
    data = await posted(request, session)
    enabled = data.get("enabled") == "on"
    answer = await call(request, session, "PUT", org_path(str(addr), "/smtp-enabled"), json={"enabled": enabled})
    if not answer.ok:
        raise fail(request, session, answer)
    return redirect(f"/organizations/{addr}?switched={'on' if enabled else 'off'}")


def _org(request: Request, session: Session, text: str) -> Address:
    try:
        addr = Address.parse(text)
    except ValueError as e:
        raise fail(request, session, Answer(404, {"detail": str(e)})) from None
    if not addr.org:
        raise fail(request, session, Answer(404, {"detail": f"{addr} is not an organization"}))
    return addr
