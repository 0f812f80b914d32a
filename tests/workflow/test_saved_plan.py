"""A saved plan (``plan --out``) applies exactly what it showed, or nothing: when a planned
scope's live version moved, or a password reference now resolves to another secret, apply
exits 1 naming the stale scope, and the records (versions, fingerprints) are exactly as they
were; the audit log gains one refused attempt per stale scope (SPEC: every refused attempt is
audited) and nothing else; no SMTP session is opened."""

from __future__ import annotations

import json

import pytest
from workflow_helpers import OTHER_ENV, PW_ENV, STACK, USER, USER2, partner, settings, stack_doc

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = pytest.mark.timeout(60)


def _stack(ca_file, port: int, acme_user: str = USER2, globex_user: str = USER) -> dict:
    return stack_doc(
        ca_file,
        controller=settings(port),
        partners={
            "acme": partner(settings(port, user=acme_user, env=OTHER_ENV if acme_user == USER2 else PW_ENV)),
            "globex": partner(settings(port, user=globex_user, env=OTHER_ENV if globex_user == USER2 else PW_ENV)),
        },
    )


def _unchanged_but_audited(ws, before, stale: dict[str, str]) -> None:
    """Records as ``before``; the audit grew by exactly one entry per stale scope: ``stale``
    maps its address to its outcome (conflict: version moved; refused: secret changed)."""
    records, audit = ws.state()
    assert records == before[0]
    assert audit[: len(before[1])] == before[1]
    new = audit[len(before[1]) :]
    assert {e["address"]: e["outcome"] for e in new} == stale
    for e in new:
        assert e["detail"].startswith("stale_plan: saved plan is stale, nothing applied: "), e
        assert e["stack"] == STACK and e["action"] in ("create", "update", "delete") and e["actor"]


def _console_creates(ws, relay, address: str, username: str) -> None:
    """Another writer (a console, say) creates a record out of band."""
    with ws.open() as s:
        s.put(
            Address.parse(address),
            ResolvedSettings(host="127.0.0.1", port=relay.port, tls=True, username=username, password="out-of-band-1"),
            expected_version=None,
            stack=STACK,
            actor="console",
        )


def _applied_then_planned(ws, relay, ca_file) -> str:
    """Apply a first stack, then save a plan that updates both partners."""
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("apply", f, "--yes").rc == 0
    ws.write_stack(_stack(ca_file, relay.port, acme_user=USER, globex_user=USER2))
    r = ws.run("plan", f, "--out", "plan.json", "--detailed-exitcode")
    assert r.rc == 2
    saved = json.loads((ws.dir / "plan.json").read_text())
    assert [(s["address"], s["action"], s["live_version"]) for s in saved["scopes"] if s["action"] != "no-op"] == [
        ("partners/acme", "update", 1),
        ("partners/globex", "update", 1),
    ]
    return f


def test_saved_plan_applies_exactly_what_it_showed(ws, relay, ca_file):
    f = _applied_then_planned(ws, relay, ca_file)
    # the stack file changes after the plan was saved: the saved plan still applies what it showed
    ws.write_stack(_stack(ca_file, relay.port, acme_user="somebody-else"))
    r = ws.run("apply", "plan.json", "--yes")
    assert r.rc == 0, r.both
    assert ws.record("partners/acme").username == USER and ws.record("partners/acme").version == 2
    assert ws.record("partners/globex").username == USER2 and ws.record("partners/globex").version == 2
    assert ws.record("controller").version == 1
    # applying it a second time: every scope it planned has moved since -> stale, nothing applied
    before = ws.state()
    r = ws.run("apply", "plan.json", "--yes")
    assert r.rc == 1 and "stale" in r.err
    _unchanged_but_audited(ws, before, {"partners/acme": "conflict", "partners/globex": "conflict"})
    assert ws.run("plan", f, "--detailed-exitcode").rc == 2  # the edited stack, not the plan


def test_stale_plan_version_moved_applies_nothing(ws, relay, ca_file):
    _applied_then_planned(ws, relay, ca_file)
    with ws.open() as s:  # out of band, after plan --out: acme moves from version 1 to 2
        s.put(
            Address.parse("partners/acme"),
            ResolvedSettings(
                host="127.0.0.1", port=relay.port, tls=True, username="console-edit", password="console-pw-123"
            ),
            expected_version=1,
            stack=STACK,
            actor="console",
        )
    before = ws.state()
    sessions = relay.stats.sessions

    for fmt in ("text", "json", "markdown"):
        r = ws.run("apply", "plan.json", "--yes", "--format", fmt)
        assert r.rc == 1, r.both
        assert "saved plan is stale, nothing applied" in r.err
        assert "partners/acme: live record moved from version 1 to version 2" in r.err
        assert "partners/globex" not in r.err  # only the stale scope is named
        assert "run plan again" in r.err
        _unchanged_but_audited(ws, before, {"partners/acme": "conflict"})
        before = ws.state()
    assert relay.stats.sessions == sessions  # not even a verify
    assert ws.record("partners/globex").version == 1 and ws.record("partners/globex").username == USER


def test_stale_plan_record_deleted_or_created_since(ws, relay, ca_file):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("plan", f, "--out", "plan.json").rc == 0  # creates, planned against "absent"
    _console_creates(ws, relay, "partners/globex", "early")
    before = ws.state()
    r = ws.run("apply", "plan.json", "--yes")
    assert r.rc == 1
    assert "partners/globex: live record moved from absent to version 1" in r.err
    _unchanged_but_audited(ws, before, {"partners/globex": "conflict"})
    assert ws.record("controller") is None  # the other planned creates did not happen either


def test_stale_plan_password_reference_resolves_to_another_secret(ws, relay, ca_file, monkeypatch):
    _applied_then_planned(ws, relay, ca_file)
    before = ws.state()
    fp_before = {r["address"]: r["password_fingerprint"] for r in before[0]}
    sessions = relay.stats.sessions
    monkeypatch.setenv(OTHER_ENV, "rotated-after-review-0a9c")  # globex's planned password reference
    r = ws.run("apply", "plan.json", "--yes")
    assert r.rc == 1, r.both
    assert "saved plan is stale, nothing applied" in r.err
    assert f"partners/globex: password reference env:{OTHER_ENV} now resolves to another secret" in r.err
    assert "partners/acme:" not in r.err
    assert "rotated-after-review-0a9c" not in r.both
    _unchanged_but_audited(ws, before, {"partners/globex": "refused"})
    assert {r["address"]: r["password_fingerprint"] for r in ws.state()[0]} == fp_before
    assert relay.stats.sessions == sessions  # not even a verify


def test_saved_plan_with_refusals_or_tampering_is_refused(ws, relay, ca_file):
    ws.load_tenants()
    doc = _stack(ca_file, relay.port)
    doc["partners"]["umbrella"] = partner(settings(relay.port))
    f = ws.write_stack(doc)
    r = ws.run("plan", f, "--out", "bad.json")
    assert r.rc == 1  # the plan is still saved, for the record, but cannot be applied
    before = ws.state()
    r = ws.run("apply", "bad.json", "--yes")
    assert r.rc == 1 and "refused" in r.err and "nothing applied" in r.err
    assert ws.state() == before

    # a hand-edited plan: invalid per the schema, or with settings the rules refuse
    ok = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("plan", ok, "--out", "good.json").rc == 0
    doc = json.loads((ws.dir / "good.json").read_text())
    doc["scopes"][0]["action"] = "explode"
    (ws.dir / "edited.json").write_text(json.dumps(doc))
    r = ws.run("apply", "edited.json", "--yes")
    assert r.rc == 1 and "not a valid smtp-iac plan" in r.err and "$.scopes[0].action" in r.err
    doc = json.loads((ws.dir / "good.json").read_text())
    doc["scopes"][0]["fields"]["port"] = 465
    doc["scopes"][0]["fields"]["tls"] = False
    (ws.dir / "edited.json").write_text(json.dumps(doc))
    r = ws.run("apply", "edited.json", "--yes")
    assert r.rc == 1 and "Traceback" not in r.both
    assert "the saved plan was changed after it was made" in r.err and "make a new plan" in r.err
    # an edit that is valid on its face (another port) is refused just the same: the digest
    # is keyed with the store key, so it cannot be recomputed without it
    doc = json.loads((ws.dir / "good.json").read_text())
    doc["scopes"][0]["fields"]["port"] = doc["scopes"][0]["fields"]["port"] + 1
    (ws.dir / "edited.json").write_text(json.dumps(doc, indent=2))
    r = ws.run("apply", "edited.json", "--yes")
    assert r.rc == 1 and "the saved plan was changed after it was made" in r.err
    # the untouched plan, re-serialized in another JSON spelling, still applies
    doc = json.loads((ws.dir / "good.json").read_text())
    (ws.dir / "respelled.json").write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    assert ws.run("apply", "respelled.json", "--yes").rc == 0
    before = ws.state()
    (ws.dir / "garbage.json").write_text("{not json")
    r = ws.run("apply", "garbage.json", "--yes")
    assert r.rc == 1 and "not a JSON plan file" in r.err
    assert ws.state() == before


@pytest.mark.parametrize("same_key", [True, False])
def test_saved_plan_applies_only_to_the_store_it_was_planned_against(
    ws, relay, ca_file, tmp_path, monkeypatch, same_key
):
    from smtp_iac.store import generate_key, open_store

    if same_key:  # a shared key: fingerprints agree across stores, only the URL tells them apart
        if ws.via:
            pytest.skip("the service's store was made (with its key file) before a shared key could be set")
        monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("plan", f, "--out", "plan.json").rc == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with open_store(other) as s:
        s.load_tenants(__import__("workflow_helpers").TENANTS, actor="test")
    for how in (["--store", other], None):
        if how is None:
            monkeypatch.setenv("SMTP_IAC_STORE", other)
        r = ws.run("apply", "plan.json", "--yes", *(how or []))
        assert r.rc == 1, r.both
        assert f"was planned against {ws.store_shown}, not {other}; nothing applied" in r.err
        with open_store(other) as s:
            assert s.list_records() == [] and [e for e in s.audit_log() if e.address] == []
    monkeypatch.setenv("SMTP_IAC_STORE", ws.store_shown)
    assert ws.run("apply", "plan.json", "--yes").rc == 0
    assert ws.record("controller").version == 1


def test_stack_file_apply_that_loses_a_race(ws, relay, ca_file, monkeypatch):
    """Another writer lands between the plan a stack-file apply makes and its writes (the
    window is made wide and certain by writing right after planning). Before: the message
    spoke of a "saved plan" although none was used, and the refusal was not audited."""
    import smtp_iac.cli.apply as cli_plan

    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    real_make_plan = cli_plan.make_plan

    def plan_then_someone_writes(*args, **kwargs):
        plan = real_make_plan(*args, **kwargs)
        _console_creates(ws, relay, "partners/acme", "racer")
        return plan

    monkeypatch.setattr(cli_plan, "make_plan", plan_then_someone_writes)
    before = ws.state()
    sessions = relay.stats.sessions
    r = ws.run("apply", f, "--yes")
    assert r.rc == 1, r.both
    assert "saved plan" not in r.err
    assert "the store changed while apply was planning, nothing applied" in r.err
    assert "partners/acme: live record moved from absent to version 1" in r.err
    assert "run apply again" in r.err
    assert relay.stats.sessions == sessions
    records, audit = ws.state()
    assert [r["address"] for r in records] == ["partners/acme"]  # only the racer's write
    new = audit[len(before[1]) :]
    assert [(e["address"], e["action"], e["outcome"]) for e in new] == [
        ("partners/acme", "create", "ok"),  # the racer
        ("partners/acme", "create", "conflict"),  # this apply's refused attempt
    ]
    assert new[1]["detail"] == (
        "stale_plan: the store changed while apply was planning, nothing applied: "
        "live record moved from absent to version 1"
    )
    monkeypatch.setattr(cli_plan, "make_plan", real_make_plan)
    assert ws.run("apply", f, "--yes").rc == 0  # run again: the new plan adopts nothing, updates acme
