"""The platform's mailer path against a real relay, and the service's limits: relay
destinations it refuses, rate limits per token, body size, and problem+json everywhere."""

from __future__ import annotations

import socket

import httpx
import pytest
from service_support import ACME, BLUE, CONTROLLER, GREEN, HQ, INITECH, Svc, relay_body, relay_settings, running
from smtp_servers import TEST_SENDER, closed_port

from smtp_iac.service.config import RateLimit, parse_networks

MESSAGE = {"kind": "registration", "to": "new.user@example.com", "subject": "Welcome", "text": "Your account is ready."}


def test_mailer_sends_through_the_effective_settings(svc: Svc) -> None:
    with svc.client("mailer") as c:
        r = c.post(f"/v1/organizations/{GREEN}/messages", json=MESSAGE)  # switch off: the partner's record
    assert r.status_code == 202, r.text
    assert r.json()["source"] == str(ACME) and r.json()["accepted"] is True
    got = svc.relay.messages[-1]
    assert got.mail_from == TEST_SENDER and got.rcpt_tos == ["new.user@example.com"]
    msg = got.message
    assert msg["Subject"] == "Welcome" and msg["X-Smtp-Iac-Kind"] == "registration"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["From"] == TEST_SENDER
    assert "Your account is ready." in msg.get_content()
    assert got.auth_login == "relay-user"


def test_mailer_refusals(svc: Svc, tmp_path) -> None:
    with svc.client("mailer") as c:
        # 422: no usable From
        v = svc.store.get(INITECH).version  # type: ignore[union-attr]
        svc.store.put(INITECH, relay_settings(svc.relay, sender=None), expected_version=v, stack=None, actor="t")
        r = c.post(f"/v1/organizations/{HQ}/messages", json=MESSAGE)
        assert r.status_code == 422 and r.json()["address"] == str(INITECH), r.text
        # 502: the relay fails, with its class
        v += 1
        svc.store.put(INITECH, relay_settings(svc.relay, port=closed_port()), expected_version=v, stack=None, actor="t")
        r = c.post(f"/v1/organizations/{HQ}/messages", json=MESSAGE)
        assert r.status_code == 502 and r.json()["verify"]["failure"] == "connection_refused", r.text
        assert r.json()["hint"]
        # 409: no tier has a record
        svc.store.delete(INITECH, expected_version=v + 1, stack=None)
        svc.store.delete(CONTROLLER, expected_version=1, stack=None)
        r = c.post(f"/v1/organizations/{HQ}/messages", json=MESSAGE)
        assert r.status_code == 409, r.text
        # header injection in the subject or recipient: refused by the schema
        for bad in (
            {"subject": "hi\r\nBcc: x@evil.example"},
            {"to": "a@b.example>\r\nRCPT TO:<c@d.example"},
            {"subject": "group\x1dseparator"},  # the email package splits headers there too (found by fuzzing)
            {"to": "a\x96@b.example"},
            {"subject": "line\u2028separator"},
        ):
            r = c.post(f"/v1/organizations/{BLUE}/messages", json={**MESSAGE, **bad})
            assert r.status_code == 422, r.text
        r = c.post("/v1/organizations/partners/nope/organizations/x/messages", json=MESSAGE)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_denied_relay_destinations_are_403_before_any_connection(backend, relay, ca_path) -> None:
    with running(backend, relay, ca_path, deny_relay=parse_networks(["127.0.0.0/8"])) as s:
        sessions = relay.stats.sessions
        with s.client("sysadmin") as c:
            r = c.post("/v1/scopes/controller/test-email")
            assert r.status_code == 403 and "127.0.0.0/8" in r.json()["detail"], r.text
            r = c.put("/v1/scopes/controller", json=relay_body(relay), headers={"If-Match": s.etag(CONTROLLER)})
            assert r.status_code == 403
            assert s.store.audit_log(address=CONTROLLER)[-1].outcome == "refused"
            r = c.put(
                "/v1/scopes/controller",
                json=relay_body(relay, host="localhost"),
                headers={"If-Match": s.etag(CONTROLLER)},
            )
            assert r.status_code == 403  # a name is resolved first
        with s.client("mailer") as c:
            assert c.post(f"/v1/organizations/{BLUE}/messages", json=MESSAGE).status_code == 403
        assert relay.stats.sessions == sessions


def test_default_policy_refuses_link_local_metadata(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        r = c.post("/v1/scopes/controller/test-email", json={"settings": relay_body(svc.relay, host="169.254.169.254")})
        assert r.status_code == 403 and "169.254.0.0/16" in r.json()["detail"]
        r = c.post(
            "/v1/scopes/controller/test-email", json={"settings": relay_body(svc.relay, host="::ffff:169.254.169.254")}
        )
        assert r.status_code == 403 and "carrying 169.254.169.254" in r.json()["detail"], r.text


def test_rate_limit_per_token(backend, relay, ca_path) -> None:
    with running(backend, relay, ca_path, rate_limit=RateLimit(per_minute=1, burst=2)) as s:
        with s.client("sysadmin") as c:
            codes = [c.post("/v1/scopes/controller/test-email").status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            r = c.post("/v1/scopes/controller/test-email")
            assert int(r.headers["retry-after"]) >= 1
        with s.client("partner-admin") as c:  # another token has its own bucket
            assert c.post(f"/v1/scopes/{ACME}/test-email").status_code == 200


def test_a_writes_check_counts_against_the_rate_limit_unless_reused(backend, relay, ca_path) -> None:
    """Guessing a relay's password through Save is paced as through Send Test Email (a hostile
    sweep found PUT unlimited); a check the cache answers (the same settings again) is free."""
    with running(backend, relay, ca_path, rate_limit=RateLimit(per_minute=1, burst=2)) as s:
        with s.client("org-admin") as c:
            codes = []
            for i in range(3):
                r = c.put(
                    f"/v1/scopes/{BLUE}",
                    json=relay_body(relay, password=f"guess-{i}"),
                    headers={"If-Match": s.etag(BLUE)},
                )
                codes.append(r.status_code)
            assert codes == [422, 422, 429], codes
            assert "SMTP check" in r.json()["detail"] and int(r.headers["retry-after"]) >= 1
        with s.client("sysadmin") as c:  # two checks, then the same settings again: from the cache
            body = relay_body(relay)
            for address in (ACME, INITECH):
                assert (
                    c.put(f"/v1/scopes/{address}", json=body, headers={"If-Match": s.etag(address)}).status_code == 200
                )
            for _ in range(3):
                r = c.put(f"/v1/scopes/{ACME}", json=body, headers={"If-Match": s.etag(ACME)})
                assert r.status_code == 200, r.text


def test_body_limit(svc: Svc) -> None:
    big = {**relay_body(svc.relay), "username": "u" * 70_000}
    with svc.client("sysadmin") as c:
        r = c.put("/v1/scopes/controller", json=big, headers={"If-Match": svc.etag(CONTROLLER)})
        assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")

        def chunks():
            for _ in range(100):
                yield b"x" * 1024

        r = c.put("/v1/scopes/controller", content=chunks(), headers={"If-Match": svc.etag(CONTROLLER)})
        assert r.status_code == 413


def test_problem_json_for_every_error_and_open_probes(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        for method, url, status in (
            ("GET", "/nope", 404),
            ("PATCH", "/v1/scopes/controller", 405),
            ("GET", "/v1/scopes/partners", 404),
            ("GET", "/v1/scopes/partners/UPPER", 404),
            ("GET", "/v1/organizations/partners/acme/effective", 404),
            ("GET", "/v1/organizations/partners/acme/organizations/nope/effective", 404),
            ("PUT", "/v1/scopes/controller", 422),
        ):
            r = c.request(method, url, content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == status, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), url
            assert set(r.json()) >= {"title", "status", "detail"}
            assert "Traceback" not in r.text
        assert c.get("/v1/scopes/partners%2Facme").status_code == 200  # percent-encoded addresses
    with svc.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ok"}
        assert c.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_metrics_for_viewer_and_sysadmin_only(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        c.post("/v1/scopes/controller/test-email")
        text = c.get("/metrics").text
    assert 'smtp_iac_requests_total{method="POST",route="/v1/scopes/{address:path}/test-email",status="200"}' in text
    assert 'smtp_iac_checks_total{failure="",outcome="ok"}' in text
    assert "smtp_iac_store_seconds_bucket" in text
    for token in ("partner-admin", "org-admin", "mailer"):
        with svc.client(token) as c:
            assert c.get("/metrics").status_code == 403


def test_a_client_that_hangs_up_does_not_break_the_service(svc: Svc) -> None:
    host, port = svc.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"PUT /v1/scopes/controller HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n{")
    with svc.client("viewer") as c:
        assert c.get("/v1/scopes/controller").status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "bearer  " + "x" * 5000])
def test_malformed_authorization(svc: Svc, header: str) -> None:
    r = httpx.get(svc.url + "/v1/scopes/controller", headers={"Authorization": header})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
