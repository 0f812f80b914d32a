"""Every failure class of SPEC, produced for real against loopback servers and classified
right, each check finishing within its timeout plus a margin (a bound, not a speed claim)."""

from __future__ import annotations

import pytest
import smtp_servers
from smtp_servers import TEST_PASSWORD

from smtp_iac.addresses import Address
from smtp_iac.verify import ADVICE, Failure, run_check

pytestmark = pytest.mark.timeout(60)


def check_failed(result, failure: str, stage: str, bound: float) -> None:
    assert not result.ok, result.detail
    assert result.failure == failure, (result.failure, result.stage, result.detail)
    assert result.stage == stage, (result.stage, result.detail)
    assert result.advice == ADVICE[failure]
    assert result.elapsed_seconds < bound
    assert TEST_PASSWORD not in result.detail


def test_dns(settings, options, bound):
    r = run_check(settings(587, host="smtp.no-such-relay.invalid"), options(), address=Address.parse("controller"))
    check_failed(r, "dns", "connect", bound)
    assert "smtp.no-such-relay.invalid" in r.detail
    assert "hostname" in r.advice


def test_an_idn_host_is_looked_up_as_its_idna_2008_a_label(settings, options, bound):
    """The host the check connects to is the one validation accepted. Python's own codec is
    IDNA 2003, which maps 'ß' to 'ss': 'faß.invalid' would be looked up as 'fass.invalid',
    another name than the one reviewed."""
    r = run_check(settings(587, host="smtp.faß.invalid"), options(), address=Address.parse("controller"))
    check_failed(r, "dns", "connect", bound)
    assert "smtp.xn--fa-hia.invalid" in r.detail and "fass" not in r.detail


def test_connection_refused(settings, options, bound):
    r = run_check(settings(smtp_servers.closed_port()), options(), address=Address.parse("controller"))
    check_failed(r, "connection_refused", "connect", bound)
    assert "refused" in r.detail
    assert "outbound connections" in r.advice


def test_connect_timeout_on_a_listener_that_never_accepts(settings, options, bound):
    # The accept queue is full, so the kernel drops our SYN: a genuine connect timeout.
    with smtp_servers.unaccepting_listener() as port:
        r = run_check(settings(port), options(), address=Address.parse("controller"))
    check_failed(r, "connect_timeout", "connect", bound)
    assert "the check's time limit ran out (verify.timeout_seconds: 1 s" in r.detail
    assert "25 is often blocked" in r.advice


def test_greeting_timeout_on_a_server_that_never_greets(settings, options, bound):
    with smtp_servers.silent_server() as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "greeting_timeout", "greeting", bound)
    assert srv.connections == 1


def test_starttls_client_on_implicit_tls_port_is_a_greeting_timeout(implicit_server, settings, options, bound):
    r = run_check(settings(implicit_server.port, "starttls"), options(), address=Address.parse("controller"))
    check_failed(r, "greeting_timeout", "greeting", bound)
    assert "implicit-TLS port looks exactly like a silent server" in r.advice
    assert "tls_mode: implicit" in r.advice


def test_plain_client_on_implicit_tls_port_is_a_greeting_timeout(implicit_server, settings, options, bound):
    r = run_check(settings(implicit_server.port, "none"), options(), address=Address.parse("controller"))
    check_failed(r, "greeting_timeout", "greeting", bound)


def test_implicit_tls_client_on_starttls_port_is_a_tls_mismatch(starttls_server, settings, options, bound):
    r = run_check(settings(starttls_server.port, "implicit"), options(), address=Address.parse("controller"))
    check_failed(r, "tls_mismatch", "tls", bound)
    assert "587" in r.advice and "465" in r.advice


def test_implicit_tls_client_on_plain_port_is_a_tls_mismatch(plain_server, settings, options, bound):
    r = run_check(settings(plain_server.port, "implicit"), options(), address=Address.parse("controller"))
    check_failed(r, "tls_mismatch", "tls", bound)


def test_implicit_tls_client_on_a_silent_server_times_out(settings, options, bound):
    with smtp_servers.silent_server() as srv:
        r = run_check(settings(srv.port, "implicit"), options(), address=Address.parse("controller"))
    check_failed(r, "greeting_timeout", "tls", bound)


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_cert_from_an_untrusted_ca(mode, smtp_server, settings, options, bound):
    # no ca_file: the system trust store does not know the test CA
    with smtp_server(tls=mode) as srv:
        r = run_check(settings(srv.port, mode), options(ca_file=None), address=Address.parse("controller"))
    check_failed(r, "cert_verify", "starttls" if mode == "starttls" else "tls", bound)
    assert "ca_file" in r.advice
    assert srv.messages == []


def test_cert_from_another_private_ca(settings, options, bound, tmp_path):
    other = smtp_servers.make_ca()
    with smtp_servers.smtp_server(tls="starttls", ca=other) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))  # trusts the first CA only
    check_failed(r, "cert_verify", "starttls", bound)


def test_cert_for_another_host_name(smtp_server, settings, options, bound):
    with smtp_server(tls="starttls", cert_hostnames=["relay.example.com"]) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "cert_verify", "starttls", bound)
    assert "127.0.0.1" in r.detail


def test_starttls_not_offered(smtp_server, settings, options, bound):
    with smtp_server(tls="starttls", offer_starttls=False) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "starttls_not_offered", "starttls", bound)
    assert srv.stats.auth_attempts == 0  # credentials were not sent in clear


def test_starttls_against_a_plain_only_server(plain_server, settings, options, bound):
    r = run_check(settings(plain_server.port, "starttls"), options(), address=Address.parse("controller"))
    check_failed(r, "starttls_not_offered", "starttls", bound)


def test_auth_not_offered(smtp_server, settings, options, bound):
    with smtp_server(tls="starttls", offer_auth=False) as srv:
        r = run_check(settings(srv.port), options("login"), address=Address.parse("controller"))
    check_failed(r, "auth_not_offered", "auth", bound)


def test_auth_not_offered_before_tls(starttls_server, settings, options, bound):
    # tls: false against a server that offers AUTH only after STARTTLS (a common setup)
    r = run_check(settings(starttls_server.port, "none"), options("login"), address=Address.parse("controller"))
    check_failed(r, "auth_not_offered", "auth", bound)
    assert "without TLS" in r.detail


def test_auth_offered_without_a_usable_mechanism(smtp_server, settings, options, bound):
    # "AUTH" with no mechanism this client speaks (aiosmtpd's built-ins excluded)
    with smtp_server(tls="starttls", exclude_auth=["PLAIN", "LOGIN"]) as srv:
        r = run_check(settings(srv.port), options("login"), address=Address.parse("controller"))
    check_failed(r, "auth_not_offered", "auth", bound)
    assert "none that this client supports" in r.detail


def test_auth_failed(starttls_server, settings, options, bound):
    r = run_check(
        settings(starttls_server.port, password="wrong-password"), options("login"), address=Address.parse("controller")
    )
    check_failed(r, "auth_failed", "auth", bound)
    assert "535" in r.detail and "relay-user" in r.detail
    assert "wrong-password" not in r.detail
    assert "credentials" in r.advice


def test_sender_rejected(smtp_server, settings, options, bound):
    with smtp_server(reject_senders=["no-reply@example.com"]) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "sender_rejected", "mail", bound)
    assert "550 5.7.1" in r.detail
    assert srv.messages == []


def test_recipient_rejected(smtp_server, settings, options, bound):
    with smtp_server(reject_recipients=["ops@example.com"]) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "recipient_rejected", "rcpt", bound)
    assert "550 5.1.1" in r.detail and "ops@example.com" in r.detail
    assert srv.messages == []


def test_garbage_greeting_is_protocol(settings, options, bound):
    with smtp_servers.garbage_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "protocol", "greeting", bound)
    assert "HTTP/1.1 400 Bad Request" in r.detail


def test_refusing_greeting_is_protocol_with_the_reply(settings, options, bound):
    with smtp_servers.garbage_server(b"554 5.3.2 relay.example.com no service here\r\n") as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "protocol", "greeting", bound)
    assert "554 5.3.2 relay.example.com no service here" in r.detail


def test_a_dripping_server_cannot_stretch_a_stage(settings, options, bound):
    # One byte every 0.2 s: each read succeeds within the socket timeout, but the stage
    # deadline (the watchdog) still ends it.
    with smtp_servers.drip_server(interval=0.2) as srv:
        r = run_check(settings(srv.port), options(), address=Address.parse("controller"))
    check_failed(r, "greeting_timeout", "greeting", bound)


CASES = {
    "dns": test_dns,
    "connection_refused": test_connection_refused,
    "connect_timeout": test_connect_timeout_on_a_listener_that_never_accepts,
    "greeting_timeout": test_greeting_timeout_on_a_server_that_never_greets,
    "tls_mismatch": test_implicit_tls_client_on_starttls_port_is_a_tls_mismatch,
    "cert_verify": test_cert_from_an_untrusted_ca,
    "starttls_not_offered": test_starttls_not_offered,
    "auth_not_offered": test_auth_not_offered,
    "auth_failed": test_auth_failed,
    "sender_rejected": test_sender_rejected,
    "recipient_rejected": test_recipient_rejected,
    "protocol": test_garbage_greeting_is_protocol,
}


def test_every_failure_class_has_a_real_case():
    assert set(CASES) == set(Failure)
