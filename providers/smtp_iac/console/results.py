"""A check's result as the scope page says it (``CheckView``), decided apart from HTTP: what was
done (a test message sent, or only a login when no Test recipient was given), a clear-text
warning when a login passed with TLS off, and on a failure its class and the advice in the
form's own words (``verify.result.advice`` for the form: "TLS mode", "Sender", never a stack
file's ``tls_mode`` or ``verify.from``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..verify.result import Audience, Failure, advice

CLEAR_TEXT = (
    "TLS is off: the Username and Password went to the relay in clear text, readable by anyone on "
    "the network path. Switch TLS on (587: STARTTLS, 465: SSL/TLS) unless the relay is on a network "
    "you trust."
)
RECORD_CLEAR_TEXT = (
    "TLS is off: the Username and Password go to this relay in clear text. Switch TLS on unless the "
    "relay is on a network you trust."
)
LOGIN_ONLY = "Login OK; no message sent: no test recipient given"
LOGIN_ONLY_HINT = "Fill in Test recipient to also send a test message."


def form_advice(failure: str | None, given: str = "") -> str:
    """The advice for a failure class in the form's words; ``given`` for a class this version
    does not know."""
    try:
        return advice(Failure(failure or ""), Audience.FORM)
    except ValueError:
        return given


@dataclass(frozen=True)
class CheckView:
    ok: bool
    headline: str
    detail: str
    elapsed: str
    advice: str = ""
    hint: str = ""
    warning: str = ""
    stage: str = ""


def check_view(check: Mapping[str, Any], tls: bool) -> CheckView:
    """The result of a check of the form's settings (``tls``: the form's TLS switch), from the
    API's check record (``CheckOut``)."""
    ok = bool(check.get("ok"))
    detail = str(check.get("detail") or "")
    try:
        elapsed = f"{float(check.get('elapsed_seconds') or 0):.1f} s"
    except (TypeError, ValueError):
        elapsed = ""
    if not ok:
        failure = str(check.get("failure") or "unknown")
        return CheckView(
            False,
            f"Test failed: {failure}",
            detail,
            elapsed,
            advice=form_advice(failure, str(check.get("advice") or "")),
            stage=str(check.get("stage") or ""),
        )
    warning = "" if tls else CLEAR_TEXT
    if check.get("mode") == "send":
        return CheckView(True, "Test passed: test email sent", detail, elapsed, warning=warning)
    return CheckView(True, LOGIN_ONLY, detail, elapsed, hint=LOGIN_ONLY_HINT, warning=warning)
