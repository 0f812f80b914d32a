"""Hostile callers, second round: what a token holder could still do, each closed and proved
against the real service on loopback and a real aiosmtpd relay.

- Mail header forgery: an RFC 2047 encoded word that decodes to CR/LF in a mailer's subject, a
  test message's ``to`` or a record's ``sender`` wrote header lines of its own (a second
  ``From:``, an HTML body). Each is now 422 before any connection.
- ``--deny-relay``: the unspecified addresses reached a relay on loopback past a loopback deny.
- Responses carry no-store and nosniff; no redirect takes its host from the ``Host`` header.
- Send Test Email masks only what came from the relay: a caller's own text that happens to hold
  the stored password is not masked (the mask would confirm a guess).
- Comparisons: fingerprints are bound to their scope; at most 20 different candidates per scope,
  token and hour are answered, on every instance alike; a saved plan's seal has its own key.
- Console sign-out ends the session on the server: a copy of the cookie stops working everywhere.
"""

from __future__ import annotations

import ipaddress
import re

import httpx
import pytest
from service_support import ACME, BLUE, GREEN, INITECH, Svc, relay_body, relay_settings
from smtp_servers import TEST_PASSWORD

from smtp_iac.addresses import Address
from smtp_iac.verify.message import build_system_message, build_test_message, header_problem

FORGED_SUBJECT = (
    "=?utf-8?q?Reset=0D=0AFrom:_security@bank.example=0D=0AContent-Type:_text/html=0D=0A=0D=0A"
    "<a_href=3Dhttp://evil.example>reset</a>?="
)
FORGED_TO = "=?utf-8?q?x=0D=0AX-Injected=3A_yes?=@example.com"
FORGED_SENDER = "=?utf-8?b?bm9yZXBseQ0KUmVwbHktVG86IGV2aWxAZXZpbC5leGFtcGxl?=@example.com"  # ...\r\nReply-To: evil
ENCODED_BREAKS = [
    FORGED_SUBJECT,
    "=?utf-8?b?UmVzZXQNCkZyb206IHhAeQ==?=",  # base64 of "Reset\r\nFrom: x@y"
    "=?iso-8859-1?q?a=0Ab?=",  # LF alone
    "=?utf-8?q?a=00b?=",  # NUL
    "=?utf-8?q?a=C2=85b?=",  # NEL, a line break to str.splitlines
    "Hello =?utf-8?q?w=0D=0Aorld?= again",  # inside other words
]


# ----- the message builders, on this Python -------------------------------------------------


@pytest.mark.parametrize("subject", ENCODED_BREAKS)
def test_an_encoded_word_that_decodes_to_a_line_break_is_refused(subject):
    assert header_problem(subject) is not None
    with pytest.raises(ValueError, match="encoded word"):
        build_system_message(
            kind="alert", from_addr="a@example.com", to_addr="b@example.com", subject=subject, text="t"
        )


@pytest.mark.parametrize("to", [FORGED_TO, FORGED_SENDER])
def test_an_address_whose_encoded_word_decodes_to_a_line_break_is_refused(to):
    with pytest.raises(ValueError, match="refused"):
        build_test_message(address="controller", from_addr="a@example.com", to_addr=to, host="h", port=25, tls_mode="x")
    with pytest.raises(ValueError, match="refused"):
        build_test_message(address="controller", from_addr=to, to_addr="b@example.com", host="h", port=25, tls_mode="x")


def test_harmless_encoded_words_still_pass_and_the_header_block_is_what_was_set():
    subject = "Hello =?utf-8?q?w=C3=B6rld?="
    assert header_problem(subject) is None
    msg = build_system_message(
        kind="alert", from_addr="a@example.com", to_addr="b@example.com", subject=subject, text="t"
    )
    head = msg.as_bytes().split(b"\r\n\r\n", 1)[0].decode()
    assert [line.split(":")[0] for line in head.splitlines()] == list(msg.keys())
    assert head.count("From:") == 1


# ----- through the service -------------------------------------------------------------------


def test_the_mailer_refuses_a_forged_subject_or_recipient_before_connecting(svc: Svc):
    sessions = svc.relay.stats.sessions
    with svc.client("mailer") as c:
        for field, value in (("subject", FORGED_SUBJECT), ("to", FORGED_TO)):
            message = {"kind": "password_reset", "to": "user@example.com", "subject": "Reset", "text": "t"}
            r = c.post(f"/v1/organizations/{BLUE}/messages", json=message | {field: value})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert "encoded word" in r.text and field in r.text
    assert svc.relay.stats.sessions == sessions and not svc.relay.messages


def test_a_stored_forged_sender_is_refused_before_connecting(svc: Svc):
    """A record written before this rule (the store takes it): the mailer still sends nothing."""
    v = svc.store.get(BLUE).version  # type: ignore[union-attr]
    svc.store.put(BLUE, relay_settings(svc.relay, sender=FORGED_SENDER), expected_version=v, stack=None, actor="t")
    sessions = svc.relay.stats.sessions
    with svc.client("mailer") as c:
        message = {"kind": "alert", "to": "ops@example.com", "subject": "s", "text": "t"}
        r = c.post(f"/v1/organizations/{BLUE}/messages", json=message)
    assert r.status_code == 422 and "encoded word" in r.text, r.text
    assert svc.relay.stats.sessions == sessions and not svc.relay.messages


def test_test_email_refuses_forged_addresses_with_422_before_connecting(svc: Svc):
    sessions = svc.relay.stats.sessions
    with svc.client("sysadmin") as c:
        for body in (
            {"to": FORGED_TO},
            {"to": "ops@example.com", "from": FORGED_SENDER},
            {"to": "ops@example.com", "settings": relay_body(svc.relay, sender=FORGED_SENDER)},
        ):
            r = c.post(f"/v1/scopes/{ACME}/test-email", json=body)
            assert r.status_code == 422 and "encoded word" in r.text, (body, r.text)
        r = c.put(
            f"/v1/scopes/{ACME}", json=relay_body(svc.relay, sender=FORGED_SENDER), headers={"If-Match": svc.etag(ACME)}
        )
        assert r.status_code == 422 and "sender" in r.text, r.text
    assert svc.relay.stats.sessions == sessions and not svc.relay.messages


def test_test_email_without_a_usable_from_is_422_before_connecting(svc: Svc):
    sessions = svc.relay.stats.sessions
    with svc.client("sysadmin") as c:
        settings = relay_body(svc.relay)  # its username is no mail address
        del settings["sender"]
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": settings, "to": "ops@example.com"})
        assert r.status_code == 422, r.text
        assert r.json()["kind"] == "no_sender" and "nothing was sent" in r.json()["detail"]
        # without a recipient it only logs in: no From is needed
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": settings})
        assert r.status_code == 200 and r.json()["ok"], r.text
        # a write checked in mode send is refused alike, before any connection, and not written
        etag = svc.etag(ACME)
        body = {**settings, "verify": {"mode": "send", "to": "ops@example.com"}}
        r = c.put(f"/v1/scopes/{ACME}", json=body, headers={"If-Match": etag})
        assert r.status_code == 422 and r.json()["kind"] == "no_sender", r.text
        assert "verify.from" in r.json()["hint"] and svc.etag(ACME) == etag
    assert svc.relay.stats.sessions == sessions + 1 and not svc.relay.messages


def test_a_legitimate_message_with_an_encoded_word_is_sent_with_one_from(svc: Svc):
    with svc.client("mailer") as c:
        message = {"kind": "alert", "to": "ops@example.com", "subject": "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "text": "t"}
        r = c.post(f"/v1/organizations/{BLUE}/messages", json=message)
    assert r.status_code == 202, r.text
    [got] = svc.relay.messages
    assert got.message["Subject"] == "Grüße" and len(got.message.get_all("From")) == 1


# ----- --deny-relay: the address connected to ------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "::ffff:0:0", "0:0:0:0:0:ffff:0.0.0.0"])
def test_unspecified_addresses_count_as_loopback(backend, relay, ca_path, host):
    from service_support import running

    deny = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    with running(backend, relay, ca_path, deny_relay=deny) as svc, svc.client("sysadmin") as c:
        sessions = svc.relay.stats.sessions
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": relay_body(relay, host=host)})
        assert r.status_code == 403 and r.json()["kind"] == "relay_denied", r.text
        assert "reaches this host" in r.json()["detail"]
        assert svc.relay.stats.sessions == sessions


def test_the_loopback_relay_is_reachable_through_0_0_0_0_without_the_deny(svc: Svc):
    """What the deny closes is real: with link-local denied only, 0.0.0.0 reaches the relay."""
    with svc.client("sysadmin") as c:
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": relay_body(svc.relay, host="0.0.0.0")})
    assert r.status_code == 200, r.text


# ----- responses --------------------------------------------------------------------------------


def test_every_api_answer_is_no_store_and_nosniff(svc: Svc):
    with svc.client("sysadmin") as c:
        for r in (
            c.get(f"/v1/scopes/{ACME}"),
            c.get("/v1/scopes/partners/nobody"),
            c.get("/healthz"),
            c.get("/openapi.json"),
            c.post("/v1/fingerprints", content=b"{", headers={"content-type": "application/json"}),
        ):
            assert r.headers["cache-control"] == "no-store", (r.request.url, r.headers)
            assert r.headers["x-content-type-options"] == "nosniff"
    with svc.client() as c:
        r = c.get("/v1/snapshot")
        assert r.status_code == 401 and r.headers["cache-control"] == "no-store"


def test_no_redirect_takes_its_host_from_the_host_header(svc: Svc):
    with svc.client("sysadmin", follow_redirects=False) as c:
        for path in ("/v1/snapshot/", "/v1/scopes/", "/healthz/", "/metrics/"):
            r = c.get(path, headers={"Host": "evil.example"})
            assert r.status_code in (401, 403, 404), (path, r.status_code, r.headers)
            assert "evil.example" not in r.headers.get("location", "")


# ----- test-email masks the relay's words, not the caller's -------------------------------------


def test_the_callers_own_text_is_not_masked(svc: Svc):
    """A ``to`` holding the stored password (a guess) comes back as written: a mask there would
    confirm the guess. What the relay says is still masked (tests/verify prove that)."""
    with svc.client("sysadmin") as c:
        to = f"{TEST_PASSWORD}@example.com"
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"to": to})
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert "********" not in r.json()["detail"]
    assert r.json()["detail"].count(to) == 1


# ----- comparisons: bound to their scope, at most 20 different candidates per scope and hour ----


def _compare(c, address, *secrets):
    return c.post("/v1/fingerprints", json={"items": [{"address": str(address), "secret": s} for s in secrets]})


def test_fingerprints_the_service_shows_are_bound_to_their_scope(svc: Svc):
    """ACME and BLUE hold the same password: the service shows two unrelated fingerprints, a
    candidate's matches only the scope it was asked for, and no store fingerprint leaves it."""
    stored = svc.store.get(ACME).password_fingerprint  # type: ignore[union-attr]
    assert svc.store.get(BLUE).password_fingerprint == stored  # type: ignore[union-attr]
    with svc.client("partner-admin") as c:
        snap = c.get("/v1/snapshot").json()
        shown = {r["address"]: r["password_fingerprint"] for r in snap["records"]}
        assert shown[str(ACME)] != shown[str(BLUE)] and stored not in shown.values()
        at_acme = _compare(c, ACME, TEST_PASSWORD).json()["fingerprints"]
        at_blue = _compare(c, BLUE, TEST_PASSWORD).json()["fingerprints"]
        assert at_acme == [shown[str(ACME)]] and at_blue == [shown[str(BLUE)]]
        answers = [
            c.get(f"/v1/scopes/{ACME}").text,
            c.get(f"/v1/organizations/{BLUE}/effective").text,
            c.get("/v1/audit", params={"address": str(ACME)}).text,
            c.post("/v1/audit/query", json={"addresses": [str(ACME), str(BLUE)]}).text,
            c.put(f"/v1/scopes/{ACME}", json=relay_body(svc.relay), headers={"If-Match": svc.etag(ACME)}).text,
        ]
    assert all(stored not in a for a in answers)
    assert shown[str(ACME)] in answers[0]  # the same within its scope: drift and plans compare as before


def test_a_guessing_partner_admin_gets_20_answers_per_scope_and_hour(svc: Svc):
    """The attack that found an org admin's password among 288 candidates: now the 21st
    different candidate at a scope is 429 (audited), whatever the batch; asking again for one
    already answered costs nothing; other scopes and other tokens have their own budget."""
    guesses = [f"Summer20{i:02d}!" for i in range(287)] + [TEST_PASSWORD]
    with svc.client("partner-admin") as c:
        r = _compare(c, BLUE, *guesses)
        assert r.status_code == 429 and r.headers["retry-after"] == "3600", r.text
        assert r.json()["address"] == str(BLUE) and "20 different passwords" in r.json()["detail"]
        assert _compare(c, BLUE, *guesses[:20]).status_code == 200  # 20 are answered
        assert _compare(c, BLUE, *reversed(guesses[:20])).status_code == 200  # again: free
        assert _compare(c, BLUE, guesses[20]).status_code == 429
        assert _compare(c, BLUE, TEST_PASSWORD).status_code == 429  # the right one is never reached
        assert _compare(c, ACME, *guesses[:20]).status_code == 200  # another scope: its own 20
    with svc.client("sysadmin") as c:
        assert _compare(c, BLUE, TEST_PASSWORD).status_code == 200  # another token: its own 20
    refused = [e for e in svc.store.audit_log(address=BLUE) if e.action == "compare"]
    assert refused and {e.outcome for e in refused} == {"refused"}
    assert all(TEST_PASSWORD not in e.detail and "Summer" not in e.detail for e in refused)
    assert refused[-1].actor == "partner-admin (partner-admin of partners/acme)"


def test_a_scope_the_token_may_not_write_gets_no_fingerprint_and_costs_nothing(svc: Svc):
    """A partner admin's stack may name the controller (the plan refuses it as forbidden): its
    answer equals no fingerprint, and no number of such candidates fills the store."""
    with svc.client("partner-admin") as c:
        for address in (INITECH, Address()):
            r = _compare(c, address, *[f"g{i}" for i in range(50)])
            assert r.status_code == 200 and set(r.json()["fingerprints"]) == {"not-compared"}, r.text


def test_two_instances_share_the_budget(backend, relay, ca_path):
    from live_service import ServerThread
    from service_support import config_for, running

    from smtp_iac.service.app import create_app

    with running(backend, relay, ca_path) as a:
        b = ServerThread(create_app(config_for(backend, ca_path))).start()
        try:
            token = {"Authorization": f"Bearer {a.tokens['partner-admin']}"}
            with httpx.Client(base_url=a.url, headers=token) as ca, httpx.Client(base_url=b.url, headers=token) as cb:
                assert _compare(ca, BLUE, *[f"a{i}" for i in range(10)]).status_code == 200
                assert _compare(cb, BLUE, *[f"b{i}" for i in range(10)]).status_code == 200
                assert _compare(cb, BLUE, "a3", "b7").status_code == 200  # known to both
                assert _compare(ca, BLUE, "c").status_code == 429
                assert _compare(cb, BLUE, "c").status_code == 429
        finally:
            b.stop()


def test_a_saved_plans_seal_uses_its_own_key(svc: Svc):
    digest = "sha256:" + "ab" * 32
    with svc.client("sysadmin") as c:
        r = c.post("/v1/seals", json={"sha256": digest})
        assert r.status_code == 200, r.text
        seal = r.json()["seal"]
        assert seal == svc.store.seal(digest) and seal.startswith("hmac-sha256:")
        assert svc.store.fingerprint(ACME, digest) not in seal  # not the fingerprint key
        assert c.post("/v1/seals", json={"sha256": "not a digest"}).status_code == 422
    with svc.client("viewer") as c:
        assert c.post("/v1/seals", json={"sha256": digest}).status_code == 403


# ----- console sign-out ends the session on the server ------------------------------------------

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def test_sign_out_ends_the_session_on_every_instance(backend, relay, ca_path):
    from live_service import ServerThread
    from service_support import config_for, running

    from smtp_iac.console.session import SESSION_COOKIE
    from smtp_iac.service.app import create_app

    with running(backend, relay, ca_path) as a:
        b = ServerThread(create_app(config_for(backend, ca_path))).start()
        try:
            c = httpx.Client(base_url=a.url, timeout=30)
            csrf = CSRF.search(c.get("/signin").text).group(1)
            assert c.post("/signin", data={"csrf": csrf, "token": a.tokens["sysadmin"]}).status_code == 303
            copy = c.cookies[SESSION_COOKIE]
            for url in (a.url, b.url):  # the copy works on both instances
                assert httpx.get(url + "/", cookies={SESSION_COOKIE: copy}).status_code == 200
            csrf = CSRF.search(c.get("/").text).group(1)
            r = c.post("/signout", data={"csrf": csrf}, headers={"Origin": a.url})
            assert r.status_code == 303 and r.headers["location"] == "/signin"
            for url in (a.url, b.url):  # and on neither once signed out
                r = httpx.get(url + "/", cookies={SESSION_COOKIE: copy})
                assert r.status_code == 303 and r.headers["location"].startswith("/signin"), url
                assert httpx.get(url + "/signin", cookies={SESSION_COOKIE: copy}).status_code == 200  # no loop
        finally:
            b.stop()


# ----- second sweep: what a hostile re-test of the fixes above found ------------------------------


def test_a_refused_write_does_not_audit_the_fingerprint_of_its_password(svc: Svc):
    """A stale If-Match with a guess was refused, and audited with the guess's fingerprint beside
    the stored one: an unmetered comparison. The service shows no fingerprint of a password that
    was not written; and a token's refused attempts at a scope are 20 an hour, then 429."""
    with svc.client("partner-admin") as c:
        guess = relay_body(svc.relay, password=TEST_PASSWORD)  # the right one: it must not show
        statuses = [
            c.put(f"/v1/scopes/{ACME}", json=guess, headers={"If-Match": '"999"'}).status_code for _ in range(22)
        ]
        assert statuses[:20] == [412] * 20 and statuses[20:] == [429, 429], statuses
        entries = c.get("/v1/audit", params={"address": str(ACME)}).json()
        refused = [e for e in entries if e["outcome"] == "conflict"]
        assert len(refused) == 20 and {e["new_fingerprint"] for e in refused} == {None}
    assert len([e for e in svc.store.audit_log(address=ACME) if e.outcome == "conflict"]) == 20


def test_client_reported_attempts_are_charged_too(svc: Svc):
    with svc.client("org-admin") as c:
        body = {"address": str(BLUE), "action": "delete", "outcome": "refused", "detail": "flood"}
        statuses = [c.post("/v1/audit/attempts", json=body).status_code for _ in range(22)]
    assert statuses[:20] == [204] * 20 and statuses[20:] == [429, 429], statuses


def test_the_relays_echo_of_a_callers_address_tells_nothing_with_the_stored_password(svc: Svc, caplog):
    """A relay that echoes a refused recipient (Postfix does) and a mask over the password in it
    told an org admin whether its guess, written as the recipient, was the stored password. With
    the stored password the relay's words after MAIL/RCPT/DATA are withheld: the answer to a right
    guess and to a wrong one differ only by the address the caller wrote; the log masks both."""
    right, wrong = f"{TEST_PASSWORD}@reject.test", "Wrong-guess-1234@reject.test"
    svc.relay.reject_recipients |= {right.lower(), wrong.lower()}
    with svc.client("org-admin") as c:
        answers = [c.post(f"/v1/scopes/{BLUE}/test-email", json={"to": to}).json() for to in (right, wrong)]
    assert [a["failure"] for a in answers] == ["recipient_rejected"] * 2
    assert answers[0]["detail"].replace(right, "X") == answers[1]["detail"].replace(wrong, "X")
    assert "5.1.1" in answers[0]["detail"] and "withheld" in answers[0]["detail"]
    assert "********" not in answers[0]["detail"]
    with svc.client("mailer") as c:
        message = {"kind": "alert", "subject": "s", "text": "t"}
        sent = [c.post(f"/v1/organizations/{BLUE}/messages", json=message | {"to": to}) for to in (right, wrong)]
    assert [r.status_code for r in sent] == [502, 502]
    assert sent[0].json()["detail"].replace(right, "X") == sent[1].json()["detail"].replace(wrong, "X")
    assert TEST_PASSWORD not in caplog.text  # the log line masks the caller's own text too


def test_encoded_words_that_pass_one_decoding_are_refused(svc: Svc):
    """A subject encoded twice decodes, once, to another encoded word that decodes to CR LF (a
    consumer decoding the header again writes a Bcc); an encoded word in an address's local part
    became other addresses in the To header."""
    with svc.client("mailer") as c:
        for field, value in (
            ("subject", "=?utf-8?b?PT91dGYtOD9xPz0wZD0wYUJjYzpfZUB4Pz0=?="),
            ("subject", "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0d=3D0aBcc:_e@x=3F=3D?="),
            ("to", "=?utf-8?q?evil=40attacker.com=2C_x?=@example.com"),
        ):
            message = {"kind": "alert", "to": "ops@example.com", "subject": "s", "text": "t"} | {field: value}
            r = c.post(f"/v1/organizations/{BLUE}/messages", json=message)
            assert r.status_code == 422 and "encoded word" in r.text, (field, r.text)
    with svc.client("sysadmin") as c:
        r = c.put(
            f"/v1/scopes/{ACME}",
            json=relay_body(svc.relay, sender="=?utf-8?q?security=40bank.com=3E=2C_=3Cx?=@example.com"),
            headers={"If-Match": svc.etag(ACME)},
        )
        assert r.status_code == 422 and "encoded word" in r.text, r.text
    assert not svc.relay.messages


def test_an_org_admin_whose_switch_is_off_gets_no_comparison(svc: Svc):
    with svc.client("sysadmin") as c:
        assert c.put(f"/v1/organizations/{GREEN}/smtp-enabled", json={"enabled": True}).status_code == 200
        r = c.put(f"/v1/scopes/{GREEN}", json=relay_body(svc.relay), headers={"If-None-Match": "*"})
        assert r.status_code == 201, r.text
        assert c.put(f"/v1/organizations/{GREEN}/smtp-enabled", json={"enabled": False}).status_code == 200
    with svc.client("org-admin-off") as c:
        assert _compare(c, GREEN, TEST_PASSWORD).json()["fingerprints"] == ["not-compared"]


def test_sign_ins_of_one_token_are_paced(svc: Svc):
    c = httpx.Client(base_url=svc.url, timeout=30)
    statuses = []
    for _ in range(12):
        csrf = CSRF.search(c.get("/signin").text).group(1)
        statuses.append(c.post("/signin", data={"csrf": csrf, "token": svc.tokens["viewer"]}).status_code)
        c.cookies.clear()
    assert statuses[:10] == [303] * 10 and statuses[10:] == [429, 429], statuses


def test_a_lone_surrogate_in_a_password_is_422_not_500(svc: Svc):
    raw = b'{"settings": {"host": "127.0.0.1", "port": 9, "tls": false, "username": "u", "password": "p\\udc80"}}'
    with svc.client("sysadmin") as c:
        r = c.post(f"/v1/scopes/{ACME}/test-email", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "surrogate" in r.text, r.text
        put = raw.replace(b'{"settings": ', b"")[:-1]
        r = c.put(f"/v1/scopes/{ACME}", content=put, headers={"content-type": "application/json", "If-Match": '"999"'})
        assert r.status_code == 422 and "surrogate" in r.text, r.text
