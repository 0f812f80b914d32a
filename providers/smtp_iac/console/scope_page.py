"""``/scopes/{address}``: the platform's SMTP form for one scope (Host, Port, TLS, Username,
Password; Send Test Email, Save), for those who may write it; the record as it is for those
who only read it.

- Send Test Email is ``POST /v1/scopes/{a}/test-email`` with the form's settings (the stored
  password when the field is empty): it logs in, and with a test recipient also sends.
  Without a script the page comes back with the result; with one (``console.js``) only the
  result is fetched, so the typed password stays in its field.
- Save is ``PUT /v1/scopes/{a}`` with the version the form was opened at: the API checks the
  settings first and writes only if the check passes. The page says before Save how many
  organizations' mail it moves (``/v1/blast-radius``) and, for a scope a stack manages, that
  the change will show as drift (the write is out of band: the stack keeps the scope).
- With a Test recipient but no From address (no Sender, and a Username that is not a mail
  address) neither is sent to the API: the page says so in the form's words, before any
  connection (the API's test-email refuses it with 422 too; its Save would fail the check).
- A result says what was done (a message sent, or only a login) in the form's words
  (``results``), with a warning when a login passed with TLS off.
- The password is never put back in a page: the field is always empty (write-only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..addresses import Address
from .api import Answer, org_path, scope_path
from .forms import FIELD_IDS, LABELS, NO_FROM, ScopeForm
from .results import RECORD_CLEAR_TEXT, CheckView, check_view
from .session import Session
from .views import TROUBLESHOOTING, blast_words, console_name, offers, scope_label
from .web import call, fail, posted, redirect, render, session_of

router = APIRouter(include_in_schema=False)


@router.get("/scopes/{address:path}")
async def scope_page(request: Request, address: str, saved: int | None = None) -> Response:
    session = await session_of(request)
    addr = _address(request, session, address)
    page = await _page(request, session, addr)
    flash = f"Saved: version {saved} is in force." if saved else None
    return render(request, "scope.html", form=ScopeForm.of_record(page["record"]), flash=flash, **page)


@router.post("/scopes/{address:path}")
async def scope_action(request: Request, address: str) -> Response:
    session = await session_of(request)
    addr = _address(request, session, address)
    data = await posted(request, session)
    form, password = ScopeForm.from_post(data)
    body, form = form.settings(password)
    action = data.get("action")
    fragment = request.headers.get("x-console-fragment") == "check"
    check: CheckView | None = None
    message: str | None = None
    if body is not None and action in ("test", "save") and (missing := form.no_from()) is not None:
        form, message = missing, NO_FROM  # the API would refuse it too (test-email: 422): said in the form's words
        if action == "save":
            message = f"Nothing was saved. {message}"
    elif body is not None and action == "test":
        answer = await call(request, session, "POST", scope_path(str(addr), "/test-email"), json=_test_body(body, form))
        check, message, form = _outcome(answer, form)
    elif body is not None and action == "save":
        verify = {"mode": "send", "to": form.test_to} if form.test_to else {"mode": "login"}
        precondition = {"If-Match": f'"{form.version}"'} if form.version else {"If-None-Match": "*"}
        answer = await call(
            request, session, "PUT", scope_path(str(addr)), json=body | {"verify": verify}, headers=precondition
        )
        if answer.ok:
            return redirect(f"/scopes/{addr}?saved={answer.body['record']['version']}")
        check, message, form = _outcome(answer, form)
        message = f"Nothing was saved. {message}" if message else "Nothing was saved."
    elif body is not None:
        message = "Choose Send Test Email or Save."
    if body is None:
        message = "Fix the form first: " + "; ".join(f"{LABELS.get(k, k)}: {v}" for k, v in form.errors.items())
    status = 200 if check is not None else 422
    if fragment:
        return render(request, "check_result.html", status, check=check, message=message, advice=TROUBLESHOOTING)
    page = await _page(request, session, addr)
    return render(request, "scope.html", status, form=form, check=check, message=message, typed=bool(password), **page)


def _test_body(settings: dict[str, Any], form: ScopeForm) -> dict[str, Any]:
    return {"settings": settings} | ({"to": form.test_to} if form.test_to else {})


def _outcome(answer: Answer, form: ScopeForm) -> tuple[CheckView | None, str | None, ScopeForm]:
    """The check's result, a message, and the form with the API's per-field errors."""
    if answer.ok:
        return check_view(answer.body, form.tls), None, form
    if answer.kind in ("verify_failed", "relay_failed") and isinstance(answer.body.get("verify"), dict):
        return check_view(answer.body["verify"], form.tls), None, form
    if answer.kind == "no_sender":
        return None, NO_FROM, form.no_from() or form
    errors = answer.field_errors()
    if answer.status == 412:
        return None, f"{answer.detail}. Someone changed this scope since you opened it: reload the page.", form
    return None, answer.detail + (f" ({answer.hint})" if answer.hint else ""), form.with_errors(errors)


def _address(request: Request, session: Session, text: str) -> Address:
    try:
        return Address.parse(text)
    except ValueError as e:
        raise fail(request, session, Answer(404, {"detail": str(e)})) from None


async def _page(request: Request, session: Session, addr: Address) -> dict[str, Any]:
    """Everything the page shows besides the form: the record, the switch, what the role is
    offered, the blast radius, the managing stack."""
    answer = await call(request, session, "GET", scope_path(str(addr)))
    if answer.status == 404 and answer.kind is None:
        record = None  # the scope inherits
    elif not answer.ok:
        raise fail(request, session, answer)
    else:
        record = answer.body
    smtp_enabled = True
    if addr.org:
        effective = await call(request, session, "GET", org_path(str(addr), "/effective"))
        if not effective.ok:
            raise fail(request, session, effective)
        smtp_enabled = bool(effective.body["smtp_enabled"])
    offer = offers(session.who, addr, smtp_enabled)
    blast = None
    if offer.write:
        radius = await call(request, session, "GET", f"/v1/blast-radius/{addr}")
        blast = blast_words(addr, radius.body["organizations"] if radius.ok else None, smtp_enabled)
    return {
        "who": session.who,
        "csrf": session.csrf,
        "address": str(addr),
        "addr": addr,
        "label": scope_label(addr),
        "console_name": console_name(addr),
        "record": record,
        "smtp_enabled": smtp_enabled,
        "offers": offer,
        "blast": blast,
        "advice": TROUBLESHOOTING,
        "labels": LABELS,
        "field_ids": FIELD_IDS,
        "clear_text": RECORD_CLEAR_TEXT,
    }
