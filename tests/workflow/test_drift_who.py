"""Drift says who and when (the IaC lifecycle), through the real CLI, on SQLite and on PostgreSQL: each
item names the live record's last writer, or (a deleted record, a switched-off organization,
a record never written) the audit log's entry, in text, markdown and json; a changed password
shows as its two keyed fingerprints in json, never in plain. Also ``effective``'s TLS mode in
force and the feature-switch refusal said once."""

from __future__ import annotations

from datetime import datetime

import pytest
from pg_support import fresh_schema
from workflow_helpers import (
    OTHER_PASSWORD,
    PASSWORD,
    SECRETS,
    TENANTS,
    USER,
    Workspace,
    partner,
    settings,
    stack_doc,
)

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings
from smtp_iac.planning.drift import when
from smtp_iac.store import generate_key

pytestmark = pytest.mark.timeout(120)

PORT = 2587  # verify is off: nothing connects


@pytest.fixture(params=["sqlite", "postgres"])
def ws2(request, ws, monkeypatch):
    """The workspace, its store on SQLite or on a fresh PostgreSQL schema."""
    monkeypatch.setenv("SMTP_IAC_ACTOR", "pipeline")
    if request.param == "sqlite":
        yield ws
        return
    if ws.via:
        pytest.skip("through the service on SQLite here; tests/service run the service on PostgreSQL")
    with fresh_schema() as (url, _dsn, _schema):
        monkeypatch.setenv("SMTP_IAC_STORE", url)
        monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
        yield Workspace(ws.dir, ws.db, url, "env", ws.capsys)


def _put(s, address: str, *, actor: str, stack: str = "dev", password: str = PASSWORD, port: int = PORT) -> None:
    addr = Address.parse(address)
    live = s.get(addr)
    fields = ResolvedSettings(host="127.0.0.1", port=port, tls=True, username=USER, password=password)
    s.put(addr, fields, expected_version=live.version if live else None, stack=stack, actor=actor, adopt=True)


def _doc() -> dict:
    return stack_doc(
        None,
        controller=settings(PORT),
        partners={
            "acme": partner(settings(PORT), acme_eu=settings(PORT), acme_us="inherit"),
            "globex": partner(globex_eu=settings(PORT)),
            "initech": partner(settings(PORT)),
        },
    )


def test_each_drift_item_names_who_and_when(ws2):
    ws = ws2
    assert ws.run("tenants", "load", ws.write_tenants(TENANTS)).rc == 0
    f = ws.write_stack(_doc())
    assert ws.run("apply", f, "--yes").rc == 0
    with ws.open() as s:
        _put(s, "partners/acme", actor="alice", port=2525)  # a field
        _put(s, "partners/initech", actor="bob", password=OTHER_PASSWORD)  # a password
        eu = s.get(Address.parse("partners/acme/organizations/acme-eu"))
        s.delete(eu.address, expected_version=eu.version, stack="dev", actor="carol")  # deleted
        _put(s, "partners/acme/organizations/acme-us", actor="dave", stack="console")  # appeared
        s.set_smtp_enabled(Address.parse("partners/globex/organizations/globex-eu"), False, actor="erin")
        _put(s, "controller", actor="frank", stack="console")  # same settings, another owner
        recs = {str(r.address): r for r in s.list_records()}
        audit = s.audit_log()
    deleted_at = next(e.at for e in audit if e.action == "delete" and e.actor == "carol")
    off_at = next(e.at for e in audit if e.action == "disable-smtp" and e.actor == "erin")

    r = ws.run("drift", f)
    assert r.rc == 2, r.both
    lines = r.out.splitlines()

    def who(kind: str, address: str) -> str:
        i = next(n for n, ln in enumerate(lines) if ln.split()[:2] == [kind, f"{address}:"])
        return next(ln.strip() for ln in lines[i + 1 :] if not ln.strip().startswith(("port:", "password:")))

    assert who("changed", "partners/acme") == f"last written by alice at {when(recs['partners/acme'].updated_at)}"
    assert who("changed", "partners/initech") == f"last written by bob at {when(recs['partners/initech'].updated_at)}"
    assert who("missing", "partners/acme/organizations/acme-eu") == f"deleted by carol at {when(deleted_at)}"
    us = recs["partners/acme/organizations/acme-us"]
    assert (
        who("override_appeared", "partners/acme/organizations/acme-us")
        == f"last written by dave at {when(us.updated_at)}"
    )
    ctl = recs["controller"]
    assert who("owner_changed", "controller") == f"last written by frank at {when(ctl.updated_at)}"
    eu_off = who("override_ignored", "partners/globex/organizations/globex-eu")
    assert eu_off == f"SMTP switched off by erin at {when(off_at)}"

    d = ws.run("drift", f, "--format", "json")
    assert d.rc == 2
    items = {(i["address"], i["kind"]): i for i in d.json()["items"]}
    acme = items[("partners/acme", "changed")]
    assert acme["who"]["event"] == "written" and acme["who"]["by"] == "alice"
    assert datetime.fromisoformat(acme["who"]["at"]) == recs["partners/acme"].updated_at
    gone = items[("partners/acme/organizations/acme-eu", "missing")]["who"]
    assert (gone["event"], gone["by"], datetime.fromisoformat(gone["at"])) == ("deleted", "carol", deleted_at)
    off = items[("partners/globex/organizations/globex-eu", "override_ignored")]["who"]
    assert (off["event"], off["by"]) == ("smtp_switched_off", "erin")
    assert items[("controller", "owner_changed")]["who"]["by"] == "frank"
    # the password: which one differs, by the two keyed fingerprints
    ini = items[("partners/initech", "changed")]
    assert ini["changes"] == [
        {
            "field": "password",
            "live": ws.fingerprint(OTHER_PASSWORD, "partners/initech"),
            "desired": ws.fingerprint(PASSWORD, "partners/initech"),
        }
    ]

    md = ws.run("drift", f, "--format", "markdown")
    assert md.rc == 2
    assert "| Kind | Address | What | Who, when |" in md.out
    row = next(ln for ln in md.out.splitlines() if "`partners/acme/organizations/acme-eu`" in ln)
    assert row.endswith(f"| deleted by carol at {when(deleted_at)} |")

    for out in ws.outputs:
        for secret in SECRETS:
            assert secret not in out


def test_a_record_never_written_names_the_last_attempt(ws2, closed_port):
    ws = ws2
    ws.load_tenants()
    doc = stack_doc(None, partners={"initech": partner(settings(closed_port))})
    doc["verify"] = {"mode": "login", "timeout_seconds": 2}
    f = ws.write_stack(doc)
    assert ws.run("apply", f, "--yes").rc == 1  # connection refused: nothing written
    r = ws.run("drift", f, "--format", "json")
    assert r.rc == 2
    (item,) = r.json()["items"]
    assert item["kind"] == "missing" and "not written" in item["message"]
    assert item["who"]["event"] == "attempted" and item["who"]["by"] == ws.actor("pipeline")
    assert item["who"]["detail"] == "create: verify_failed"
    text = ws.run("drift", f).out
    assert f"last attempt (create: verify_failed) by {ws.actor('pipeline')} at " in text


def test_effective_shows_the_tls_mode_in_force(ws2):
    ws = ws2
    ws.load_tenants()
    doc = stack_doc(
        None,
        controller=settings(587),
        partners={
            "acme": partner(settings(465), acme_eu=settings(2525, tls_mode="implicit")),
            "initech": partner(settings(25, tls=False)),
        },
    )
    assert ws.run("apply", ws.write_stack(doc), "--yes").rc == 0
    cases = {
        "globex-eu": ("starttls (default for port 587)", "starttls", True),
        "acme-us": ("implicit (default for port 465)", "implicit", True),
        "acme-eu": ("implicit", "implicit", False),
        "initech-hq": ("none (tls: false)", "none", False),
    }
    for org, (shown, mode, default) in cases.items():
        r = ws.run("effective", org)
        assert r.rc == 0 and f"    tls_mode: {shown}\n" in r.out, r.out
        s = ws.run("effective", org, "--format", "json").json()["settings"]
        assert (s["tls_mode_in_force"], s["tls_mode_default"]) == (mode, default), org
        assert s["updated_by"] == ws.actor("pipeline")


def test_the_switched_off_refusal_says_it_once_with_the_seeds_advice(ws2):
    ws = ws2
    ws.load_tenants()  # acme-labs: SMTP switched off
    f = ws.write_stack(stack_doc(None, partners={"acme": partner(acme_labs=settings(PORT))}))
    r = ws.run("plan", f)
    assert r.rc == 1
    line = next(ln for ln in r.out.splitlines() if "acme-labs" in ln)
    assert "organization-level SMTP is disabled" in line
    assert "contact your partner admin or system administrator to enable it for your organization" in line
    assert "smtp-iac tenants enable-smtp partners/acme/organizations/acme-labs" in line
    said = line.split("(feature_disabled):", 1)[1].lower()
    assert said.count("disabled") + said.count("not enabled") == 1, line
