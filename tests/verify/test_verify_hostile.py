"""Hostile relays (hostile input), for real on loopback: a relay that never stops talking is stopped
at the reply caps (``protocol``, "sent too much"), and one that talks too slowly is stopped at
the check's one deadline, ``timeout_seconds`` from the start of the check, in the class of the
stage it was in. Elapsed-time bounds here are the deadline rule (timeout + 1.5 s), not speed."""

from __future__ import annotations

import threading

import pytest
import smtp_servers
from hostile_relays import (
    HOSTILE_REPLIES,
    TERSE_REPLIES,
    dialogue,
    endless_greeting,
    endless_line,
    huge_ehlo,
    scripted_server,
)

from smtp_iac.addresses import Address
from smtp_iac.verify import ADVICE, run_check
from smtp_iac.verify.client import MAX_LINE_OCTETS, MAX_REPLY_LINES, MAX_REPLY_OCTETS

pytestmark = pytest.mark.timeout(120)

CONTROLLER = Address.parse("controller")
SLACK = 1.5
"""The deadline is enforced within a second; this is the bound a check's time must stay under."""


def plain(settings, port: int):
    return settings(port, "none")


def assert_failed(r, failure: str, stage: str, *, within: float, says: tuple[str, ...] = ()) -> None:
    assert not r.ok, r.detail
    assert (r.failure, r.stage) == (failure, stage), r.detail
    assert r.advice == ADVICE[failure]
    assert r.elapsed_seconds < within, r.elapsed_seconds
    for text in says:
        assert text in r.detail, (text, r.detail)


# ----- too much: the caps ------------------------------------------------------------------


def test_an_endless_multiline_greeting_is_stopped_at_the_line_cap(settings, options):
    with scripted_server(endless_greeting) as srv:
        r = run_check(plain(settings, srv.port), options("login", timeout_seconds=5), address=CONTROLLER)
    # protocol, not greeting_timeout: reading stopped at the cap, not at the deadline
    assert_failed(
        r,
        "protocol",
        "greeting",
        within=5 + SLACK,
        says=(
            "sent too much in its greeting",
            f"more than {MAX_REPLY_LINES} lines",
            "RFC 5321 allows 512 octets a line",
        ),
    )
    assert "220-relay.example.com still greeting you" in r.detail  # how the reply began


def test_one_greeting_line_without_end_is_stopped_at_the_line_length_cap(settings, options):
    with scripted_server(endless_line) as srv:
        r = run_check(plain(settings, srv.port), options("login", timeout_seconds=5), address=CONTROLLER)
    assert_failed(
        r, "protocol", "greeting", within=5 + SLACK, says=("sent too much", f"a line of more than {MAX_LINE_OCTETS:,}")
    )


def test_an_ehlo_reply_of_10000_lines_is_protocol_at_ehlo(settings, options):
    with scripted_server(huge_ehlo(10_000)) as srv:
        r = run_check(plain(settings, srv.port), options("login"), address=CONTROLLER)
    assert_failed(
        r,
        "protocol",
        "ehlo",
        within=1 + SLACK,
        says=("sent too much in its reply to EHLO", f"more than {MAX_REPLY_LINES} lines"),
    )


def test_too_much_in_total_even_in_few_long_lines(settings, options):
    line = b"250-" + b"x" * (MAX_LINE_OCTETS - 6) + b"\r\n"  # at the line cap, each one allowed
    count = MAX_REPLY_OCTETS // len(line) + 1
    with scripted_server(dialogue({"EHLO": line * count + b"250 AUTH PLAIN\r\n"})) as srv:
        r = run_check(plain(settings, srv.port), options("login"), address=CONTROLLER)
    assert count < MAX_REPLY_LINES
    assert_failed(r, "protocol", "ehlo", within=1 + SLACK, says=(f"more than {MAX_REPLY_OCTETS // 1024} KiB",))


def test_too_much_in_a_reply_to_auth_is_not_taken_for_an_auth_failure(settings, options):
    # smtplib's AUTH loop and the check's own handlers catch SMTP errors; "too much" is none of them
    with scripted_server(dialogue({"AUTH": b"535-no\r\n" * (MAX_REPLY_LINES + 10) + b"535 no\r\n"})) as srv:
        r = run_check(plain(settings, srv.port), options("login"), address=CONTROLLER)
    assert_failed(r, "protocol", "auth", within=1 + SLACK, says=("sent too much in its reply to AUTH",))


def test_replies_at_the_caps_are_accepted(settings, options):
    """The caps are generous: a reply of exactly MAX_REPLY_LINES lines, and a line of exactly
    MAX_LINE_OCTETS octets, are read as any other."""
    long_line = b"250-" + b"x" * (MAX_LINE_OCTETS - 6) + b"\r\n"
    assert len(long_line) == MAX_LINE_OCTETS
    ehlo = long_line + b"".join(b"250-X-EXT-%04d\r\n" % i for i in range(MAX_REPLY_LINES - 3)) + b"250 AUTH PLAIN\r\n"
    with scripted_server(dialogue({"EHLO": b"250-relay\r\n" + ehlo})) as srv:
        r = run_check(plain(settings, srv.port), options("send"), address=CONTROLLER)
    assert r.ok, r.detail


# ----- too slow: one deadline for the whole check --------------------------------------------


def test_a_relay_dripping_every_reply_fails_at_the_check_deadline(settings, options):
    # One byte every 0.3 s. The greeting (5 bytes) takes 1.5 s, the EHLO reply (22 bytes) 6.6 s:
    # each stage alone is under 7 s (a per-stage limit would let the check go on to AUTH and
    # pass at about 9.6 s), but the check's 7 s run out during EHLO.
    with scripted_server(dialogue(TERSE_REPLIES), drip=0.3) as srv:
        r = run_check(plain(settings, srv.port), options("login", timeout_seconds=7), address=CONTROLLER)
    assert_failed(
        r,
        "protocol",
        "ehlo",
        within=7 + SLACK,
        says=("did not answer EHLO in time", "the check's time limit ran out", "verify.timeout_seconds: 7 s"),
    )
    assert r.elapsed_seconds >= 7 - 0.05  # it ran out of time, nothing else ended it


def test_slow_but_valid_stages_whose_sum_exceeds_the_timeout(settings, options):
    # Every reply 0.8 s late: greeting at 0.8 s, EHLO at 1.6 s, AUTH at 2.4 s. Each stage is
    # well under 2 s; the conversation is not.
    with scripted_server(dialogue(), delay=0.8) as srv:
        r = run_check(plain(settings, srv.port), options("login", timeout_seconds=2), address=CONTROLLER)
        assert_failed(
            r,
            "protocol",
            "auth",
            within=2 + SLACK,
            says=("did not answer AUTH in time", "the check's time limit ran out", "verify.timeout_seconds: 2 s"),
        )
        # the same relay, given the time, passes: it is slow, not broken
        ok = run_check(plain(settings, srv.port), options("login", timeout_seconds=5), address=CONTROLLER)
    assert ok.ok, ok.detail


@pytest.mark.parametrize(
    "late,failure,stage,says",
    [
        ("greeting", "greeting_timeout", "greeting", "sent no complete SMTP greeting"),
        ("MAIL", "protocol", "mail", "did not answer MAIL FROM in time"),
        ("message", "protocol", "data", "did not answer DATA in time"),
    ],
)
def test_a_timeout_keeps_the_class_of_its_stage(late, failure, stage, says, settings, options):
    release = threading.Event()

    def late_reply(_line: bytes) -> bytes:
        release.wait(10)  # longer than the whole check may take
        return HOSTILE_REPLIES[late]

    try:
        with scripted_server(dialogue({late: late_reply})) as srv:
            r = run_check(plain(settings, srv.port), options("send", timeout_seconds=2), address=CONTROLLER)
    finally:
        release.set()
    assert_failed(r, failure, stage, within=2 + SLACK, says=(says, "the check's time limit ran out"))


def test_the_deadline_counts_the_tls_handshake_too(settings, options):
    # a silent server under implicit TLS: the handshake gets the check's time, no more
    with smtp_servers.silent_server() as srv:
        r = run_check(settings(srv.port, "implicit"), options("login", timeout_seconds=2), address=CONTROLLER)
    assert_failed(
        r, "greeting_timeout", "tls", within=2 + SLACK, says=("TLS handshake", "the check's time limit ran out")
    )


def test_a_valid_relay_still_passes_in_send_mode(settings, options):
    with scripted_server(dialogue()) as srv:
        r = run_check(plain(settings, srv.port), options("send"), address=CONTROLLER)
    assert r.ok, r.detail
