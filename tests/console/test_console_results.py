"""What a check's result says on the scope page, apart from HTTP (``console.results``): a message
sent or only a login, a clear-text warning for a pass with TLS off, and a failure's advice in the
form's words whatever words the API's result carried; and times as the pages write them."""

from __future__ import annotations

from datetime import UTC, datetime

from smtp_iac.console.results import CLEAR_TEXT, LOGIN_ONLY, check_view, form_advice
from smtp_iac.console.timefmt import readable, time_tag
from smtp_iac.verify.result import ADVICE, Audience, Failure, advice

SEND = {"ok": True, "mode": "send", "detail": "send check passed", "elapsed_seconds": 0.25}
LOGIN = SEND | {"mode": "login", "detail": "login check passed"}
FAILED = {"ok": False, "mode": "login", "failure": "tls_mismatch", "stage": "tls", "detail": "handshake failed"}


def test_a_pass_says_what_was_done_and_warns_without_tls() -> None:
    sent = check_view(SEND, tls=True)
    assert (sent.ok, sent.headline, sent.warning, sent.elapsed) == (True, "Test passed: test email sent", "", "0.2 s")
    login = check_view(LOGIN, tls=True)
    assert login.headline == LOGIN_ONLY and "Test recipient" in login.hint and not login.warning
    assert check_view(LOGIN, tls=False).warning == CLEAR_TEXT == check_view(SEND, tls=False).warning
    assert not check_view(FAILED, tls=False).warning  # a failure has its own words


def test_a_failure_gives_its_class_and_the_forms_advice() -> None:
    view = check_view(FAILED | {"advice": ADVICE[Failure.TLS_MISMATCH]}, tls=True)
    assert (view.ok, view.headline, view.stage) == (False, "Test failed: tls_mismatch", "tls")
    assert view.advice == advice(Failure.TLS_MISMATCH, Audience.FORM) != ADVICE[Failure.TLS_MISMATCH]
    assert "tls_mode" not in view.advice
    assert form_advice("a-class-of-a-newer-service", "its own advice") == "its own advice"


def test_times_read_as_a_person_reads_them() -> None:
    at = datetime(2026, 12, 7, 13, 26, 42, 871912, tzinfo=UTC)
    assert readable(at) == "7 Dec 2026, 13:26 UTC"
    tag = str(time_tag("2026-12-07T13:26:42.871912Z"))
    assert tag == (
        '<time datetime="2026-12-07T13:26:42.871912Z" title="2026-12-07T13:26:42.871912Z" '
        "data-local>7 Dec 2026, 13:26 UTC</time>"
    )
    assert str(time_tag("2026-12-07T14:26:42+01:00")).endswith(">7 Dec 2026, 13:26 UTC</time>")
    assert str(time_tag("<b>not a time</b>")) == "&lt;b&gt;not a time&lt;/b&gt;" and str(time_tag(None)) == ""
