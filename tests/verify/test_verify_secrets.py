"""The password never appears in what a check reports: detail, advice, to_dict, JSON, the
VerifyFailed error, or logs; not even when the server echoes it back."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import smtp_servers
from smtp_servers import TEST_PASSWORD, TEST_USER

from smtp_iac.addresses import Address
from smtp_iac.errors import VerifyFailed
from smtp_iac.verify import run_check, verify_many
from smtp_iac.verify.redact import MASK

pytestmark = pytest.mark.timeout(120)

FORMS = [
    TEST_PASSWORD,
    base64.b64encode(TEST_PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{TEST_USER}\0{TEST_PASSWORD}".encode()).decode(),
]


def assert_clean(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text


def our_logs(caplog) -> str:
    """Everything logged but by the test servers themselves (aiosmtpd's "mail.log")."""
    return "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records if not r.name.startswith("mail."))


def everything_said(result) -> list[str]:
    err = VerifyFailed(result.address, result) if not result.ok else None
    return [
        result.detail,
        result.advice,
        repr(result),
        str(result.to_dict()),
        json.dumps(result.to_dict()),
        result.summary(),
        *([str(err), repr(err), err.message, err.hint or ""] if err else []),
    ]


def test_a_server_echoing_the_password_in_its_reply_is_redacted(smtp_server, settings, options, caplog):
    echoed = []

    def reply(login: str, password: str) -> str:
        text = f"535 5.7.8 bad credentials for {login} with password {password}"
        echoed.append(text)
        return text

    caplog.set_level(logging.DEBUG)
    with smtp_server(tls="starttls", users={}, auth_failure_reply=reply) as srv:
        r = run_check(settings(srv.port), options("login"), address=Address.parse("controller"))
    assert TEST_PASSWORD in echoed[0]  # the server really sent it back
    assert r.failure == "auth_failed"
    assert MASK in r.detail and "535 5.7.8 bad credentials for relay-user" in r.detail
    assert "smtp_iac.verify" in our_logs(caplog)
    assert_clean(*everything_said(r), our_logs(caplog))


def test_no_output_of_any_outcome_holds_the_password(ca, settings, options, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    results = []
    with (
        smtp_servers.smtp_server(tls="starttls", ca=ca) as ok_srv,
        smtp_servers.smtp_server(tls="starttls", ca=ca, users={}) as bad_srv,
        smtp_servers.smtp_server(tls="implicit", ca=ca) as implicit_srv,
        smtp_servers.smtp_server(tls="starttls", ca=ca, reject_recipients=["ops@example.com"]) as rcpt_srv,
        smtp_servers.silent_server() as silent,
        smtp_servers.garbage_server() as garbage,
    ):
        cases = [
            settings(ok_srv.port),
            settings(bad_srv.port),
            settings(implicit_srv.port, "starttls"),
            settings(ok_srv.port, "implicit"),
            settings(rcpt_srv.port),
            settings(silent.port),
            settings(garbage.port),
            settings(smtp_servers.closed_port()),
            settings(25, host="relay.example.invalid"),
        ]
        for i, s in enumerate(cases):
            # 1 s for the silent server (a greeting timeout); 10 s for the others, whose class
            # must not turn into a timeout on a machine busy with the rest of a parallel run
            limit = {} if s.port == silent.port else {"timeout_seconds": 10}
            results.append(run_check(s, options("send", **limit), address=Address.parse(f"partners/p{i}")))
        results.append(run_check(cases[0], options("send", ca_file=None), address=Address.parse("partners/untrusted")))
        many = verify_many([(Address.parse(f"partners/m{i}"), s) for i, s in enumerate(cases)], options("login"))
    assert {r.failure for r in results} >= {
        None,
        "auth_failed",
        "greeting_timeout",
        "tls_mismatch",
        "recipient_rejected",
        "protocol",
        "connection_refused",
        "dns",
        "cert_verify",
    }
    for r in [*results, *many.values()]:
        assert_clean(*everything_said(r))
    assert "smtp_iac.verify" in our_logs(caplog)  # the check logs its results...
    assert_clean(our_logs(caplog))  # ...without the password
