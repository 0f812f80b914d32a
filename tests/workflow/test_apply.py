"""``smtp-iac apply``: verify against real relays, then compare-and-swap writes. Exit 0 when all
applied, 1 on any failure; a scope whose verify fails keeps its live record and version while
the others apply; identical settings make one SMTP session; no --yes and no terminal: refused."""

from __future__ import annotations

import pytest
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

pytestmark = pytest.mark.timeout(60)


def _stack(ca_file, port: int, **over) -> dict:
    """controller, acme (+ acme-eu), globex, initech — all on the relay unless overridden."""
    scopes = {
        "controller": settings(port),
        "acme": settings(port, user=USER2, env=OTHER_ENV),
        "acme-eu": settings(port, sender="eu@example.com"),
        "globex": settings(port),
        "initech": settings(port, user=USER2, env=OTHER_ENV),
    }
    scopes.update(over)
    return stack_doc(
        ca_file,
        controller=scopes["controller"],
        partners={
            "acme": partner(scopes["acme"], acme_eu=scopes["acme-eu"]),
            "globex": partner(scopes["globex"]),
            "initech": partner(scopes["initech"]),
        },
    )


def test_apply_writes_all_and_exits_0(ws, relay, ca_file):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    r = ws.run("apply", f, "--yes")
    assert r.rc == 0, r.both
    for addr in (
        "controller",
        "partners/acme",
        "partners/acme/organizations/acme-eu",
        "partners/globex",
        "partners/initech",
    ):
        assert f"ok             create  {addr}" in r.out
        rec = ws.record(addr)
        assert rec.version == 1 and rec.managed_by == STACK and rec.port == relay.port
    assert ws.record("partners/acme").password_fingerprint == ws.fingerprint(OTHER_PASSWORD)
    assert ws.record("controller").password_fingerprint == ws.fingerprint(PASSWORD)
    assert "Apply: 5 applied, 0 failed verify, 0 refused, 0 failed." in r.out
    # plain progress lines in CI (no terminal): one per scope event, on stderr
    assert "partners/globex: verifying" in r.err and "partners/globex: applied" in r.err
    # nothing left to do: exit 0, and the next plan is empty
    r = ws.run("apply", f, "--yes")
    assert r.rc == 0 and "Nothing to apply" in r.out
    assert ws.run("plan", f, "--detailed-exitcode").rc == 0


def test_apply_refuses_without_yes_when_stdin_is_not_a_terminal(ws, relay, ca_file):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    before = ws.state()
    r = ws.run("apply", f, stdin="y\n")  # a pipe, even one that says yes, is not a terminal
    assert r.rc == 1
    assert "pass --yes" in r.err and "no terminal" in r.err
    assert ws.state() == before
    assert relay.stats.sessions == 0  # not even a verify
    assert ws.run("plan", f, "--out", "p.json").rc == 0
    r = ws.run("apply", "p.json", stdin="")
    assert r.rc == 1 and "pass --yes" in r.err
    assert ws.state() == before


def test_failing_verify_leaves_that_scope_untouched_while_others_apply(ws, relay, ca_file, closed_port):
    ws.load_tenants()
    f = ws.write_stack(_stack(ca_file, relay.port))
    assert ws.run("apply", f, "--yes").rc == 0
    before = {a: ws.record(a) for a in ("partners/acme", "partners/globex", "partners/initech", "controller")}
    audit_before = ws.state()[1]

    # acme: a good change; globex: a password the relay refuses; initech: nothing listening
    ws.write_stack(
        _stack(
            ca_file,
            relay.port,
            acme=settings(relay.port, user=USER),
            globex=settings(relay.port, env=WRONG_ENV),
            initech=settings(closed_port, user=USER2, env=OTHER_ENV),
        )
    )
    r = ws.run("apply", f, "--yes", "--format", "json")
    assert r.rc == 1, r.both
    d = r.json()
    assert d["ok"] is False
    assert d["summary"] == {"applied": 1, "verify_failed": 2, "failed": 0, "refused": 0}
    res = {x["address"]: x for x in d["results"]}
    assert res["partners/acme"]["outcome"] == "applied" and res["partners/acme"]["version"] == 2
    assert res["partners/globex"]["outcome"] == "verify_failed"
    assert res["partners/globex"]["verify"]["failure"] == "auth_failed"
    assert res["partners/initech"]["outcome"] == "verify_failed"
    assert res["partners/initech"]["verify"]["failure"] == "connection_refused"
    assert "controller" not in res  # unchanged scopes are not touched

    after = {a: ws.record(a) for a in before}
    assert after["partners/acme"].version == 2 and after["partners/acme"].username == USER
    assert after["partners/acme"].password_fingerprint == ws.fingerprint(PASSWORD)
    for addr in ("partners/globex", "partners/initech", "controller"):
        assert after[addr] == before[addr], addr  # fields, fingerprint, version, owner, updated_*
    new_audit = ws.state()[1][len(audit_before) :]
    outcomes = sorted((e["address"], e["outcome"]) for e in new_audit)
    assert outcomes == [
        ("partners/acme", "ok"),
        ("partners/globex", "verify_failed"),
        ("partners/initech", "verify_failed"),
    ]

    # the text summary names each failure class and the platform's advice; exit 1 again
    r = ws.run("apply", f, "--yes")
    assert r.rc == 1
    plan_part, _, report = r.out.partition("Plan: ")  # apply prints the plan it applies, then the outcome
    assert "~  update  partners/globex" in plan_part
    globex = next(ln for ln in report.splitlines() if "partners/globex" in ln)
    assert globex.startswith("VERIFY_FAILED") and "auth_failed" in globex
    initech = next(ln for ln in report.splitlines() if "partners/initech" in ln)
    assert "connection_refused" in initech
    assert "hint:" in r.out
    assert "Apply: 0 applied, 2 failed verify, 0 refused, 0 failed." in r.out

    md = ws.run("apply", f, "--yes", "--format", "markdown")
    assert md.rc == 1
    assert "**0 applied**, 2 failed verify, 0 refused, 0 failed" in md.out
    assert "| `partners/globex` | verify_failed |" in md.out

    # drift still sees the desired-but-unapplied changes (and nothing else)
    r = ws.run("drift", f, "--format", "json")
    assert r.rc == 2
    assert sorted(i["address"] for i in r.json()["items"]) == ["partners/globex", "partners/initech"]


def test_identical_settings_make_one_smtp_session_each(ws, relay, ca_file):
    """6 scopes sharing 2 distinct settings: the relay sees exactly 2 sessions and 2 logins."""
    ws.load_tenants()
    a = settings(relay.port)
    b = settings(relay.port, user=USER2, env=OTHER_ENV)
    doc = stack_doc(
        ca_file,
        controller=a,
        partners={
            "acme": partner(b, acme_eu=a, acme_us=b),
            "globex": partner(a),
            "initech": partner(b),
        },
    )
    f = ws.write_stack(doc)
    r = ws.run("apply", f, "--yes", "--format", "json")
    assert r.rc == 0, r.both
    d = r.json()
    assert d["summary"]["applied"] == 6
    assert relay.stats.sessions == 2
    assert relay.stats.auth_attempts == 2
    # each scope carries the result of the check it shared
    assert {x["verify"]["ok"] for x in d["results"]} == {True}


def test_apply_send_mode_delivers_one_test_message_per_distinct_settings(ws, relay, ca_file):
    ws.load_tenants()
    a = settings(relay.port, sender="no-reply@example.com")
    doc = stack_doc(ca_file, controller=a, partners={"acme": partner(a), "globex": partner(a)}, mode="send")
    r = ws.run("apply", ws.write_stack(doc), "--yes")
    assert r.rc == 0, r.both
    assert relay.stats.sessions == 1 and len(relay.messages) == 1
    assert relay.messages[0].rcpt_tos == ["ops@example.com"] and relay.messages[0].auth_login == USER


def test_apply_stack_error_and_unknown_tenant_exit_1(ws, relay, ca_file):
    ws.load_tenants()
    doc = _stack(ca_file, relay.port)
    doc["partners"]["umbrella"] = partner(settings(relay.port))
    before = ws.state()
    r = ws.run("apply", ws.write_stack(doc), "--yes")
    assert r.rc == 1
    assert "partners/umbrella" in r.err and "nothing applied" in r.err
    assert ws.state() == before and relay.stats.sessions == 0
    (ws.dir / "stacks" / "bad.yaml").write_text("version: 1\ncontroller: {smtp: {host: x}}\n")
    r = ws.run("apply", "stacks/bad.yaml", "--yes")
    assert r.rc == 1 and "stacks/bad.yaml:" in r.err and "Traceback" not in r.both
