"""``smtp-iac plan``: exit codes (with and without --detailed-exitcode), refusals against the
store's tenants and switches and other stacks' scopes, --adopt, and the content of the json
(schema-valid) and markdown formats. Plan never opens an SMTP connection, so these stacks point
at a closed port with verify off unless the test applies."""

from __future__ import annotations

import json

import pytest
from workflow_helpers import (
    OTHER_ENV,
    OTHER_PASSWORD,
    PW_ENV,
    STACK,
    USER2,
    partner,
    schema_validator,
    settings,
    stack_doc,
)

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = pytest.mark.timeout(60)

PORT = 2587  # plan never connects; nothing needs to listen here


def base_stack() -> dict:
    return stack_doc(
        None,
        controller=settings(PORT),
        partners={
            "acme": partner(
                settings(PORT, user=USER2, env=OTHER_ENV), acme_eu=settings(PORT, user="eu-mailer"), acme_us="inherit"
            ),
            "globex": partner("inherit"),
        },
    )


def put(
    ws,
    address: str,
    *,
    stack: str = STACK,
    user: str = "oob",
    port: int = PORT,
    version=None,
    password: str = "oob-password-not-a-test-secret",
):
    """An out-of-band write through the store API (no verify)."""
    with ws.open() as s:
        return s.put(
            Address.parse(address),
            ResolvedSettings(host="127.0.0.1", port=port, tls=True, username=user, password=password),
            expected_version=version,
            stack=stack,
            actor="oob",
        ).record


def test_plan_exit_codes_with_and_without_detailed_exitcode(ws):
    ws.load_tenants()
    f = ws.write_stack(base_stack())

    r = ws.run("plan", f)
    assert r.rc == 0, r.err
    assert "Plan: 3 to create, 0 to update, 0 to delete, 2 unchanged, 0 refused." in r.out

    assert ws.run("plan", f, "--detailed-exitcode").rc == 2

    r = ws.run("apply", f, "--yes")  # verify off: writes without a relay
    assert r.rc == 0, r.both
    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 0, r.both
    assert "No changes: the store matches the stack." in r.out
    assert ws.run("plan", f).rc == 0

    # a one-field change: exit 2 with the flag, the field's old and new value shown
    doc = base_stack()
    doc["partners"]["acme"]["smtp"]["port"] = 2465
    doc["partners"]["acme"]["smtp"]["tls_mode"] = "starttls"
    ws.write_stack(doc)
    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 2
    assert "partners/acme" in r.out and f"port: {PORT} → 2465" in r.out
    assert "tls_mode: (none) → starttls" in r.out
    assert "Plan: 0 to create, 1 to update, 0 to delete" in r.out


def test_plan_stack_error_exits_1_with_location(ws):
    ws.load_tenants()
    doc = base_stack()
    doc["partners"]["acme"]["smtp"]["hots"] = doc["partners"]["acme"]["smtp"].pop("host")
    f = ws.write_stack(doc)
    for extra in ([], ["--detailed-exitcode"], ["--format", "json"]):
        r = ws.run("plan", f, *extra)
        assert r.rc == 1
        assert "stacks/dev.yaml:" in r.err and "error:" in r.err and "hots" in r.err
        assert "$.partners.acme.smtp" in r.err
        assert "Traceback" not in r.both
        assert r.out == ""


def test_plan_missing_password_env_exits_1_naming_it(ws, monkeypatch):
    ws.load_tenants()
    f = ws.write_stack(base_stack())
    monkeypatch.delenv(OTHER_ENV)
    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 1
    assert OTHER_ENV in r.err and "partners/acme" in r.err
    assert "Traceback" not in r.both


@pytest.mark.parametrize("case", ["unknown_partner", "unknown_org", "wrong_partner", "feature_disabled"])
def test_plan_refuses_scopes_the_store_does_not_allow(ws, case):
    ws.load_tenants()
    doc = base_stack()
    if case == "unknown_partner":
        doc["partners"]["acmee"] = partner(settings(PORT))
        addr, words = "partners/acmee", ["partner 'acmee' is not known", "did you mean acme"]
    elif case == "unknown_org":
        doc["partners"]["acme"]["organizations"]["acme-asia"] = {"smtp": settings(PORT)}
        addr, words = "partners/acme/organizations/acme-asia", ["organization 'acme-asia' is not known"]
    elif case == "wrong_partner":
        doc["partners"]["acme"]["organizations"]["globex-eu"] = {"smtp": settings(PORT)}
        addr, words = "partners/acme/organizations/globex-eu", ["not under partner 'acme'", "partners/globex"]
    else:  # acme-labs has its SMTP switch off
        doc["partners"]["acme"]["organizations"]["acme-labs"] = {"smtp": settings(PORT)}
        addr, words = (
            "partners/acme/organizations/acme-labs",
            ["organization-level SMTP is disabled", "partner admin or system administrator"],
        )
    f = ws.write_stack(doc)
    before = ws.state()

    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 1, r.both
    line = next(ln for ln in r.out.splitlines() if addr in ln and "REFUSED" in ln)
    for w in words:
        assert w in r.out.replace("\n", " ") or w in line, (w, r.out)
    assert "1 refused" in r.out

    d = ws.run("plan", f, "--format", "json").json()
    schema_validator().validate(d)
    assert d["summary"]["refused"] == 1
    (scope,) = [s for s in d["scopes"] if s["refusal"]]
    assert scope["address"] == addr
    assert scope["refusal"]["kind"] == {"feature_disabled": "feature_disabled"}.get(case, "unknown_tenant")

    md = ws.run("plan", f, "--format", "markdown")
    assert md.rc == 1
    assert "#### Refused" in md.out and f"`{addr}`" in md.out and "**1 refused** :x:" in md.out

    # apply of the same stack writes nothing at all
    r = ws.run("apply", f, "--yes")
    assert r.rc == 1 and "nothing applied" in r.err
    assert ws.state() == before


def test_plan_ownership_conflict_and_adopt(ws):
    ws.load_tenants()
    put(ws, "partners/globex", stack="other")  # another stack's override where ours says inherit
    put(ws, "partners/acme", stack="other", user=USER2)
    f = ws.write_stack(base_stack())

    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 1
    for addr in ("partners/globex", "partners/acme"):
        line = next(ln for ln in r.out.splitlines() if ln.split()[2:3] == [addr])
        assert "REFUSED (ownership)" in line and "managed by stack 'other'" in line
    assert "--adopt" in r.out

    r = ws.run("plan", f, "--detailed-exitcode", "--adopt", "--format", "json")
    assert r.rc == 2, r.err
    d = r.json()
    schema_validator().validate(d)
    assert d["adopt"] is True and d["summary"]["refused"] == 0
    by = {s["address"]: s for s in d["scopes"]}
    assert by["partners/globex"]["action"] == "delete" and by["partners/globex"]["adopt"] is True
    assert by["partners/acme"]["action"] == "update" and by["partners/acme"]["adopt"] is True
    assert {"field": "managed_by", "old": "other", "new": STACK} in by["partners/acme"]["changes"]

    # the adopted plan applies; afterwards the scopes are ours
    r = ws.run("plan", f, "--adopt", "--out", "adopt.json")
    assert r.rc == 0
    r = ws.run("apply", "adopt.json", "--yes")
    assert r.rc == 0, r.both
    assert ws.record("partners/globex") is None
    assert ws.record("partners/acme").managed_by == STACK
    assert ws.run("plan", f, "--detailed-exitcode").rc == 0


def test_plan_json_content_and_saved_plan_identical(ws):
    ws.load_tenants()
    put(ws, "partners/initech/organizations/initech-hq", stack="other")  # unmanaged by dev
    put(ws, "partners/globex", stack=STACK)  # dev says inherit: to delete
    f = ws.write_stack(base_stack())

    r = ws.run("plan", f, "--format", "json", "--out", "saved.json", "--detailed-exitcode")
    assert r.rc == 2
    d = r.json()
    saved = json.loads((ws.dir / "saved.json").read_text())
    schema_validator().validate(d)
    schema_validator().validate(saved)
    assert saved["scopes"] == d["scopes"] and saved["blast_radius"] == d["blast_radius"]

    assert d["format"] == "smtp-iac/plan" and d["stack"] == STACK and d["stack_file"] == f
    assert d["store"] == ws.store_shown
    assert d["summary"] == {
        "create": 3,
        "update": 0,
        "delete": 1,
        "no-op": 1,
        "refused": 0,
        "affected_organizations": 5,
    }
    by = {s["address"]: s for s in d["scopes"]}
    assert list(by) == [
        "controller",
        "partners/acme",
        "partners/acme/organizations/acme-eu",
        "partners/acme/organizations/acme-us",
        "partners/globex",
    ]
    acme = by["partners/acme"]
    assert acme["action"] == "create" and acme["tier"] == "partner" and acme["desired"] == "settings"
    assert acme["fields"]["username"] == USER2 and acme["fields"]["port"] == PORT
    assert acme["password_ref"] == {"env": OTHER_ENV}
    assert acme["password_fingerprint"] == ws.fingerprint(OTHER_PASSWORD, "partners/acme")
    assert {"field": "password", "old": None, "new": "(set)"} in acme["changes"]
    assert by["partners/acme/organizations/acme-us"]["action"] == "no-op"
    glob = by["partners/globex"]
    assert glob["action"] == "delete" and glob["desired"] == "inherit" and glob["live_version"] == 1
    assert d["unmanaged"] == ["partners/initech/organizations/initech-hq"]

    br = d["blast_radius"]
    assert br["organizations"] == 6 and br["affected"] == 5
    imp = {i["org"]: (i["before"], i["after"]) for i in br["impacts"]}
    assert imp == {
        "partners/acme/organizations/acme-eu": (None, "partners/acme/organizations/acme-eu"),
        "partners/acme/organizations/acme-us": (None, "partners/acme"),
        "partners/acme/organizations/acme-labs": (None, "partners/acme"),  # its switch is off
        "partners/globex/organizations/globex-eu": ("partners/globex", "controller"),
        "partners/globex/organizations/globex-main": ("partners/globex", "controller"),
    }  # initech-hq keeps its own (unmanaged, enabled) override: not affected
    per = {p["partner"]: p for p in br["partners"]}
    assert per["acme"]["organizations"] == 3 and per["acme"]["affected"] == 3
    assert per["globex"]["affected"] == 2 and "initech" not in per
    assert {"from": "partner", "to": "controller", "kind": "source", "count": 2} in per["globex"]["transitions"]


def test_plan_password_change_shows_changed_never_the_value(ws, monkeypatch):
    ws.load_tenants()
    f = ws.write_stack(base_stack())
    assert ws.run("apply", f, "--yes").rc == 0
    monkeypatch.setenv(PW_ENV, "a-brand-new-secret-value-123")
    r = ws.run("plan", f, "--detailed-exitcode")
    assert r.rc == 2
    assert "controller" in r.out and "password: (changed)" in r.out
    assert "a-brand-new-secret-value-123" not in r.both
    d = ws.run("plan", f, "--format", "json").json()
    ctrl = next(s for s in d["scopes"] if s["address"] == "controller")
    assert ctrl["changes"] == [{"field": "password", "old": "(changed)", "new": "(changed)"}]
