"""A passing check, for real, in each TLS mode: STARTTLS (587-style), implicit TLS (465-style)
and plain, each with AUTH; the test message arrives with the expected headers."""

from __future__ import annotations

import email.utils

import pytest
from smtp_servers import TEST_PASSWORD, TEST_SENDER, TEST_TO, TEST_USER

from smtp_iac.addresses import Address
from smtp_iac.verify import run_check

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("mode", ["starttls", "implicit", "none"])
def test_send_mode_succeeds_and_message_arrives_with_headers(mode, smtp_server, settings, options, bound):
    with smtp_server(tls=mode) as srv:
        result = run_check(settings(srv.port, mode), options("send"), address=Address.parse("partners/acme"))

    assert result.ok, result.detail
    assert (result.failure, result.stage, result.skipped, result.mode) == (None, None, False, "send")
    assert result.address == Address.parse("partners/acme")
    assert f"TLS: {mode}" in result.detail and "250" in result.detail
    assert result.elapsed_seconds < bound
    assert srv.stats.sessions == 1

    [received] = srv.messages
    assert received.auth_login == TEST_USER  # it really authenticated
    assert received.mail_from == TEST_SENDER
    assert received.rcpt_tos == [TEST_TO]
    msg = received.message
    assert msg["From"] == TEST_SENDER
    assert msg["To"] == TEST_TO
    assert "partners/acme" in msg["Subject"]
    assert msg["X-Smtp-Iac-Verify"] == "partners/acme"
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    mid = str(msg["Message-ID"]).strip()
    assert mid.startswith("<") and mid.endswith("@example.com>")
    body = msg.get_content()
    assert "partners/acme" in body and str(srv.port) in body
    assert TEST_PASSWORD not in received.data.decode()


def test_from_defaults_to_verify_from_then_sender_then_username(smtp_server, settings, options):
    with smtp_server() as srv:
        assert run_check(
            settings(srv.port), options("send", **{"from": "verify@example.org"}), address=Address.parse("controller")
        ).ok
        assert run_check(
            settings(
                srv.port,
                sender=None,
                username="me@example.net",
            ),
            options("send"),
            address=Address.parse("controller"),
        ).detail
    senders = [m.mail_from for m in srv.messages]
    assert senders[0] == "verify@example.org"
    # the second check authenticates as me@example.net, whom the server does not know
    assert len(senders) == 1

    with smtp_server(users={"me@example.net": TEST_PASSWORD}) as srv:
        r = run_check(
            settings(srv.port, sender=None, username="me@example.net"),
            options("send"),
            address=Address.parse("controller"),
        )
    assert r.ok, r.detail
    assert [m.mail_from for m in srv.messages] == ["me@example.net"]


def test_login_mode_stops_after_auth(starttls_server, settings, options):
    result = run_check(settings(starttls_server.port), options("login"), address=Address.parse("controller"))
    assert result.ok and result.mode == "login"
    assert "authenticated as" in result.detail
    assert starttls_server.stats.sessions == 1
    assert starttls_server.stats.auth_attempts == 1
    assert starttls_server.messages == []


def test_login_mode_without_username_checks_up_to_tls(starttls_server, settings, options):
    result = run_check(
        settings(starttls_server.port, username=""), options("login"), address=Address.parse("controller")
    )
    assert result.ok, result.detail
    assert starttls_server.stats.auth_attempts == 0


def test_mode_off_is_skipped_without_a_connection(starttls_server, settings, options):
    result = run_check(settings(starttls_server.port), options("off"), address=Address.parse("controller"))
    assert result.ok and result.skipped and result.mode == "off"
    assert result.to_dict()["skipped"] is True
    assert starttls_server.stats.sessions == 0


def test_ca_file_relative_to_base_dir(starttls_server, settings, options, ca_file):
    opts = options("login", ca_file=ca_file.name)
    result = run_check(
        settings(starttls_server.port), opts, address=Address.parse("controller"), base_dir=ca_file.parent
    )
    assert result.ok, result.detail


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_ipv6_literal_host(ca, settings, options):
    import smtp_servers

    with smtp_servers.smtp_server(tls="starttls", ca=ca, host="::1", cert_hostnames=["::1"]) as srv:
        r = run_check(settings(srv.port, host="::1"), options("send"), address=Address.parse("controller"))
    assert r.ok, r.detail
    assert len(srv.messages) == 1
