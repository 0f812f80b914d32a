"""What the CLI says in a new user's first hour, run through the real CLI:

- ``destroy`` and ``apply`` without ``--yes`` (and no terminal) name their own command and
  effect, and ``destroy`` asks its own question on a terminal;
- ``show`` of a saved plan whose planned scopes moved since says STALE and names them (exit 0:
  the plan is still readable), in text, markdown and json, where apply refuses the same plan
  naming the same scopes; a store that fails after the digest check is said, not a crash;
- a partner pipeline through the settings service (a ``partner-admin`` token made with
  ``smtp-iac tokens create``) planning a stack that names the controller: the controller is
  refused once, with the token's role, and not also listed as unmanaged, in every format."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from live_service import ServerThread
from workflow_helpers import STACK, Workspace, partner, settings, stack_doc

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings
from smtp_iac.service.app import create_app
from smtp_iac.service.config import RateLimit, ServiceConfig

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]

REACH = "controller is beyond this token's reach (partner-admin of partners/acme)"
PORT = 2525  # verify mode off: no SMTP connection is made to it


def _stack(**partners_smtp) -> dict:
    """controller, acme and globex with settings; verify off (no relay needed)."""
    return stack_doc(
        None,
        controller=settings(PORT),
        partners={p: partner(settings(PORT, host=h)) for p, h in partners_smtp.items()},
    )


def _out_of_band(ws: Workspace, address: str, username: str) -> None:
    """Another writer (a console, say) changes a record: its version moves on."""
    rec = ws.record(address)
    with ws.open() as s:
        s.put(
            Address.parse(address),
            ResolvedSettings(host="127.0.0.1", port=PORT, tls=True, username=username, password="console-pw-123"),
            expected_version=rec.version if rec else None,
            stack=STACK,
            actor="console",
        )


# ----- --yes: each command names itself and its effect ------------------------------------


def test_destroy_without_yes_says_destroy_not_apply(ws):
    ws.load_tenants()
    f = ws.write_stack(_stack(acme="a.example", globex="g.example"))
    r = ws.run("apply", f, stdin="")
    assert r.rc == 1
    assert "apply writes 3 change(s) to the store: pass --yes (there is no terminal to ask on)" in r.err, r.err
    assert ws.state()[0] == []
    assert ws.run("apply", f, "--yes").rc == 0
    before = ws.state()

    r = ws.run("destroy", f, stdin="y\n")  # a pipe is not a terminal, even one that says yes
    assert r.rc == 1
    assert "destroy deletes 3 override(s) from the store: pass --yes (there is no terminal to ask on)" in r.err
    assert "apply" not in r.err and "writes" not in r.err
    assert ws.state() == before  # nothing deleted, nothing audited

    r = ws.run("destroy", f, "--yes", "--target", "partners/globex")
    assert r.rc == 0, r.both
    assert ws.record("partners/globex") is None and ws.record("partners/acme") is not None


@pytest.mark.parametrize("answer, rc", [("n\n", 1), ("y\n", 0)])
def test_destroy_asks_its_own_question_on_a_terminal(ws, answer, rc):
    ws.load_tenants()
    f = ws.write_stack(_stack(acme="a.example"))
    assert ws.run("apply", f, "--yes").rc == 0
    r = ws.on_terminal(answer, "destroy", f)
    assert r.rc == rc, r.err
    assert f"Destroy: delete 2 override(s) from {ws.store_shown}?" in r.err
    assert "Apply" not in r.err
    if rc:
        assert "nothing destroyed" in r.err and ws.record("controller") is not None
    else:
        assert "Apply: 2 applied" in r.out and ws.record("controller") is None


# ----- show: a stale plan says so ---------------------------------------------------------


def _saved_plan(ws: Workspace) -> str:
    """A stack applied, then edited, and its plan saved (updates acme and globex)."""
    ws.load_tenants()
    f = ws.write_stack(_stack(acme="a.example", globex="g.example"))
    assert ws.run("apply", f, "--yes").rc == 0
    ws.write_stack(_stack(acme="a2.example", globex="g2.example"))
    assert ws.run("plan", f, "--out", "plan.json", "--detailed-exitcode").rc == 2
    return f


def test_show_of_a_current_plan_is_the_plan(ws):
    _saved_plan(ws)
    planned = (ws.dir / "plan.json").read_text()
    r = ws.run("show", "plan.json")
    assert r.rc == 0 and "STALE" not in r.both and r.out.startswith("Plan for stack 'dev'")
    r = ws.run("show", "plan.json", "--format", "json")
    assert r.rc == 0 and r.json() == json.loads(planned)  # no field added: still the saved plan
    r = ws.run("show", "plan.json", "--format", "markdown")
    assert r.rc == 0 and "STALE" not in r.out


def test_show_says_a_stale_plan_is_stale_and_names_what_moved(ws):
    _saved_plan(ws)
    _out_of_band(ws, "partners/acme", "console-edit")  # version 1 -> 2 after the plan was saved
    moved = "partners/acme: live record moved from version 1 to version 2"

    r = ws.run("show", "plan.json")
    assert r.rc == 0, r.both  # a stale plan is still a readable one (SPEC: show exits 0 or 1)
    first, blank, rest = r.out.split("\n", 2)
    assert first.startswith("STALE: 1 planned scope moved since this plan was made, so apply would apply nothing: ")
    assert moved in first and "partners/globex" not in first and "Run plan again" in first
    assert blank == "" and rest.startswith("Plan for stack 'dev'")

    r = ws.run("show", "plan.json", "--format", "markdown")
    assert r.rc == 0 and r.out.startswith("> **STALE: 1 planned scope moved") and moved in r.out.splitlines()[0]

    r = ws.run("show", "plan.json", "--format", "json")
    assert r.rc == 0
    doc = r.json()
    assert doc["stale"] == [{"address": "partners/acme", "reason": "live record moved from version 1 to version 2"}]
    jsonschema.validate(doc, json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8")))
    assert doc["digest"] == json.loads((ws.dir / "plan.json").read_text())["digest"]

    # apply refuses the same plan, naming the same scope
    r = ws.run("apply", "plan.json", "--yes")
    assert r.rc == 1 and moved in r.err and "partners/globex" not in r.err

    # two scopes moved: both named, in address order
    _out_of_band(ws, "partners/globex", "console-edit")
    r = ws.run("show", "plan.json")
    assert r.rc == 0 and r.out.startswith("STALE: 2 planned scopes moved")
    assert r.out.index("partners/acme: live") < r.out.index("partners/globex: live") < r.out.index("Plan for")


def test_show_says_a_store_that_fails_after_the_digest_check(tmp_path, monkeypatch, capsys):
    """The settings service goes away between the digest check and the staleness check: the
    plan is shown with a line saying staleness was not checked. Gone before the digest check:
    nothing shown, exit 1, and the message says why."""
    from smtp_iac.store.remote import RemoteStore

    ws = _db_workspace(tmp_path, monkeypatch, capsys)
    with _service(ws, monkeypatch, role="sysadmin") as server:
        _saved_plan(ws)
        real_seal = RemoteStore.seal

        def seal_then_the_service_stops(self, digest):
            got = real_seal(self, digest)
            server.stop()
            return got

        monkeypatch.setattr(RemoteStore, "seal", seal_then_the_service_stops)
        r = ws.run("show", "plan.json")
        assert r.rc == 0, r.both
        assert r.out.startswith("NOT CHECKED whether this plan is stale: the store did not answer (")
        assert "does not answer" in r.out.splitlines()[0] and "Traceback" not in r.both
        assert "Plan for stack 'dev'" in r.out
        monkeypatch.setattr(RemoteStore, "seal", real_seal)
        r = ws.run("show", "plan.json", "--format", "json")  # the service is down now
        assert r.rc == 1 and r.out == ""
        assert "does not answer" in r.err and "nothing shown" in r.err and "Traceback" not in r.err


# ----- a partner pipeline through the service ---------------------------------------------


def _db_workspace(tmp_path: Path, monkeypatch, capsys) -> Workspace:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    db = tmp_path / "state" / "store.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"
    for name in ("SMTP_IAC_STORE_KEY", "SMTP_IAC_TOKEN", "SMTP_IAC_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMTP_IAC_STORE", url)
    monkeypatch.setenv("WF_SMTP_PASSWORD", "msg-Plain-Secret-41!never-shown")
    return Workspace(work, db, url, "keyfile", capsys)


@contextlib.contextmanager
def _service(ws: Workspace, monkeypatch, *, role: str, partner_id: str | None = None) -> Iterator[ServerThread]:
    """The real service on a loopback port over the workspace's SQLite store; commands then go
    through it with a token made by ``smtp-iac tokens create`` (run against the database, as the
    platform's administrator runs it)."""
    args = ["tokens", "create", "--role", role, "--name", "ci"] + (["--partner", partner_id] if partner_id else [])
    made = ws.run(*args)
    assert made.rc == 0, made.err
    token = made.out.splitlines()[0]
    config = ServiceConfig(store_url=ws.url, allow_unverified=True, rate_limit=RateLimit(per_minute=60_000, burst=1000))
    server = ServerThread(create_app(config)).start()
    monkeypatch.setenv("SMTP_IAC_STORE", server.url)
    monkeypatch.setenv("SMTP_IAC_TOKEN", token)
    ws.via = server.url
    try:
        yield server
    finally:
        server.stop()


def test_a_partner_token_is_told_once_that_the_controller_is_beyond_its_reach(tmp_path, monkeypatch, capsys):
    ws = _db_workspace(tmp_path, monkeypatch, capsys)
    ws.load_tenants()
    platform = ws.write_stack(stack_doc(None, controller=settings(PORT), name="platform"), "platform.yaml")
    assert ws.run("apply", platform, "--yes").rc == 0  # the platform's own stack owns the controller
    f = ws.write_stack(
        stack_doc(None, controller=settings(PORT, host="other.example"), partners={"acme": partner(settings(PORT))})
    )
    with _service(ws, monkeypatch, role="partner-admin", partner_id="acme"):
        r = ws.run("plan", f)
        assert r.rc == 1, r.both  # a refused scope: the plan is not applicable (SPEC: 1)
        lines = [ln for ln in r.out.splitlines() if "controller" in ln and "→" not in ln]
        assert len(lines) == 1, r.out  # one row; no "Unmanaged" line, no note
        assert lines[0].endswith(f"REFUSED (forbidden): {REACH}"), lines[0]
        assert "Unmanaged" not in r.out and "unmanaged" not in r.out
        assert "Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged, 1 refused." in r.out

        r = ws.run("plan", f, "--format", "markdown")
        assert r.rc == 1
        rows = [ln for ln in r.out.splitlines() if "`controller`" in ln]
        assert rows == [f"| `controller` | REFUSED (forbidden): {REACH} |"]
        assert "Unmanaged" not in r.out

        r = ws.run("plan", f, "--format", "json")
        assert r.rc == 1
        doc = r.json()
        assert doc["unmanaged"] == []
        [controller] = [s for s in doc["scopes"] if s["address"] == "controller"]
        assert controller["refusal"]["kind"] == "forbidden"
        assert controller["refusal"]["message"] == REACH
        assert doc["summary"]["refused"] == 1

        r = ws.run("apply", f, "--yes")
        assert r.rc == 1 and "refused" in r.err and "nothing applied" in r.err
    assert ws.record("controller").managed_by == "platform" and ws.record("partners/acme") is None


def test_a_partner_token_cannot_plan_the_removal_of_a_scope_beyond_its_reach(tmp_path, monkeypatch, capsys):
    """A stack that owns the controller but no longer names it plans its removal; through a
    partner admin's token that removal is refused in the plan (exit 1), not shown as a delete
    that only apply would find refused."""
    ws = _db_workspace(tmp_path, monkeypatch, capsys)
    ws.load_tenants()
    owned = ws.write_stack(stack_doc(None, controller=settings(PORT), name="acme-ci"), "acme-ci.yaml")
    assert ws.run("apply", owned, "--yes").rc == 0  # the stack owns the controller now
    f = ws.write_stack(stack_doc(None, partners={"acme": partner(settings(PORT))}, name="acme-ci"), "acme-ci.yaml")
    with _service(ws, monkeypatch, role="partner-admin", partner_id="acme"):
        r = ws.run("plan", f, "--detailed-exitcode")
        assert r.rc == 1, r.both
        [line] = [ln for ln in r.out.splitlines() if ln.rstrip().endswith(REACH) or "controller" in ln.split()]
        assert "delete" in line and f"REFUSED (forbidden): {REACH}" in line, r.out
        assert "1 refused" in r.out
        r = ws.run("apply", f, "--yes")
        assert r.rc == 1 and "nothing applied" in r.err
    assert ws.record("controller").managed_by == "acme-ci"
