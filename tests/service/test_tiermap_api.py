"""The tier map and blast radius over the real service, limited to each token's reach, and writes
and Send Test Email without a password (the stored one is kept only for the same relay).

The oracle of reach is SPEC's role table, written out here (as in ``test_roles``); the tiers
and counts of the seeded platform are written out by hand."""

from __future__ import annotations

from typing import Any

import pytest
from service_support import ACME, BLUE, CONTROLLER, GREEN, HQ, INITECH, TOKENS, Svc, relay_body, relay_settings
from smtp_servers import TEST_PASSWORD, TEST_TO, TEST_USER

from smtp_iac.addresses import Address
from smtp_iac.models import LiveRecord
from smtp_iac.tokens import Role

STORED = "Stored-5b8e!kept-password-secret"
"""A password only the store and the relay know: no request body of these tests carries it."""

LAB = Address("initech", "lab")  # loaded by ``platform``: switch off, no records -> the controller's


def platform(svc: Svc) -> None:
    """The seed (records at the controller, acme, blue, initech) changed so that every tier
    occurs: initech's record removed, its new org lab (switch off) added, blue owned by a stack.

    blue: organization (own record, on) | green: partner (off) | hq, lab: controller."""
    svc.store.load_tenants({"partners": {"initech": {"organizations": {"lab": {"smtp_enabled": False}}}}})
    svc.store.delete(INITECH, expected_version=_version(svc, INITECH), stack=None)
    svc.store.put(BLUE, relay_settings(svc.relay), expected_version=_version(svc, BLUE), stack="prod")


def _version(svc: Svc, address: Address) -> int:
    record = svc.store.get(address)
    assert record is not None
    return record.version


def row(org: Address, on: bool, tier: str, own: bool, managed_by: str | None = None) -> dict[str, Any]:
    return {"organization": str(org), "smtp_enabled": on, "tier": tier, "own_record": own, "managed_by": managed_by}


ROWS = {
    BLUE: row(BLUE, True, "organization", True, "prod"),
    GREEN: row(GREEN, False, "partner", False),
    HQ: row(HQ, True, "controller", False),
    LAB: row(LAB, False, "controller", False),
}
PARTNER_ROWS = {
    "acme": {"partner": "acme", "organizations": 2, "has_record": True, "managed_by": None},
    "initech": {"partner": "initech", "organizations": 2, "has_record": False, "managed_by": None},
}


def partner_row(svc: Svc, partner: str) -> dict[str, Any]:
    """A partner's row with its record's relay (the seeded relay; none without a record)."""
    has = PARTNER_ROWS[partner]["has_record"]
    return PARTNER_ROWS[partner] | {"host": "127.0.0.1" if has else None, "port": svc.relay.port if has else None}


BLAST = {CONTROLLER: 2, ACME: 1, INITECH: 2, BLUE: 1, GREEN: 0, HQ: 1, LAB: 0}
"""Organizations whose settings would come from each scope once a record is there."""


def seen(token: str, a: Address) -> dict[str, Any]:
    """A row as ``token`` sees it: a mailer, which reads no records, is not told who manages an
    organization's own record, nor of one that is not in use."""
    if TOKENS[token][0] is not Role.MAILER:
        return ROWS[a]
    return ROWS[a] | {"own_record": ROWS[a]["tier"] == "organization", "managed_by": None}


def orgs_in_reach(token: str) -> list[Address]:
    role, partner, org = TOKENS[token]
    if role is Role.PARTNER_ADMIN:
        return [a for a in ROWS if a.partner == partner]
    if role is Role.ORG_ADMIN:
        return [a for a in ROWS if str(a) == org]
    return list(ROWS)  # sysadmin, viewer, mailer (effective settings of every organization)


def partners_in_reach(token: str) -> list[str] | None:
    """None: refused (the mailer and org admins read no partner)."""
    role, partner, _ = TOKENS[token]
    if role in (Role.SYSADMIN, Role.VIEWER):
        return list(PARTNER_ROWS)
    if role is Role.PARTNER_ADMIN:
        return [partner] if partner else []
    return None


def may_write(token: str, address: Address) -> bool:
    role, partner, org = TOKENS[token]
    if role is Role.SYSADMIN:
        return True
    if role is Role.PARTNER_ADMIN:
        return address.partner == partner
    if role is Role.ORG_ADMIN:
        return str(address) == org and address != GREEN  # green's switch is off
    return False


def forbidden(r) -> dict[str, Any]:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 403 and body["detail"]
    return body


def same_refusal(r_known, r_unknown, known: str, unknown: str) -> None:
    """A refusal about a partner that exists reads as one about a partner that does not."""
    a, b = forbidden(r_known), forbidden(r_unknown)
    assert r_known.text.replace(known, "<p>") == r_unknown.text.replace(unknown, "<p>"), (a, b)
    assert unknown not in r_known.text and known not in r_unknown.text


def no_password(svc: Svc, **kw: Any) -> dict[str, Any]:
    """The settings of a body pointing at the test relay, without a password."""
    body = relay_body(svc.relay, **kw)
    del body["password"]
    return body


def keep_stored(svc: Svc, address: Address) -> LiveRecord:
    """Store ``STORED`` at ``address`` and make it the only password the relay takes: a check
    that passes has sent exactly the stored password."""
    svc.relay.users[TEST_USER] = STORED
    return svc.store.put(
        address, relay_settings(svc.relay, password=STORED), expected_version=_version(svc, address), stack=None
    ).record


def no_secret_in(texts: list[str]) -> None:
    everything = "\n".join(texts)
    for secret in (STORED, TEST_PASSWORD):
        assert secret not in everything


# ----- the tier map, a token's reach -------------------------------------------------------


@pytest.mark.parametrize("token", list(TOKENS))
def test_tiermap_pages_hold_the_tokens_reach_only(svc: Svc, token: str) -> None:
    platform(svc)
    mine = orgs_in_reach(token)
    with svc.client(token) as c:
        r = c.get("/v1/tiermap/organizations")
        assert r.status_code == 200, r.text
        assert r.json() == {"total": len(mine), "offset": 0, "limit": 50, "items": [seen(token, a) for a in mine]}

        # the filters apply within the reach
        r = c.get("/v1/tiermap/organizations", params={"tier": "controller", "limit": 1})
        controlled = [a for a in mine if ROWS[a]["tier"] == "controller"]
        assert r.json()["total"] == len(controlled)
        assert r.json()["items"] == [seen(token, a) for a in controlled[:1]]
        r = c.get("/v1/tiermap/organizations", params={"q": "e"})  # blue, green: not hq, lab
        assert r.json()["items"] == [seen(token, a) for a in mine if "e" in a.org]

        role, partner, org = TOKENS[token]
        if role is Role.PARTNER_ADMIN:
            assert partner == "acme"
            ok = c.get("/v1/tiermap/organizations", params={"partner": "acme", "org": "green"})
            assert ok.json()["items"] == [seen(token, GREEN)]
            for params in ({"partner": "initech"}, {"partner": "initech", "org": "hq"}):
                same_refusal(
                    c.get("/v1/tiermap/organizations", params=params),
                    c.get("/v1/tiermap/organizations", params={**params, "partner": "nope"}),
                    "initech",
                    "nope",
                )
        elif role is Role.ORG_ADMIN:
            # asking for more, or for another organization, never shows more than its own
            for params in ({"partner": "initech"}, {"partner": "initech", "org": "hq"}, {"tier": "controller"}):
                r = c.get("/v1/tiermap/organizations", params=params)
                if r.status_code == 200:
                    assert {i["organization"] for i in r.json()["items"]} <= {org}, params
                else:
                    forbidden(r)
        else:
            r = c.get("/v1/tiermap/organizations", params={"partner": "initech", "org": "lab"})
            assert r.json()["items"] == [seen(token, LAB)]
            assert c.get("/v1/tiermap/organizations", params={"partner": "nope"}).json()["total"] == 0

        # partners
        partners = partners_in_reach(token)
        r = c.get("/v1/tiermap/partners")
        if partners is None:
            forbidden(r)
            forbidden(c.get("/v1/tiermap/partners", params={"partner": "acme"}))
        else:
            assert r.status_code == 200, r.text
            assert r.json() == {
                "total": len(partners),
                "offset": 0,
                "limit": 50,
                "items": [partner_row(svc, p) for p in partners],
            }
        if role is Role.PARTNER_ADMIN:
            same_refusal(
                c.get("/v1/tiermap/partners", params={"partner": "initech"}),
                c.get("/v1/tiermap/partners", params={"partner": "nope"}),
                "initech",
                "nope",
            )
            r = c.get("/v1/tiermap/partners", params={"partner": "acme"})
            assert r.json()["items"] == [partner_row(svc, "acme")]
        elif partners is not None:
            r = c.get("/v1/tiermap/partners", params={"partner": "initech"})
            assert r.json()["items"] == [partner_row(svc, "initech")]
            r = c.get("/v1/tiermap/partners", params={"offset": 1, "limit": 1})
            assert r.json() == {"total": 2, "offset": 1, "limit": 1, "items": [partner_row(svc, "initech")]}


def test_tiermap_query_checks(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        for params in (
            {"q": "%"},
            {"q": "_"},
            {"q": "A"},
            {"q": "a" * 64},
            {"q": "ab\n"},
            {"tier": "all"},
            {"limit": 0},
            {"limit": 101},
            {"offset": -1},
            {"org": "blue"},
            {"partner": "Acme"},
        ):
            r = c.get("/v1/tiermap/organizations", params=params)
            assert r.status_code == 422, (params, r.text)
        for params in ({"q": "%"}, {"limit": 0}, {"limit": 101}, {"partner": "a_b"}):
            assert c.get("/v1/tiermap/partners", params=params).status_code == 422, params
        r = c.get("/v1/tiermap/organizations", params={"limit": 100, "offset": 1})
        assert r.status_code == 200 and r.json()["total"] == 3 and len(r.json()["items"]) == 2


# ----- blast radius --------------------------------------------------------------------------


@pytest.mark.parametrize("token", [t for t in TOKENS if t != "org-admin-off"])
def test_blast_radius_for_those_who_may_write_the_scope(svc: Svc, token: str) -> None:
    platform(svc)
    with svc.client(token) as c:
        for address, count in BLAST.items():
            r = c.get(f"/v1/blast-radius/{address}")
            if may_write(token, address):
                assert r.status_code == 200, (address, r.text)
                assert r.json() == {"address": str(address), "organizations": count}
            else:
                forbidden(r)
        role = TOKENS[token][0]
        unknown_org = c.get("/v1/blast-radius/partners/acme/organizations/nope")
        if role in (Role.SYSADMIN, Role.PARTNER_ADMIN):
            assert unknown_org.status_code == 404 and unknown_org.json()["kind"] == "unknown_tenant"
        else:
            forbidden(unknown_org)
        unknown_partner = c.get("/v1/blast-radius/partners/nope")
        if role is Role.SYSADMIN:
            assert unknown_partner.status_code == 404 and unknown_partner.json()["kind"] == "unknown_tenant"
        elif role is Role.PARTNER_ADMIN:
            same_refusal(c.get("/v1/blast-radius/partners/initech"), unknown_partner, "initech", "nope")
            same_refusal(
                c.get("/v1/blast-radius/partners/initech/organizations/hq"),
                c.get("/v1/blast-radius/partners/nope/organizations/hq"),
                "initech",
                "nope",
            )
        else:
            forbidden(unknown_partner)


def test_blast_radius_refused_to_an_org_admin_whose_switch_is_off(svc: Svc) -> None:
    with svc.client("org-admin-off") as c:
        put = c.put(f"/v1/scopes/{GREEN}", json=relay_body(svc.relay), headers={"If-None-Match": "*"})
        assert put.status_code == 403  # it may not write its scope ...
        forbidden(c.get(f"/v1/blast-radius/{GREEN}"))  # ... so it is not told what a write would reach


# ----- writes and test email without a password ------------------------------------------------


def test_replace_without_password_keeps_the_stored_one(svc: Svc) -> None:
    before = keep_stored(svc, ACME)
    auth = svc.relay.stats.auth_attempts
    texts = []
    with svc.client("partner-admin") as c:
        body = no_password(svc, sender="console@example.com")
        r = c.put(f"/v1/scopes/{ACME}", json=body, headers={"If-Match": f'"{before.version}"'})
        texts.append(r.text)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["verify"]["ok"] is True and out["verify"]["skipped"] is False
        assert svc.relay.stats.auth_attempts > auth  # logged in, and only STORED logs in
        record = out["record"]
        assert record["sender"] == "console@example.com" and record["version"] == before.version + 1
        assert record["password_fingerprint"] == svc.shown(ACME, before.password_fingerprint) is not None
        after = svc.store.get(ACME)
        assert after is not None and after.password_fingerprint == before.password_fingerprint
        assert svc.store.reveal_password(ACME).get_secret_value() == STORED

        # an explicit null is no password too
        body = {**no_password(svc), "password": None}
        r = c.put(f"/v1/scopes/{ACME}", json=body, headers={"If-Match": r.headers["etag"]})
        texts.append(r.text)
        assert r.status_code == 200, r.text
        assert r.json()["record"]["password_fingerprint"] == svc.shown(ACME, before.password_fingerprint)
        assert r.json()["record"]["sender"] == body["sender"]
    no_secret_in(texts)


def test_without_password_a_new_relay_or_record_is_422_and_writes_nothing(svc: Svc) -> None:
    before = keep_stored(svc, ACME)
    current = {"If-Match": f'"{before.version}"'}
    sessions, auth = svc.relay.stats.sessions, svc.relay.stats.auth_attempts
    audit = len(svc.store.audit_log(address=ACME))
    texts = []

    def refused(address: Address, body: dict[str, Any], headers: dict[str, str], first: bool = False) -> None:
        with svc.client("sysadmin") as c:
            r = c.put(f"/v1/scopes/{address}", json=body, headers=headers)
        texts.append(r.text)
        assert r.status_code == 422, (body, headers, r.text)
        errors = r.json()["errors"]
        assert "password" in [e["field"] for e in errors], errors
        if first:
            assert errors[0]["field"] == "password", errors

    refused(ACME, no_password(svc, host="localhost"), current, first=True)  # the same machine, another name
    refused(ACME, no_password(svc, port=svc.relay.port + 1), current, first=True)
    refused(ACME, no_password(svc, tls=False), current)
    refused(ACME, no_password(svc, tls_mode="starttls"), current, first=True)
    refused(ACME, no_password(svc), {"If-None-Match": "*"}, first=True)  # create: nothing to keep
    refused(HQ, no_password(svc), {"If-None-Match": "*"}, first=True)
    refused(HQ, no_password(svc), {"If-Match": '"1"'}, first=True)

    assert svc.store.get(ACME) == before and svc.store.get(HQ) is None
    assert svc.store.reveal_password(ACME).get_secret_value() == STORED
    assert (svc.relay.stats.sessions, svc.relay.stats.auth_attempts) == (sessions, auth)  # no connection
    assert len(svc.store.audit_log(address=ACME)) == audit

    # a version that is not the current one: the stored password is another record's, so the
    # write is a conflict (412, audited) before any connection, not a request for the password
    with svc.client("sysadmin") as c:
        r = c.put(f"/v1/scopes/{ACME}", json=no_password(svc), headers={"If-Match": f'"{before.version - 1}"'})
    texts.append(r.text)
    assert r.status_code == 412 and r.json()["kind"] == "conflict", r.text
    assert svc.store.audit_log(address=ACME)[-1].outcome == "conflict"
    assert (svc.relay.stats.sessions, svc.relay.stats.auth_attempts) == (sessions, auth)

    # the control: the same host change with a password is not refused for the password
    with svc.client("sysadmin") as c:
        r = c.put(f"/v1/scopes/{ACME}", json=relay_body(svc.relay, host="localhost", password=STORED), headers=current)
    assert r.status_code == 200, r.text
    assert r.json()["record"]["host"] == "localhost"
    no_secret_in([*texts, r.text])


def test_test_email_without_password_uses_the_stored_one_for_the_same_relay(svc: Svc) -> None:
    keep_stored(svc, ACME)
    texts = []
    with svc.client("partner-admin") as c:
        auth = svc.relay.stats.auth_attempts
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": no_password(svc)})
        texts.append(r.text)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["mode"] == "login"
        assert svc.relay.stats.auth_attempts > auth

        sent = len(svc.relay.messages)
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": no_password(svc), "to": TEST_TO})
        texts.append(r.text)
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        assert len(svc.relay.messages) == sent + 1 and svc.relay.messages[-1].auth_login == TEST_USER

        sessions = svc.relay.stats.sessions
        for change in ({"host": "localhost"}, {"port": svc.relay.port + 1}, {"tls_mode": "starttls"}):
            r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": no_password(svc, **change)})
            texts.append(r.text)
            assert r.status_code == 422, (change, r.text)
            assert r.json()["errors"][0]["field"] == "settings.password", r.json()
        r = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": no_password(svc, tls=False)})
        texts.append(r.text)
        assert r.status_code == 422 and "settings.password" in [e["field"] for e in r.json()["errors"]]
        assert svc.relay.stats.sessions == sessions  # refused before any connection

    with svc.client("sysadmin") as c:
        r = c.post(f"/v1/scopes/{HQ}/test-email", json={"settings": no_password(svc)})  # hq has no record
        texts.append(r.text)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "settings.password", r.text
    no_secret_in(texts)


def test_without_password_another_username_is_422(svc: Svc) -> None:
    before = keep_stored(svc, ACME)
    auth = svc.relay.stats.auth_attempts
    with svc.client("partner-admin") as c:
        r = c.put(
            f"/v1/scopes/{ACME}",
            json=no_password(svc, username="someone-else"),
            headers={"If-Match": f'"{before.version}"'},
        )
        t = c.post(f"/v1/scopes/{ACME}/test-email", json={"settings": no_password(svc, username="someone-else")})
    for answer in (r, t):
        assert answer.status_code == 422 and "username" in answer.text, answer.text
    assert svc.relay.stats.auth_attempts == auth and svc.store.get(ACME) == before


def test_a_mailer_is_not_told_who_manages_records_it_does_not_read(svc: Svc) -> None:
    svc.store.set_smtp_enabled(GREEN, True, actor="t")  # a record is written while its switch is on
    svc.store.put(GREEN, relay_settings(svc.relay), expected_version=None, stack="secret-stack", actor="t")
    svc.store.set_smtp_enabled(GREEN, False, actor="t")
    with svc.client("mailer") as c:
        rows = {i["organization"]: i for i in c.get("/v1/tiermap/organizations").json()["items"]}
    green = rows[str(GREEN)]
    assert green["managed_by"] is None and green["own_record"] is False  # switch off: its record is not used
    with svc.client("viewer") as c:
        rows = {i["organization"]: i for i in c.get("/v1/tiermap/organizations").json()["items"]}
    assert rows[str(GREEN)]["managed_by"] == "secret-stack" and rows[str(GREEN)]["own_record"] is True
