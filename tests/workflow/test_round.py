"""The life of a stack: tenants load, apply, out-of-band changes through the store API, drift
(exit 2, naming each), apply repairs, drift exit 0. Also drift's formats and errors, ``effective``
(winning address and chain), ``import`` round-trip and ``test-email``."""

from __future__ import annotations

import pytest
import yaml
from workflow_helpers import (
    OTHER_ENV,
    OTHER_PASSWORD,
    PASSWORD,
    STACK,
    USER,
    USER2,
    WRONG_ENV,
    partner,
    settings,
    stack_doc,
)

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = pytest.mark.timeout(60)


def _stack(ca_file, port: int) -> dict:
    return stack_doc(
        ca_file,
        controller=settings(port),
        partners={
            "acme": partner(
                settings(port, user=USER2, env=OTHER_ENV),
                acme_eu=settings(port, sender="eu@example.com"),
                acme_us="inherit",
            ),
            "globex": partner("inherit", globex_eu=settings(port)),
            "initech": partner(settings(port)),
        },
    )


def _resolved(port: int, user: str, password: str, **kw) -> ResolvedSettings:
    return ResolvedSettings(host="127.0.0.1", port=port, tls=True, username=user, password=password, **kw)


def test_full_round_load_apply_oob_drift_repair(ws, relay, ca_file):
    r = ws.run("tenants", "load", ws.write_tenants())
    assert r.rc == 0, r.both
    f = ws.write_stack(_stack(ca_file, relay.port))
    r = ws.run("apply", f, "--yes")
    assert r.rc == 0, r.both
    r = ws.run("drift", f)
    assert r.rc == 0 and f"No drift: the store matches stack '{STACK}'." in r.out

    # out of band, through the store API
    with ws.open() as s:
        acme = s.get(Address.parse("partners/acme"))
        # 1. a field: acme's port
        s.put(
            Address.parse("partners/acme"),
            _resolved(2525, USER2, OTHER_PASSWORD),
            expected_version=acme.version,
            stack=STACK,
            actor="console",
        )
        # 2. a password: initech's (same fields, another secret)
        ini = s.get(Address.parse("partners/initech"))
        s.put(
            Address.parse("partners/initech"),
            _resolved(relay.port, USER, "changed-in-console-77"),
            expected_version=ini.version,
            stack=STACK,
            actor="console",
        )
        # 3. a managed record deleted: acme-eu's
        eu = s.get(Address.parse("partners/acme/organizations/acme-eu"))
        s.delete(
            Address.parse("partners/acme/organizations/acme-eu"),
            expected_version=eu.version,
            stack=STACK,
            actor="console",
        )
        # 4. an override on a scope the stack says inherit: acme-us (org) and globex (partner)
        s.put(
            Address.parse("partners/acme/organizations/acme-us"),
            _resolved(relay.port, USER, PASSWORD),
            expected_version=None,
            stack=STACK,
            actor="console",
        )
        s.put(
            Address.parse("partners/globex"),
            _resolved(relay.port, USER, PASSWORD),
            expected_version=None,
            stack="console",
            actor="console",
        )
    oob = ws.state()

    r = ws.run("drift", f)
    assert r.rc == 2, r.both
    lines = r.out.splitlines()
    assert lines[0] == f"Drift in stack '{STACK}': 5 differences"

    def line(kind: str, addr: str) -> str:
        return next(ln for ln in lines if ln.split()[:2] == [kind, f"{addr}:"])

    assert line("changed", "partners/acme").endswith("live settings differ: port")
    assert f"      port: live 2525, desired {relay.port}" in lines
    assert line("changed", "partners/initech").endswith("live settings differ: password")
    assert "      password: (changed)" in lines
    assert "deleted" in line("missing", "partners/acme/organizations/acme-eu")
    assert "override appeared" in line("override_appeared", "partners/acme/organizations/acme-us")
    assert "managed by 'console'" in line("override_appeared", "partners/globex")

    d = ws.run("drift", f, "--format", "json")
    assert d.rc == 2
    items = {(i["address"], i["kind"]) for i in d.json()["items"]}
    assert items == {
        ("partners/acme", "changed"),
        ("partners/initech", "changed"),
        ("partners/acme/organizations/acme-eu", "missing"),
        ("partners/acme/organizations/acme-us", "override_appeared"),
        ("partners/globex", "override_appeared"),
    }
    acme = next(i for i in d.json()["items"] if i["address"] == "partners/acme")
    assert {"field": "port", "live": 2525, "desired": relay.port} in acme["changes"]
    ini = next(i for i in d.json()["items"] if i["address"] == "partners/initech")
    # a password: which one differs, by the two keyed fingerprints, never the secret
    fp_live = ws.fingerprint("changed-in-console-77", "partners/initech")
    fp_desired = ws.fingerprint(PASSWORD, "partners/initech")
    assert ini["changes"] == [{"field": "password", "live": fp_live, "desired": fp_desired}]
    md = ws.run("drift", f, "--format", "markdown")
    assert md.rc == 2 and "**5 differences**" in md.out
    assert "| override_appeared | `partners/globex` |" in md.out
    assert ws.state() == oob  # drift writes nothing, in any format

    # apply repairs what it may; the other stack's override needs --adopt
    r = ws.run("apply", f, "--yes")
    assert r.rc == 1 and "partners/globex" in r.err and "--adopt" in r.err
    assert ws.state() == oob
    r = ws.run("apply", f, "--yes", "--adopt")
    assert r.rc == 0, r.both
    for want in (
        "update  partners/acme",
        "update  partners/initech",
        "create  partners/acme/organizations/acme-eu",
        "delete  partners/acme/organizations/acme-us",
        "delete  partners/globex",
    ):
        assert f"ok             {want}" in r.out
    assert ws.record("partners/initech").password_fingerprint == ws.fingerprint(PASSWORD)
    assert ws.record("partners/acme").port == relay.port
    assert ws.record("partners/globex") is None

    r = ws.run("drift", f)
    assert r.rc == 0 and "No drift" in r.out
    assert ws.run("drift", f, "--format", "json").json()["drift"] is False
    assert "No drift." in ws.run("drift", f, "--format", "markdown").out


def test_drift_switch_off_and_owner_change_and_errors(ws, relay, ca_file):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("apply", f, "--yes").rc == 0
    with ws.open() as s:
        s.set_smtp_enabled(Address.parse("partners/acme/organizations/acme-eu"), False, actor="console")
    r = ws.run("drift", f, "--format", "json")
    assert r.rc == 2
    assert [(i["address"], i["kind"]) for i in r.json()["items"]] == [
        ("partners/acme/organizations/acme-eu", "override_ignored")
    ]
    with ws.open() as s:  # another stack takes initech over, with the very same settings
        s.set_smtp_enabled(Address.parse("partners/acme/organizations/acme-eu"), True, actor="console")
        s.put(
            Address.parse("partners/initech"),
            _resolved(relay.port, USER, PASSWORD),
            expected_version=1,
            stack="console",
            actor="console",
            adopt=True,
        )
    r = ws.run("drift", f)
    assert r.rc == 2
    (item, who) = [ln for ln in r.out.splitlines() if ln.startswith("  ")]
    assert item.split()[:2] == ["owner_changed", "partners/initech:"] and "stack 'console'" in item
    assert who.strip().startswith("last written by console at ")

    # a stack that names a tenant the store does not know: exit 1, named
    doc = _stack(ca_file, relay.port)
    doc["partners"]["umbrella"] = partner(settings(relay.port))
    r = ws.run("drift", ws.write_stack(doc, "other.yaml"))
    assert r.rc == 1 and "partners/umbrella" in r.err and "not known" in r.err
    (ws.dir / "stacks" / "broken.yaml").write_text("version: 1\npartners: [1]\n")
    r = ws.run("drift", "stacks/broken.yaml")
    assert r.rc == 1 and "stacks/broken.yaml:2:" in r.err and "Traceback" not in r.both


def test_effective_names_the_winning_record_and_chain(ws, relay, ca_file):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("apply", f, "--yes").rc == 0

    r = ws.run("effective", "partners/acme/organizations/acme-us")
    assert r.rc == 0
    assert "effective: partners/acme (partner tier)" in r.out
    assert f"username: {USER2}" in r.out
    assert "partners/acme/organizations/acme-us: no record" in r.out and "partners/acme: used" in r.out

    d = ws.run("effective", "acme/acme-eu", "--format", "json").json()
    assert d["source"] == "partners/acme/organizations/acme-eu" and d["tier"] == "organization"
    assert d["settings"]["sender"] == "eu@example.com" and d["settings"]["version"] == 1
    assert d["settings"]["password_fingerprint"] == ws.fingerprint(PASSWORD, "partners/acme/organizations/acme-eu")

    # acme-labs has its switch off: its org record could not apply; partner wins
    d = ws.run("effective", "acme-labs", "--format", "json").json()
    assert d["smtp_enabled"] is False and d["source"] == "partners/acme"
    # globex inherits: the controller wins, through the chain org -> partner -> controller
    d = ws.run("effective", "partners/globex/organizations/globex-main", "--format", "json").json()
    assert d["source"] == "controller" and d["tier"] == "controller"
    assert [c["address"] for c in d["chain"]] == [
        "partners/globex/organizations/globex-main",
        "partners/globex",
        "controller",
    ]
    assert d["chain"][-1]["outcome"] == "used"

    r = ws.run("effective", "--all", "--format", "json")
    assert r.rc == 0
    assert {x["org"]: x["source"] for x in r.json()}["partners/initech/organizations/initech-hq"] == "partners/initech"

    for bad in ("nope", "partners/acme/organizations/nope", "partners/globex/organizations/acme-eu"):
        r = ws.run("effective", bad)
        assert r.rc == 1, bad
        assert r.err.startswith("error:") and "Traceback" not in r.both


def test_import_round_trips_to_no_changes(ws, relay, ca_file, monkeypatch):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("apply", f, "--yes").rc == 0

    r = ws.run("import")
    assert r.rc == 0, r.err
    text = r.out
    assert "SMTP_PASSWORD_ACME" in text and PASSWORD not in text and OTHER_PASSWORD not in text
    doc = yaml.safe_load(text)
    assert doc["name"] == STACK  # the records' common owner
    assert doc["partners"]["acme"]["smtp"]["password"] == {"env": "SMTP_PASSWORD_ACME"}
    assert doc["partners"]["acme"]["organizations"]["acme-eu"]["smtp"]["password"] == {
        "env": "SMTP_PASSWORD_ACME__ACME_EU"
    }
    assert doc["partners"]["acme"]["organizations"]["acme-eu"]["smtp"]["sender"] == "eu@example.com"
    # controller, globex-eu and initech have the same settings: one relay, one placeholder
    shared = "127-0-0-1"
    assert doc["relays"][shared]["password"] == {"env": "SMTP_RELAY_PASSWORD_127_0_0_1"}
    assert doc["relays"][shared]["port"] == relay.port and doc["relays"][shared]["username"] == USER
    assert doc["controller"]["smtp"] == {"relay": shared}
    # through the service no two scopes' passwords can be compared: each but the first has its own
    own = ws.via is not None
    assert doc["partners"]["initech"]["smtp"] == {"relay": shared} | (
        {"password": {"env": "SMTP_PASSWORD_INITECH"}} if own else {}
    )
    assert doc["partners"]["globex"]["organizations"]["globex-eu"]["smtp"] == {"relay": shared} | (
        {"password": {"env": "SMTP_PASSWORD_GLOBEX__GLOBEX_EU"}} if own else {}
    )
    assert ("no two scopes' passwords can be compared" in text) == own
    assert doc["store"] == ws.store_shown and "verify" not in doc and "verify: is not kept in the store" in text
    (ws.dir / "stacks" / "imported.yaml").write_text(text)
    assert ws.run("validate", "stacks/imported.yaml").rc == 0

    # placeholders set to the real passwords: plan shows no changes, drift none
    real = {
        "SMTP_RELAY_PASSWORD_127_0_0_1": PASSWORD,
        "SMTP_PASSWORD_ACME": OTHER_PASSWORD,
        "SMTP_PASSWORD_ACME__ACME_EU": PASSWORD,
        "SMTP_PASSWORD_INITECH": PASSWORD,
        "SMTP_PASSWORD_GLOBEX__GLOBEX_EU": PASSWORD,
    }
    for var, pw in real.items():
        monkeypatch.setenv(var, pw)
    r = ws.run("plan", "stacks/imported.yaml", "--detailed-exitcode")
    assert r.rc == 0, r.both
    assert "No changes" in r.out and "5 unchanged" in r.out
    assert ws.run("drift", "stacks/imported.yaml").rc == 0
    # one placeholder set to another secret: a password change, and nothing else
    monkeypatch.setenv("SMTP_PASSWORD_ACME__ACME_EU", OTHER_PASSWORD)
    d = ws.run("plan", "stacks/imported.yaml", "--format", "json").json()
    assert [(s["address"], s["changes"]) for s in d["scopes"] if s["action"] != "no-op"] == [
        ("partners/acme/organizations/acme-eu", [{"field": "password", "old": "(changed)", "new": "(changed)"}])
    ]
    monkeypatch.setenv("SMTP_PASSWORD_ACME__ACME_EU", PASSWORD)

    # records of two stacks: the import is named 'imported' and still plans no changes
    with ws.open() as s:
        s.put(
            Address.parse("partners/initech/organizations/initech-hq"),
            _resolved(relay.port, USER2, OTHER_PASSWORD, sender="hq@example.com"),
            expected_version=None,
            stack="console",
            actor="console",
        )
    r = ws.run("import")
    assert r.rc == 0
    assert yaml.safe_load(r.out)["name"] == "imported"
    (ws.dir / "stacks" / "imported.yaml").write_text(r.out)
    monkeypatch.setenv("SMTP_PASSWORD_INITECH__INITECH_HQ", OTHER_PASSWORD)
    r = ws.run("plan", "stacks/imported.yaml", "--detailed-exitcode")
    assert r.rc == 0, r.both
    assert "6 unchanged" in r.out

    # --partner: only that partner's records
    r = ws.run("import", "--partner", "acme")
    assert r.rc == 0
    doc = yaml.safe_load(r.out)
    assert list(doc["partners"]) == ["acme"] and "controller" not in doc
    r = ws.run("import", "--partner", "nope")
    assert r.rc == 1 and "nope" in r.err


def test_test_email_ok_and_failed(ws, relay, ca_file):
    ws.load_tenants()
    doc = _stack(ca_file, relay.port)
    doc["partners"]["globex"]["smtp"] = settings(relay.port, env=WRONG_ENV)
    f = ws.write_stack(doc)
    before = ws.state()
    r = ws.run("test-email", f, "partners/acme")
    assert r.rc == 0, r.both
    assert r.out.startswith("partners/acme: ok (login check of 127.0.0.1:")
    r = ws.run("test-email", f, "partners/globex", "--format", "json")
    assert r.rc == 1
    d = r.json()
    assert d["ok"] is False and d["failure"] == "auth_failed" and d["settings"]["username"] == USER
    r = ws.run("test-email", f, "partners/acme/organizations/acme-us")
    assert r.rc == 1 and "inherit" in r.err
    assert ws.state() == before  # writes nothing
    assert relay.stats.sessions == 2


def test_drift_of_an_override_the_switch_forbids_says_why_it_is_missing(ws):
    ws.load_tenants()  # acme-labs: SMTP switched off
    f = ws.write_stack(stack_doc(None, partners={"acme": partner(acme_labs=settings(2587))}))
    r = ws.run("drift", f)
    assert r.rc == 2
    line = next(ln for ln in r.out.splitlines() if "acme-labs" in ln)
    assert line.split()[0] == "missing"
    assert "cannot be written: organization-level SMTP is disabled" in line
    assert "partner admin or system administrator" in line and "deleted out of band" not in line
    assert ws.run("plan", f).rc == 1


@pytest.mark.parametrize("bad", ["../../x", "Prod", "a b", "x\u200by", "-lead", ""])
def test_import_refuses_a_name_that_is_not_an_id(ws, bad):
    """Before: `import --name '../../x'` printed a stack that does not validate."""
    ws.load_tenants()
    r = ws.run("import", "--name", bad)
    assert r.rc == 1 and "is not a valid stack name" in r.err and r.out == "", r.both
    assert "Traceback" not in r.err
    r = ws.run("import", "--partner", bad)
    assert r.rc == 1 and "is not a valid partner id" in r.err and r.out == "", r.both


def test_import_with_a_valid_name_validates(ws, relay, ca_file, tmp_path):
    ws.load_tenants()
    assert ws.run("apply", ws.write_stack(_stack(ca_file, relay.port)), "--yes").rc == 0
    r = ws.run("import", "--name", "imported-2")
    assert r.rc == 0, r.err
    out = ws.dir / "stacks" / "imported-2.yaml"
    out.write_text(r.out)
    assert ws.run("validate", "stacks/imported-2.yaml").rc == 0
