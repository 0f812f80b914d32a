"""A token holder who tries every door, and a client that sends what no client should: the
service over a real socket. The first tests are open doors (they fail until fixed); the rest
guard doors that are shut and that the role matrix and the fuzzer do not reach (path
spellings, the clients' endpoints, relay spellings, DNS rebinding, hostile passwords)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from service_support import ACME, BLUE, GREEN, INITECH, Svc, relay_body, relay_settings, running
from smtp_servers import silent_server

from smtp_iac.service.config import RateLimit
from smtp_iac.tokens import Role, new_token

UNKNOWN_TOKEN = "smtpiac_000000000000_" + "A" * 43


def _raw(svc: Svc, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` as is and read the answer's first bytes (b"" when none came in time)."""
    host, port = svc.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def _get(svc: Svc, path: bytes, token: str) -> bytes:
    head = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    return _raw(svc, head + b"Authorization: Bearer " + svc.tokens[token].encode() + b"\r\n\r\n")


@pytest.fixture
def lean(key, relay, ca_path, tmp_path) -> Iterator[Svc]:
    """The service on SQLite with the default rate limits (``serve`` without flags)."""
    with running(f"sqlite:///{tmp_path}/db/store.db", relay, ca_path, rate_limit=RateLimit()) as s:
        yield s


# ----- open doors -------------------------------------------------------------------------


def test_unknown_tenant_answers_do_not_name_other_partners(svc: Svc) -> None:
    """A 404 for an unknown organization must not say which partner owns an org of that name,
    nor suggest partner names ("did you mean initech?") to a token limited to acme."""
    with svc.client("partner-admin") as c:
        answers = [
            c.put(
                "/v1/scopes/partners/acme/organizations/hq", json=relay_body(svc.relay), headers={"If-None-Match": "*"}
            ),
            c.get("/v1/organizations/partners/acme/organizations/hq/effective"),
            c.put("/v1/organizations/partners/acme/organizations/hq/smtp-enabled", json={"enabled": True}),
            c.post("/v1/scopes/partners/inetech/organizations/x/test-email"),
        ]
    with svc.client("org-admin") as c:
        answers.append(c.post("/v1/scopes/partners/initec/organizations/x/test-email"))
        # an org's existence beyond reach: the same answer for a known and an unknown one
        known = c.put(
            f"/v1/scopes/{INITECH}/organizations/hq", json=relay_body(svc.relay), headers={"If-None-Match": "*"}
        )
        ghost = c.put(
            f"/v1/scopes/{INITECH}/organizations/ghost", json=relay_body(svc.relay), headers={"If-None-Match": "*"}
        )
    for r in answers:
        assert r.status_code in (403, 404), r.text
        assert "initech" not in r.text, r.text
    assert known.status_code == ghost.status_code == 403, (known.text, ghost.text)


def test_an_if_match_with_a_superscript_digit_is_412_not_500(svc: Svc) -> None:
    """records.precondition: str.isdigit() takes "²" (latin-1 0xB2), int() does not."""
    with svc.client("partner-admin") as c:
        for tag in (b'"\xb2"', b'"1\xb9"'):
            assert c.delete(f"/v1/scopes/{ACME}", headers={"If-Match": tag}).status_code == 412
            r = c.put(f"/v1/scopes/{ACME}", json=relay_body(svc.relay), headers={"If-Match": tag})
            assert r.status_code == 412, r.text


def test_http_method_names_do_not_grow_the_metrics(svc: Svc) -> None:
    """Without a token, each new method name adds a series to /metrics for good (memory, scrape size)."""
    for i in range(3):
        answer = _raw(svc, b"HOSTILEMETHOD%d /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i)
        assert answer.startswith(b"HTTP/1.1 4"), answer
    with svc.client("viewer") as c:
        text = c.get("/metrics").text
    assert "HOSTILEMETHOD" not in text


def test_an_unauthenticated_client_cannot_make_the_service_hold_a_tenants_sized_body(svc: Svc) -> None:
    """/v1/tenants may take 16 MB, but only from a sysadmin: a stranger is answered before the
    body is read (now the service waits for, and buffers, 16 MB per connection before its 401)."""
    head = (
        b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + UNKNOWN_TOKEN.encode() + b"\r\nContent-Length: 16000000\r\n\r\n"
    )
    answer = _raw(svc, head, timeout=3.0)
    assert answer.startswith((b"HTTP/1.1 401", b"HTTP/1.1 413")), f"no answer before the body: {answer!r}"


def test_slow_relays_of_a_few_tokens_do_not_starve_the_service(lean: Svc) -> None:
    """Checks hold a worker thread for up to timeout_seconds (120 s); with the default rate
    limit (burst 10 per token) five partner tokens fill the worker pool with checks against a
    relay that never greets, and then nobody, not even /healthz, is answered."""
    tokens = []
    for i in range(5):
        t = new_token(name=f"pipeline-{i}", role=Role.PARTNER_ADMIN, partner="acme", now=datetime.now(UTC))
        lean.store.create_token(t, actor="test")
        tokens.append(t.text)
    with silent_server() as srv:
        settings = relay_body(lean.relay, host="127.0.0.1", port=srv.port, tls=False)

        def check(token: str) -> None:
            with lean.client(token) as c:
                c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": settings, "timeout_seconds": 5})

        workers = [threading.Thread(target=check, args=(t,), daemon=True) for t in tokens for _ in range(10)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        try:
            health = httpx.get(lean.url + "/healthz", timeout=3).status_code
            with lean.client("viewer", timeout=3) as c:
                read = c.get("/v1/scopes/controller").status_code
        except httpx.TimeoutException:
            health = read = 0
        for w in workers:
            w.join(30)
    assert (health, read) == (200, 200), "the service stopped answering while slow checks ran"


def test_refused_attempts_cannot_bury_a_scopes_history(lean: Svc) -> None:
    """Every refused write is audited, without limit: a viewer's refused PUTs push a deletion out
    of the newest 100 entries that /v1/audit/query answers (drift's who and when)."""
    with lean.client("sysadmin") as c:
        assert c.delete(f"/v1/scopes/{INITECH}", headers={"If-Match": lean.etag(INITECH)}).status_code == 204
    with lean.client("viewer") as c:
        for _ in range(110):
            r = c.put(f"/v1/scopes/{INITECH}", json=relay_body(lean.relay), headers={"If-Match": '"1"'})
            assert r.status_code in (403, 429)
    with lean.client("sysadmin") as c:
        entries = c.post("/v1/audit/query", json={"addresses": [str(INITECH)]}).json()[str(INITECH)]
    assert any(e["action"] == "delete" and e["outcome"] == "ok" for e in entries), "the deletion is buried"


def test_an_org_admin_whose_switch_is_off_does_not_audit_write_attempts(svc: Svc) -> None:
    """/v1/audit/attempts asks decide(WRITE) without the SMTP switch: the org admin of green
    (switch off, may not write) can still add 'refused'/'verify_failed' entries with any detail."""
    with svc.client("org-admin-off") as c:
        r = c.post(
            "/v1/audit/attempts",
            json={"address": str(GREEN), "action": "update", "outcome": "verify_failed", "detail": "forged"},
        )
    assert r.status_code == 403, r.text
    with svc.client("sysadmin") as c:  # and no token may write terminal escapes or bidi controls into the log
        for detail in ("\x1b[31mforged", "a\u202eb", "c\x85d"):
            r = c.post(
                "/v1/audit/attempts",
                json={"address": str(GREEN), "action": "update", "outcome": "refused", "detail": detail},
            )
            assert r.status_code == 422, r.text


# ----- doors that are shut ----------------------------------------------------------------

BEYOND_ACME = [
    "partners/initech", "partners/acme-evil", "partners/acm", "partners%2Finitech", "partners/initech%20",
    "%20partners/initech", "partners/acme%2F..%2Finitech", "partners/acme/%2e%2e/initech", "partners/INITECH",
    "partners/initech%00", "partners/%D1%96nitech", "partners/acme/organizations/..%2F..%2Finitech",
    "partners/initech/organizations/hq", "partners/initech/organizations/hq/",
]  # fmt: skip


def test_path_spellings_never_reach_beyond_the_token(svc: Svc) -> None:
    with svc.client("partner-admin") as c:
        for p in BEYOND_ACME:
            assert c.get(f"/v1/scopes/{p}").status_code in (403, 404), p
            r = c.put(f"/v1/scopes/{p}", json=relay_body(svc.relay), headers={"If-None-Match": "*"})
            assert r.status_code in (403, 404), p
            assert c.get("/v1/audit", params={"address": p.replace("%2F", "/")}).status_code in (403, 404), p
    for path in (  # dot segments as sent, not normalised by a client
        b"/v1/scopes/partners/acme/../initech",
        b"/v1/scopes/partners/acme/organizations/blue/../../../initech",
        b"/v1/organizations/partners/acme/organizations/blue/../green/effective",
        b"/v1/../v1/scopes/partners/initech",
    ):
        answer = _get(svc, path, "org-admin")
        assert answer.startswith((b"HTTP/1.1 403", b"HTTP/1.1 404", b"HTTP/1.1 400")), (path, answer[:80])
    assert svc.store.get(INITECH) is not None


def test_snapshot_audit_fingerprints_and_release_stay_within_reach(svc: Svc) -> None:
    with svc.client("partner-admin") as c:
        snap = c.get("/v1/snapshot").json()
        assert {r["address"] for r in snap["records"]} <= {"controller", str(ACME), str(BLUE)}
        assert [r["password_fingerprint"] for r in snap["records"] if r["address"] == "controller"] == [None]
        assert list(snap["tenants"]["partners"]) == ["acme"]
        for addresses in (["partners/acme-evil"], [str(ACME), str(INITECH)], ["controller"]):
            assert c.post("/v1/audit/query", json={"addresses": addresses}).status_code == 403, addresses
        for address in ("partners/initech", "partners/acme-evil", "controller"):
            r = c.post(
                "/v1/audit/attempts", json={"address": address, "action": "update", "outcome": "refused", "detail": "x"}
            )
            assert r.status_code == 403, address
        for detail in ("a\r\nforged: entry", "x" * 2001):
            r = c.post(
                "/v1/audit/attempts",
                json={"address": str(ACME), "action": "update", "outcome": "refused", "detail": detail},
            )
            assert r.status_code == 422
        assert c.post(f"/v1/scopes/{INITECH}/release", params={"stack": "prod"}).status_code == 403
    with svc.client("org-admin") as c:
        snap = c.get("/v1/snapshot").json()
        assert [r["address"] for r in snap["records"]] == [str(BLUE)]
        assert snap["tenants"] == {"partners": {"acme": {"organizations": {"blue": {"smtp_enabled": True}}}}}
    with svc.client("org-admin-off") as c:
        snap = c.get("/v1/snapshot").json()  # the partner's record it inherits, without its fingerprint
        assert [(r["address"], r["password_fingerprint"]) for r in snap["records"]] == [(str(ACME), None)]
        assert c.post(f"/v1/scopes/{GREEN}/release", params={"stack": "prod"}).status_code == 403
    for token in ("viewer", "mailer"):
        with svc.client(token) as c:
            guess = {"items": [{"address": str(ACME), "secret": "guess"}]}
            assert c.post("/v1/fingerprints", json=guess).status_code == 403
            assert c.post(f"/v1/scopes/{ACME}/release", params={"stack": "prod"}).status_code == 403
            r = c.post(
                "/v1/audit/attempts",
                json={"address": str(ACME), "action": "delete", "outcome": "refused", "detail": "x"},
            )
            assert r.status_code == 403
    with svc.client("mailer") as c:
        assert c.get("/v1/snapshot").status_code == 403
        assert c.post("/v1/audit/query", json={"addresses": [str(BLUE)]}).status_code == 403


DENIED_SPELLINGS = [
    "::ffff:a9fe:a9fe",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "FE80::1",
    "febf::1",
]
INVALID_SPELLINGS = [  # what the resolver reads as an IPv4 address is one only as a dotted quad
    "0xA9FEA9FE",
    "0xa9.0xfe.0xa9.0xfe",
    "2852039166",
    "0251.0376.0251.0376",
    "169.254.43518",
    "[fe80::1]",
    "１６９.２５４.１６９.２５４",
    "169。254。169。254",
]


def test_other_spellings_of_link_local_are_refused(svc: Svc) -> None:
    sessions = svc.relay.stats.sessions
    with svc.client("sysadmin") as c:
        for host in DENIED_SPELLINGS + INVALID_SPELLINGS:
            r = c.post(
                f"/v1/scopes/{ACME}/test-email",
                json={"settings": relay_body(svc.relay, host=host), "timeout_seconds": 2},
            )
            assert r.status_code == (403 if host in DENIED_SPELLINGS else 422), (host, r.text)
        r = c.put(
            f"/v1/scopes/{ACME}",
            json=relay_body(svc.relay, host="::ffff:a9fe:a9fe"),
            headers={"If-Match": svc.etag(ACME)},
        )
        assert r.status_code == 403 and svc.store.audit_log(address=ACME)[-1].outcome == "refused"
    v = svc.store.get(BLUE).version  # type: ignore[union-attr]
    # a record from before hex spellings were refused: the resolver still reads it as link-local
    svc.store.put(BLUE, relay_settings(svc.relay, host="0xa9fea9fe"), expected_version=v, stack=None, actor="t")
    with svc.client("mailer") as c:
        message = {"kind": "alert", "to": "ops@example.com", "subject": "s", "text": "t"}
        assert c.post(f"/v1/organizations/{BLUE}/messages", json=message).status_code == 403
    assert svc.relay.stats.sessions == sessions


def test_a_name_that_resolves_or_rebinds_to_link_local_is_refused(svc: Svc, monkeypatch) -> None:
    real, calls = socket.getaddrinfo, {"rebind.example": 0}

    def fake(host, port, *args, **kwargs):
        if host == "metadata.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        if host == "rebind.example":  # harmless to the policy's look-up, link-local to the check's
            calls[host] += 1
            ip = "127.0.0.1" if calls[host] == 1 else "169.254.169.254"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    sessions = svc.relay.stats.sessions
    with svc.client("partner-admin") as c:
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": relay_body(svc.relay, host="metadata.example")})
        assert r.status_code == 403, r.text
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": relay_body(svc.relay, host="rebind.example")})
    assert r.status_code == 200, r.text
    if calls["rebind.example"] >= 2:  # the check resolved anew: the policy must hold there too
        assert r.json()["ok"] is False and r.json()["failure"] == "connection_refused", r.text
        assert "deny-relay" in r.json()["detail"] and svc.relay.stats.sessions == sessions


CANARY = "Canary-9xQ!hostile-secret"


def test_hostile_passwords_and_bodies_are_never_echoed(svc: Svc, caplog) -> None:
    bodies = [
        relay_body(svc.relay, password=CANARY + "\r\nRCPT TO:<x@evil.example>"),
        relay_body(svc.relay, password=CANARY * 250),  # 6,250 characters
        relay_body(svc.relay, password=CANARY + "\x00"),
        relay_body(svc.relay, password={"value": CANARY}),
        relay_body(svc.relay, password=[CANARY]),
        relay_body(svc.relay, password=CANARY, port="x", passwd=CANARY),
        relay_body(svc.relay, password=CANARY, verify={"mode": "off"}),
    ]
    texts = []
    with svc.client("sysadmin") as c:
        for b in bodies:
            texts.append(c.put(f"/v1/scopes/{ACME}", json=b, headers={"If-Match": svc.etag(ACME)}).text)
            texts.append(c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": b}).text)
        dup = b'{"host":"127.0.0.1","port":1,"tls":true,"username":"u","password":"%s","password":7}' % CANARY.encode()
        r = c.put(
            f"/v1/scopes/{ACME}", content=dup, headers={"If-Match": svc.etag(ACME), "content-type": "application/json"}
        )
        assert r.status_code == 422
        texts.append(r.text)
        texts.append(c.get("/v1/audit").text)
    for text in texts:
        assert CANARY not in text, text[:300]
    assert CANARY not in caplog.text and all(t not in caplog.text for t in svc.tokens.values())


def test_a_non_ascii_password_is_not_spelled_out_by_a_failed_check(svc: Svc, caplog) -> None:
    """smtplib cannot send a non-ASCII password; the check reports the UnicodeEncodeError's own
    text, which names the character and its position in AUTH's string (verify/check.py), in the
    answer, the log and the audit log that viewers read."""
    password = "hunter2-Gr\u00fcne-secret"
    with svc.client("partner-admin") as c:
        tested = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": relay_body(svc.relay, password=password)})
        put = c.put(
            f"/v1/scopes/{ACME}", json=relay_body(svc.relay, password=password), headers={"If-Match": svc.etag(ACME)}
        )
    with svc.client("viewer") as c:
        audit = c.get("/v1/audit", params={"address": str(ACME)}).text
    assert tested.status_code in (200, 422) and put.status_code == 422
    for text in (tested.text, put.text, audit, caplog.text):
        assert "\\xfc" not in text and "\u00fc" not in text and "\\u00fc" not in text, text[-400:]
        assert "in position" not in text, text[-400:]
