"""The IaC lifecycle through the real CLI, on SQLite and PostgreSQL (the IaC lifecycle; SPEC "Stack file"
and "Command line"): a scope removed from the stack is deleted, `release` lets go without
deleting, `destroy`, `--target`, `show PLAN.json`, apply printing its plan, and a summary that
does not count refused scopes as changes. Verify is off here (its own suites cover it): these
tests are about what is planned and written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from smtp_iac.addresses import Address
from smtp_iac.cli.app import run
from smtp_iac.store import open_store

TENANTS = {
    "partners": {
        "acme": {"organizations": {"acme-us": {"smtp_enabled": True}, "acme-eu": {"smtp_enabled": True}}},
        "globex": {"organizations": {"globex-hq": {"smtp_enabled": False}}},
    }
}


def _smtp(host: str) -> dict:
    return {"host": host, "port": 587, "tls": True, "username": "u", "password": {"env": "LC_PW"}}


def _stack(name: str = "prod", *, org: bool = True, globex: bool = False) -> dict:
    acme: dict = {"smtp": _smtp("smtp.acme.example")}
    if org:
        acme["organizations"] = {"acme-us": {"smtp": _smtp("smtp.us.example")}}
    doc: dict = {"version": 1, "name": name, "verify": {"mode": "off"}, "controller": {"smtp": _smtp("smtp.example")}}
    doc["partners"] = {"acme": acme}
    if globex:
        doc["partners"]["globex"] = {"smtp": _smtp("smtp.globex.example")}
    return doc


class World:
    def __init__(self, url: str, tmp: Path, capsys):
        self.url = url
        self.tmp = tmp
        self.capsys = capsys

    def write(self, doc: dict, name: str = "prod.yaml") -> str:
        p = self.tmp / name
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        return str(p)

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = run([*args, "--store", self.url])
        cap = self.capsys.readouterr()
        return rc, cap.out, cap.err

    def record(self, address: str):
        with open_store(self.url) as s:
            return s.get(Address.parse(address))

    def audit(self, address: str) -> list[tuple[str, str]]:
        with open_store(self.url) as s:
            return [(e.action, e.outcome) for e in s.audit_log(address=Address.parse(address))]


@pytest.fixture
def world(store_url, tmp_path, capsys, monkeypatch) -> World:
    monkeypatch.setenv("LC_PW", "lc-Secret-never-shown-42")
    with open_store(store_url) as s:
        s.load_tenants(TENANTS)
    w = World(store_url, tmp_path, capsys)
    rc, _, err = w.run("apply", w.write(_stack()), "--yes")
    assert rc == 0, err
    return w


ORG = "partners/acme/organizations/acme-us"


def test_a_scope_removed_from_the_stack_is_deleted(world):
    f = world.write(_stack(org=False))
    rc, out, _ = world.run("plan", f, "--detailed-exitcode")
    assert rc == 2
    row = next(line for line in out.splitlines() if ORG in line)
    assert "delete" in row and "removed from the stack: remove override (owned by 'prod')" in row
    assert "Plan: 0 to create, 0 to update, 1 to delete, 2 unchanged, 0 refused." in out
    rc, out, _ = world.run("plan", f, "--format", "json")
    scope = next(s for s in json.loads(out)["scopes"] if s["address"] == ORG)
    assert (scope["action"], scope["desired"], scope["notes"]) == ("delete", "removed", ["removed from the stack"])
    rc, out, err = world.run("apply", f, "--yes")
    assert rc == 0, err
    assert world.record(ORG) is None
    assert world.audit(ORG)[-1] == ("delete", "ok")
    assert world.run("plan", f, "--detailed-exitcode")[0] == 0  # and now nothing is left to do


def test_release_lets_go_without_deleting(world):
    f = world.write(_stack(org=False))
    saved = str(world.tmp / "before-release.json")
    assert world.run("plan", f, "--out", saved)[0] == 0
    before = world.record(ORG)
    rc, out, _ = world.run("release", ORG, "--stack", "prod")
    assert rc == 0 and "released by stack 'prod'; the record stays" in out
    after = world.record(ORG)
    assert after.managed_by is None and after.host == before.host and after.version == before.version + 1
    assert after.password_fingerprint == before.password_fingerprint
    assert world.audit(ORG)[-1] == ("release", "ok")
    rc, out, _ = world.run("plan", f, "--detailed-exitcode")
    assert rc == 0 and "partners/acme/organizations/acme-us" in out  # listed as unmanaged now, not deleted
    rc, _, err = world.run("apply", saved, "--yes")  # planned the delete before the release: stale
    assert rc == 1 and "saved plan is stale" in err
    assert world.record(ORG) is not None
    # only the managing stack may release; no record, nothing to release
    rc, _, err = world.run("release", "partners/acme", "--stack", "other")
    assert rc == 1 and "partners/acme is managed by stack 'prod', not 'other': nothing released" in err
    rc, _, err = world.run("release", ORG, "--stack", "prod")
    assert rc == 1 and "managed by no stack" in err
    rc, _, err = world.run("release", "partners/acme/organizations/acme-eu", "--stack", "prod")
    assert rc == 1 and "no record at partners/acme/organizations/acme-eu" in err


def test_destroy_removes_what_the_stack_manages_and_nothing_else(world):
    doc = {"version": 1, "name": "other", "verify": {"mode": "off"}, "partners": {"globex": {"smtp": _smtp("g.ex")}}}
    other = world.write(doc, "other.yaml")
    assert world.run("apply", other, "--yes")[0] == 0
    f = world.write(_stack())
    rc, _, err = world.run("destroy", f)  # no terminal to ask on
    assert rc == 1 and "pass --yes" in err
    assert world.record("controller") is not None
    rc, out, err = world.run("destroy", f, "--yes", "--target", "partners/acme/*")
    assert rc == 0, err
    assert "destroy: the stack removes every override it manages" in out
    assert world.record("partners/acme") is None and world.record(ORG) is None
    assert world.record("controller") is not None
    rc, out, err = world.run("destroy", f, "--yes")
    assert rc == 0, err
    assert world.record("controller") is None
    assert world.record("partners/globex").managed_by == "other"  # another stack's scope stays
    assert world.run("destroy", f, "--yes")[0] == 0  # nothing left: a no-op, not an error


def test_target_limits_plan_apply_and_is_recorded_in_a_saved_plan(world):
    doc = _stack()
    doc["controller"]["smtp"]["port"] = 2525
    doc["partners"]["acme"]["smtp"]["port"] = 2525
    doc["partners"]["acme"]["organizations"]["acme-us"]["smtp"]["port"] = 2525
    f = world.write(doc)
    rc, out, _ = world.run("plan", f, "--target", "partners/acme/*", "--format", "json")
    plan = json.loads(out)
    assert plan["targets"] == ["partners/acme/*"]
    assert sorted(s["address"] for s in plan["scopes"]) == ["partners/acme", ORG]
    rc, out, _ = world.run("plan", f, "--target", "controller", "--target", ORG, "--out", str(world.tmp / "t.json"))
    assert "Plan: 0 to create, 2 to update" in out
    rc, _, err = world.run("apply", str(world.tmp / "t.json"), "--yes", "--target", "controller")
    assert rc == 1 and "--target belong to plan" in err
    assert world.run("apply", str(world.tmp / "t.json"), "--yes")[0] == 0
    assert world.record("controller").port == 2525 and world.record(ORG).port == 2525
    assert world.record("partners/acme").port == 587  # not targeted: untouched
    rc, _, err = world.run("plan", f, "--target", "partners/Acme")
    assert rc == 1 and "--target 'partners/Acme' is not a scope" in err


def test_show_renders_a_saved_plan_after_checking_its_digest(world):
    f = world.write(_stack(org=False))
    saved = world.tmp / "p.json"
    rc, planned, _ = world.run("plan", f, "--out", str(saved))
    rc, shown, _ = world.run("show", str(saved))
    assert rc == 0 and shown == planned
    rc, out, _ = world.run("show", str(saved), "--format", "json")
    assert json.loads(out) == json.loads(saved.read_text())
    rc, out, _ = world.run("show", str(saved), "--format", "markdown")
    assert rc == 0 and ORG in out
    doc = json.loads(saved.read_text())
    doc["scopes"][0]["notes"] = ["looks harmless"]
    saved.write_text(json.dumps(doc))
    rc, out, err = world.run("show", str(saved))
    assert rc == 1 and "was changed after it was made" in err and "nothing shown" in err and out == ""


def test_apply_prints_the_plan_it_applies(world):
    f = world.write(_stack(org=False))
    rc, out, _ = world.run("apply", f, "--yes")
    assert rc == 0
    assert out.index("Plan for stack 'prod'") < out.index("Apply: 1 applied")
    assert "removed from the stack" in out
    f = world.write(_stack())
    rc, out, _ = world.run("apply", f, "--yes", "--format", "json")
    doc = json.loads(out)
    assert doc["plan"]["summary"]["create"] == 1 and doc["ok"] is True
    rc, out, _ = world.run("apply", world.write(_stack(org=False)), "--yes", "--format", "markdown")
    assert rc == 0 and "removed from the stack" in out


def test_refused_scopes_are_not_counted_as_changes(world):
    doc = _stack(globex=True)  # globex-hq's switch is off, but globex itself is fine...
    doc["partners"]["globex"]["organizations"] = {"globex-hq": {"smtp": _smtp("hq.example")}}
    doc["partners"]["umbrella"] = {"smtp": _smtp("u.example")}  # ...and umbrella is unknown
    del doc["partners"]["globex"]["smtp"]
    rc, out, _ = world.run("plan", world.write(doc))
    assert rc == 1
    assert "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged, 2 refused." in out
