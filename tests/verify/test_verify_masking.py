"""Mask before cut (hostile input): a relay reply is kept to 600 characters, and the password in it
(in every form the Redactor knows) is masked BEFORE the cut, so a password that straddles the
cut leaves no part of itself behind. "No part" is checked as: no substring of 8 characters or
more of the secret appears in anything the check reports or logs."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from hostile_relays import dialogue, scripted_server

from smtp_iac.addresses import Address
from smtp_iac.errors import VerifyFailed
from smtp_iac.verify import run_check
from smtp_iac.verify.client import MAX_REPLY_LINES
from smtp_iac.verify.redact import MASK, MAX_DETAIL, Redactor, reply_text

pytestmark = pytest.mark.timeout(120)

SECRET = "Zq8#Lm2$Rv9!Tk4&Hp6*Wd3"
USER = "echo-user"
CUT = MAX_DETAIL - 3  # reply_text keeps this many characters, then "..."
STRADDLING = [CUT - 20, CUT - 12, CUT - 8, CUT - 1]
"""Start offsets (in the reply's text) at which the echoed secret runs across the cut."""


def forms(user: str, password: str) -> dict[str, str]:
    """The password as a relay may echo it: plain, as the AUTH PLAIN blob, as AUTH LOGIN's base64."""
    return {
        "plain": password,
        "auth-plain-blob": base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
        "auth-login-base64": base64.b64encode(password.encode()).decode(),
    }


def leaks(secret: str, *texts: str, n: int = 8) -> list[str]:
    """Every substring of ``secret`` of ``n`` characters found in ``texts`` (a longer leaked
    substring always contains one of these)."""
    found = {secret[i : i + n] for i in range(len(secret) - n + 1) for t in texts if secret[i : i + n] in t}
    return sorted(found)


def everything_said(r, caplog) -> list[str]:
    err = VerifyFailed(r.address, r)
    logs = "\n".join(f"{x.name}: {x.getMessage()}" for x in caplog.records if not x.name.startswith("mail."))
    return [r.detail, r.summary(), repr(r), json.dumps(r.to_dict()), str(err), err.message, err.hint or "", logs]


# ----- pure: reply_text with the Redactor ------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "auth-plain-blob", "auth-login-base64"])
def test_no_part_of_a_secret_survives_a_cut_at_any_offset(form):
    secret = forms(USER, SECRET)[form]
    redact = Redactor(USER, SECRET)
    for start in range(0, MAX_DETAIL + 20):
        text = reply_text("x" * start + secret + " tail " + "y" * 200, redact)
        assert len(text) <= MAX_DETAIL
        assert not leaks(secret, text), (start, text[-60:])


def test_a_secret_split_over_two_reply_lines_is_masked():
    redact = Redactor(USER, SECRET)
    half = len(SECRET) // 2
    text = reply_text(f"5.7.8 bad password {SECRET[:half]}\n{SECRET[half:]} try again", redact)
    assert not leaks(SECRET, text) and MASK in text
    assert text.startswith("5.7.8 bad password ") and text.endswith(" try again")


def test_masking_keeps_the_rest_of_the_reply():
    redact = Redactor(USER, SECRET)
    assert reply_text(f"535 no {SECRET} no\r\n", redact) == f"535 no {MASK} no"
    assert redact.parts(["a", "b"]) == ["a", "b"]


# ----- through real relays ---------------------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "auth-plain-blob", "auth-login-base64"])
@pytest.mark.parametrize("start", STRADDLING)
def test_a_535_echoing_the_password_across_the_cut(start, form, smtp_server, settings, options, caplog):
    caplog.set_level(logging.DEBUG)
    echoed: list[str] = []

    def reply(login: str, password: str) -> str:
        text = "5.7.8 " + "p" * (start - 6) + forms(login, password)[form] + " is not accepted here"
        echoed.append(text)
        return f"535 {text}"

    with smtp_server(tls="starttls", users={}, auth_failure_reply=reply) as srv:
        r = run_check(
            settings(srv.port, username=USER, password=SECRET), options("login"), address=Address.parse("controller")
        )
    secret = forms(USER, SECRET)[form]
    assert echoed and echoed[-1].index(secret) == start  # the relay really put it across the cut
    assert r.failure == "auth_failed", r.detail
    assert "535 5.7.8 ppp" in r.detail
    assert not leaks(secret, *everything_said(r, caplog))
    assert not leaks(SECRET, *everything_said(r, caplog))


@pytest.mark.parametrize("start", STRADDLING)
def test_a_garbage_reply_echoing_the_password_across_the_cut(start, settings, options, caplog):
    # garbage (no reply code) is shown raw, as the relay sent it: masked first there too
    garbage = b"XYZ " + b"g" * (start - 4) + SECRET.encode() + b" end\r\n"
    with scripted_server(dialogue({"MAIL": garbage})) as srv:
        r = run_check(
            settings(srv.port, "none", username=USER, password=SECRET),
            options("send"),
            address=Address.parse("controller"),
        )
    assert (r.failure, r.stage) == ("protocol", "mail"), r.detail
    assert "with garbage: 'XYZ ggg" in r.detail
    assert not leaks(SECRET, *everything_said(r, caplog))


def test_a_reply_wrapping_the_password_over_two_lines(settings, options, caplog):
    half = len(SECRET) // 2
    wrapped = f"535-5.7.8 bad credentials {SECRET[:half]}\r\n535 {SECRET[half:]} refused\r\n".encode()
    with scripted_server(dialogue({"AUTH": wrapped})) as srv:
        r = run_check(
            settings(srv.port, "none", username=USER, password=SECRET),
            options("login"),
            address=Address.parse("controller"),
        )
    assert r.failure == "auth_failed", r.detail
    assert "bad credentials" in r.detail and "refused" in r.detail
    assert not leaks(SECRET, *everything_said(r, caplog))


def test_too_much_that_begins_with_the_password(settings, options, caplog):
    # the "sent too much" message quotes how the reply began: masked before that is cut too
    first = b"535-" + b"q" * 70 + SECRET.encode() + b"\r\n"
    flood = first + b"535-more\r\n" * (MAX_REPLY_LINES + 5) + b"535 end\r\n"
    with scripted_server(dialogue({"AUTH": flood})) as srv:
        r = run_check(
            settings(srv.port, "none", username=USER, password=SECRET),
            options("login"),
            address=Address.parse("controller"),
        )
    assert (r.failure, r.stage) == ("protocol", "auth"), r.detail
    assert "sent too much" in r.detail and "535-qqq" in r.detail
    assert not leaks(SECRET, *everything_said(r, caplog))
