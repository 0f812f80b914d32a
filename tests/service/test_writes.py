"""Writes through the real service: compare-and-swap (ETag, If-Match, If-None-Match: *) with
races between two clients, a failed check that writes nothing, ownership of stacks against
writes out of band, and the refusals that must come before any SMTP connection."""

from __future__ import annotations

import threading
from pathlib import Path

from service_support import ACME, BLUE, CONTROLLER, Svc, relay_body, relay_settings
from smtp_servers import TEST_PASSWORD

NEW_PASSWORD = "Rotated-9c1e!unique-service-secret"
WRONG = "Wrong-4d2a!unique-service-secret"


def test_put_without_precondition_is_428_and_stale_is_412_before_any_connection(svc: Svc) -> None:
    sessions = svc.relay.stats.sessions
    with svc.client("sysadmin") as c:
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay))
        assert r.status_code == 428 and "If-Match" in r.json()["hint"]
        stale = c.put("/v1/scopes/controller", json=relay_body(svc.relay), headers={"If-Match": '"999"'})
        assert stale.status_code == 412, stale.text
        assert "version conflict" in stale.json()["detail"]
        exists = c.put("/v1/scopes/controller", json=relay_body(svc.relay), headers={"If-None-Match": "*"})
        assert exists.status_code == 412
        junk = c.put("/v1/scopes/controller", json=relay_body(svc.relay), headers={"If-Match": "W/abc"})
        assert junk.status_code == 412
        assert c.delete("/v1/scopes/controller").status_code == 428
    assert svc.relay.stats.sessions == sessions, "a refused write opened an SMTP connection"
    assert [e.outcome for e in svc.store.audit_log(address=CONTROLLER)][-2:] == ["conflict", "conflict"]


def _race(svc: Svc, headers: dict[str, str], address: str) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def one(password: str) -> None:
        with svc.client("sysadmin") as c:
            barrier.wait()
            r = c.put(f"/v1/scopes/{address}", json=relay_body(svc.relay, sender=password), headers=headers)
            statuses.append(r.status_code)

    threads = [threading.Thread(target=one, args=(s,)) for s in ("a@example.com", "b@example.com")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(statuses)


def test_two_clients_replace_the_same_version_one_wins(svc: Svc) -> None:
    before = svc.store.get(ACME)
    assert before is not None
    assert _race(svc, {"If-Match": f'"{before.version}"'}, str(ACME)) == [200, 412]
    after = svc.store.get(ACME)
    assert after is not None and after.version == before.version + 1
    outcomes = [e.outcome for e in svc.store.audit_log(address=ACME)][-2:]
    assert sorted(outcomes) == ["conflict", "ok"]


def test_two_clients_create_the_same_scope_one_wins(svc: Svc) -> None:
    svc.store.delete(ACME, expected_version=svc.store.get(ACME).version, stack=None)  # type: ignore[union-attr]
    assert _race(svc, {"If-None-Match": "*"}, str(ACME)) == [201, 412]
    assert svc.store.get(ACME).version == 1  # type: ignore[union-attr]


def test_a_failed_check_writes_nothing(svc: Svc) -> None:
    before = svc.store.get(BLUE)
    with svc.client("org-admin") as c:
        r = c.put(
            f"/v1/scopes/{BLUE}",
            json=relay_body(svc.relay, password=NEW_PASSWORD),
            headers={"If-Match": svc.etag(BLUE)},
        )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["kind"] == "verify_failed" and body["verify"]["failure"] == "auth_failed"
    assert body["hint"]  # the platform's advice
    assert NEW_PASSWORD not in r.text
    assert svc.store.get(BLUE) == before
    last = svc.store.audit_log(address=BLUE)[-1]
    assert last.outcome == "verify_failed" and last.actor == "org-admin (org-admin of partners/acme/organizations/blue)"


def test_stack_ownership_and_writes_out_of_band(svc: Svc) -> None:
    v = svc.store.get(ACME).version  # type: ignore[union-attr]
    svc.store.put(ACME, relay_settings(svc.relay), expected_version=v, stack="prod", actor="pipeline")
    with svc.client("partner-admin") as c:
        other = c.put(
            f"/v1/scopes/{ACME}",
            params={"stack": "staging"},
            json=relay_body(svc.relay),
            headers={"If-Match": svc.etag(ACME)},
        )
        assert other.status_code == 409 and "prod" in other.json()["detail"]
        console = c.put(f"/v1/scopes/{ACME}", json=relay_body(svc.relay), headers={"If-Match": svc.etag(ACME)})
        assert console.status_code == 200, console.text
        assert console.json()["record"]["managed_by"] == "prod"  # the stack will see it as drift
        assert "out of band" in svc.store.audit_log(address=ACME)[-1].detail
        adopt = c.put(
            f"/v1/scopes/{ACME}",
            params={"stack": "staging", "adopt": "true"},
            json=relay_body(svc.relay),
            headers={"If-Match": svc.etag(ACME)},
        )
        assert adopt.status_code == 200 and adopt.json()["record"]["managed_by"] == "staging"
        bad = c.put(
            f"/v1/scopes/{ACME}",
            params={"stack": "Bad Name"},
            json=relay_body(svc.relay),
            headers={"If-Match": svc.etag(ACME)},
        )
        assert bad.status_code == 422


def test_rules_of_stack_files_apply_to_bodies(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        h = {"If-Match": svc.etag(CONTROLLER)}
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay, port=465, tls=False), headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "port"
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay, host="smtp\u200b.example.com"), headers=h)
        assert r.status_code == 422 and "invisible" in r.text
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay, password="a\r\nRCPT TO:<x@y>"), headers=h)
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "password", "message": "holds CR, LF or NUL"}]
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay, port="587"), headers=h)
        assert r.status_code == 422 and "RCPT" not in r.text
        r = c.put("/v1/scopes/controller", json={**relay_body(svc.relay), "hots": "x"}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hots"
        r = c.put("/v1/scopes/controller", json=relay_body(svc.relay, tls=False, port=25), headers=h)
        assert r.status_code == 422  # no AUTH over a plain connection to a STARTTLS-only relay
        ok = c.put("/v1/scopes/controller", json=relay_body(svc.relay, tls_mode="starttls"), headers=h)
        assert ok.status_code == 200 and ok.json()["warnings"] == []


def test_no_password_in_any_answer_log_or_database(svc: Svc, caplog) -> None:
    texts = []
    with svc.client("sysadmin") as c:
        h = {"If-Match": svc.etag(CONTROLLER)}
        texts.append(c.put("/v1/scopes/controller", json=relay_body(svc.relay, password=WRONG), headers=h).text)
        svc.relay.users["relay-user"] = NEW_PASSWORD
        texts.append(c.put("/v1/scopes/controller", json=relay_body(svc.relay, password=NEW_PASSWORD), headers=h).text)
        texts.append(c.get("/v1/scopes/controller").text)
        texts.append(c.post("/v1/scopes/controller/test-email", json={"to": "ops@example.com"}).text)
        texts.append(
            c.post(
                "/v1/scopes/controller/test-email", json={"settings": relay_body(svc.relay, password=TEST_PASSWORD)}
            ).text
        )
        texts.append(c.get("/v1/audit").text)
        texts.append(c.put("/v1/scopes/controller", json={"password": NEW_PASSWORD, "port": "x"}, headers=h).text)
    svc.relay.users["relay-user"] = TEST_PASSWORD  # blue's record has the old one
    with svc.client("mailer") as c:
        texts.append(
            c.post(
                f"/v1/organizations/{BLUE}/messages",
                json={"kind": "password_reset", "to": "user@example.com", "subject": "reset", "text": "click"},
            ).text
        )
    with svc.client("viewer") as c:
        texts.append(c.get("/metrics").text)
    assert len(svc.relay.messages) >= 2
    everything = "\n".join(texts) + caplog.text
    for secret in (NEW_PASSWORD, TEST_PASSWORD, WRONG, *svc.tokens.values()):
        assert secret not in everything
    if svc.store_url.startswith("sqlite:///"):
        raw = Path(svc.store_url[len("sqlite:///") :]).read_bytes()
        assert NEW_PASSWORD.encode() not in raw and TEST_PASSWORD.encode() not in raw
        for token in svc.tokens.values():
            assert token.split("_", 2)[2].encode() not in raw
