"""The test message: built with the email package; CR/LF/NUL in an address or the subject
refused before anything is sent (no header injection)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from smtp_iac.addresses import Address
from smtp_iac.models import VerifyOptions
from smtp_iac.verify import run_check
from smtp_iac.verify.message import UnsafeField, build_test_message

pytestmark = pytest.mark.timeout(60)

BASE = dict(
    address="partners/acme",
    from_addr="no-reply@example.com",
    to_addr="ops@example.com",
    host="smtp.example.com",
    port=587,
    tls_mode="starttls",
)


def parse(msg):
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_headers_and_body_name_the_scope():
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    m = parse(build_test_message(**BASE, now=when, shared_with=["partners/acme", "controller"]))
    assert m["From"] == "no-reply@example.com" and m["To"] == "ops@example.com"
    assert m["Subject"] == "smtp-iac test email for partners/acme"
    assert m["Date"] == "Wed, 02 Jan 2030 03:04:05 +0000"
    assert str(m["Message-ID"]).strip().endswith("@example.com>")
    body = m.get_content()
    assert "partners/acme" in body and "smtp.example.com port 587" in body
    assert "1 more scope(s): controller" in body


@pytest.mark.parametrize(
    "field,value",
    [
        ("from_addr", "a@example.com\r\nBcc: victim@example.org"),
        ("from_addr", "a@example.com\nBcc: victim@example.org"),
        ("to_addr", "ops@example.com\rBcc: victim@example.org"),
        ("to_addr", "ops@example.com\x00"),
        ("to_addr", "Ops <ops@example.com>"),
        ("to_addr", "a@example.com, b@example.com"),
        ("address", "partners/acme\r\nBcc: victim@example.org"),
        ("host", "smtp.example.com\nX: y"),
    ],
)
def test_injection_is_refused(field, value):
    with pytest.raises(UnsafeField):
        build_test_message(**{**BASE, field: value})


def test_options_refuse_cr_lf_in_addresses():
    with pytest.raises(ValidationError):
        VerifyOptions.model_validate({"mode": "send", "to": "ops@example.com\r\nBcc: x@example.org"})
    with pytest.raises(ValidationError):
        VerifyOptions.model_validate({"mode": "send", "to": "a@b.c", "from": "x@example.com\nBcc: y@z"})


def test_a_sender_with_cr_lf_is_refused_before_connecting(starttls_server, settings, options, bound):
    s = settings(starttls_server.port, sender="a@example.com\r\nBcc: victim@example.org")
    r = run_check(s, options("send"), address=Address.parse("controller"))
    assert (r.failure, r.stage) == ("sender_rejected", "mail")
    assert "control character or line break" in r.detail and "nothing was sent" in r.detail
    assert starttls_server.stats.sessions == 0


def test_send_without_a_from_address_is_refused_before_connecting(starttls_server, settings, options):
    s = settings(starttls_server.port, sender=None, username="apikey")
    r = run_check(s, options("send"), address=Address.parse("controller"))
    assert (r.failure, r.stage) == ("sender_rejected", "mail")
    assert "verify.from" in r.detail
    assert starttls_server.stats.sessions == 0
