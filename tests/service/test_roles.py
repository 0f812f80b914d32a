"""The whole role matrix over the real service: every token (role and scope) x every tier x
every method, allowed and refused, with the reason. The oracle is SPEC's role table, written
out here independently of ``access.decide``."""

from __future__ import annotations

import pytest
from service_support import ADDRESSES, GREEN, TOKENS, Svc, relay_body, relay_settings
from smtp_servers import TEST_PASSWORD, TEST_TO

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.tokens import Role

SMTP_ON = {Address("acme", "blue"): True, GREEN: False, Address("initech", "hq"): True}


def may(token: str, act: str, a: Address) -> bool:
    """SPEC "Service", the role table (and the platform guide: an org admin writes only while its switch is on)."""
    role, partner, org = TOKENS[token]
    if role is Role.SYSADMIN:
        return act != "send"
    if role is Role.VIEWER:
        return act in ("read", "effective", "audit")
    if role is Role.MAILER:
        return act in ("effective", "send")
    if role is Role.PARTNER_ADMIN:
        mine = a.partner == partner
        return {
            "read": mine or a == CONTROLLER,
            "write": mine,
            "test": mine,
            "effective": mine,
            "switch": mine and bool(a.org),
            "audit": mine,
        }.get(act, False)
    own = str(a) == org
    switch_on = SMTP_ON.get(a, True)
    return {
        "read": own,
        "write": own and switch_on,
        "test": own and switch_on,
        "effective": own,
        "audit": own,
    }.get(act, False)


def audited_at(token: str, address: Address) -> Address:
    """Where a refused write of ``token`` at ``address`` is audited (written out apart from
    ``access.recorded_at``): a partner admin's attempts beyond its partner at its partner, an
    org admin's beyond its organization at its organization, every other one at the address."""
    role, partner, org = TOKENS[token]
    if role is Role.PARTNER_ADMIN and address.partner != partner:
        return Address(partner)
    if role is Role.ORG_ADMIN and str(address) != org:
        return Address.parse(org)
    return address


def refused(r, why: str) -> None:
    assert r.status_code == 403, (why, r.status_code, r.text)
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["status"] == 403 and body["detail"], body


CASES = [(t, a) for t in TOKENS for a in ADDRESSES]


@pytest.mark.parametrize(("token", "address"), CASES, ids=[f"{t}-{a}" for t, a in CASES])
def test_role_matrix(svc: Svc, token: str, address: Address) -> None:
    a = str(address)
    has_record = svc.store.get(address) is not None
    with svc.client(token) as c:
        # read
        r = c.get(f"/v1/scopes/{a}")
        if may(token, "read", address):
            assert r.status_code == (200 if has_record else 404), r.text
            if has_record:
                body = r.json()
                assert r.headers["etag"] == f'"{body["version"]}"'
                assert "password" not in body
                hidden = TOKENS[token][0] is Role.PARTNER_ADMIN and address == CONTROLLER
                assert (body["password_fingerprint"] is None) == hidden
        else:
            refused(r, "read")

        # Send Test Email with the stored settings
        r = c.post(f"/v1/scopes/{a}/test-email")
        if may(token, "test", address):
            assert r.status_code == (200 if has_record else 404), r.text
            if has_record:
                assert r.json()["ok"] is True and r.json()["mode"] == "login"
        else:
            refused(r, "test-email")

        # write: replace (or create), verified against the real relay
        before = len(svc.store.audit_log(address=address))
        headers = {"If-Match": svc.etag(address)} if has_record else {"If-None-Match": "*"}
        r = c.put(f"/v1/scopes/{a}", json=relay_body(svc.relay), headers=headers)
        if may(token, "write", address) and address != GREEN:
            assert r.status_code == (200 if has_record else 201), r.text
            assert r.json()["verify"]["ok"] is True
            assert r.json()["record"]["updated_by"] == f"{token} ({_scope_text(token)})"
        else:
            refused(r, "put")
            if address == GREEN and may(token, "write", address):
                assert "disabled" in r.json()["detail"] and "partner admin" in r.json()["hint"]
            # recorded at the address when the token reaches it, else at the token's own scope
            where = audited_at(token, address)
            entries = svc.store.audit_log(address=where)
            assert len(svc.store.audit_log(address=address)) == before + (where == address)
            assert entries[-1].outcome == "refused" and entries[-1].actor.startswith(f"{token} (")
            assert str(address) in entries[-1].detail or where == address

        # remove
        if svc.store.get(address) is not None:
            r = c.delete(f"/v1/scopes/{a}", headers={"If-Match": svc.etag(address)})
            if may(token, "write", address):
                assert r.status_code == 204, r.text
                assert svc.store.get(address) is None
                svc.store.put(address, relay_settings(svc.relay), expected_version=None, stack=None, actor="restore")
            else:
                refused(r, "delete")

        # audit of the scope
        r = c.get("/v1/audit", params={"address": a})
        if may(token, "audit", address):
            assert r.status_code == 200 and all(e["address"] == a for e in r.json())
        else:
            refused(r, "audit")

        if not address.org:
            return
        r = c.get(f"/v1/organizations/{a}/effective")
        if may(token, "effective", address):
            assert r.status_code == 200, r.text
            assert r.json()["organization"] == a
        else:
            refused(r, "effective")

        enabled = svc.store.tenants().smtp_enabled(address)
        r = c.put(f"/v1/organizations/{a}/smtp-enabled", json={"enabled": enabled})
        if may(token, "switch", address):
            assert r.status_code == 200 and r.json() == {"organization": a, "smtp_enabled": enabled}
        else:
            refused(r, "switch")

        sent = len(svc.relay.messages)
        r = c.post(
            f"/v1/organizations/{a}/messages",
            json={"kind": "alert", "to": TEST_TO, "subject": "disk full", "text": "disk full on host 7"},
        )
        if may(token, "send", address):
            assert r.status_code == 202, r.text
            assert len(svc.relay.messages) == sent + 1
        else:
            refused(r, "messages")
            assert len(svc.relay.messages) == sent
        assert TEST_PASSWORD not in r.text


def _scope_text(token: str) -> str:
    role, partner, org = TOKENS[token]
    if role is Role.PARTNER_ADMIN:
        return f"{role} of partners/{partner}"
    if role is Role.ORG_ADMIN:
        return f"{role} of {org}"
    return str(role)


@pytest.mark.parametrize("token", ["expired", "revoked", "smtpiac_000000000000_" + "A" * 43, "nonsense", ""])
def test_unusable_tokens_are_401(svc: Svc, token: str) -> None:
    headers = {"Authorization": f"Bearer {svc.tokens.get(token, token)}"} if token else {}
    with svc.client() as c:
        for method, url in (("GET", "/v1/scopes/controller"), ("GET", "/v1/audit"), ("GET", "/metrics")):
            r = c.request(method, url, headers=headers)
            assert r.status_code == 401, (token, url, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.headers["content-type"].startswith("application/problem+json")
    if token in ("expired", "revoked"):
        assert r.json()["detail"] == f"the token is {token}"


def test_revocation_holds_at_once(svc: Svc) -> None:
    with svc.client("viewer") as c:
        assert c.get("/v1/scopes/controller").status_code == 200
        token_id = svc.tokens["viewer"].split("_")[1]
        svc.store.revoke_token(token_id, actor="test")
        r = c.get("/v1/scopes/controller")
        assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_partner_admin_audit_without_address_sees_only_its_partner(svc: Svc) -> None:
    with svc.client("partner-admin") as c:
        entries = c.get("/v1/audit").json()
    assert entries and all(e["address"].startswith("partners/acme") for e in entries)
    with svc.client("org-admin") as c:
        entries = c.get("/v1/audit").json()
    assert entries and {e["address"] for e in entries} == {"partners/acme/organizations/blue"}
    with svc.client("sysadmin") as c:
        everything = {e["address"] for e in c.get("/v1/audit").json()}
    assert "controller" in everything and "partners/initech" in everything
    with svc.client("mailer") as c:
        refused(c.get("/v1/audit"), "mailer audit")
