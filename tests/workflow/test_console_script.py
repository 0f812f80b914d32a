"""The installed ``smtp-iac`` console script (next to sys.executable) as real subprocesses:
exit codes a pipeline sees, stdin that is not a terminal, no traceback for bad input."""

from __future__ import annotations

import json

import pytest
from workflow_helpers import CONSOLE_SCRIPT, OTHER_ENV, USER2, partner, schema_validator, settings, stack_doc

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _script_exists():
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} missing: pip install -e '.[test]'"


def test_pipeline_exit_codes_as_a_subprocess(ws, relay, ca_file):
    r = ws.sub("tenants", "load", ws.write_tenants())
    assert r.rc == 0, r.err
    f = ws.write_stack(
        stack_doc(
            ca_file,
            controller=settings(relay.port),
            partners={
                "acme": partner(settings(relay.port, user=USER2, env=OTHER_ENV), acme_us="inherit"),
                "globex": partner("inherit"),
            },
        )
    )

    # pull request: plan with changes -> 2, saved, json valid against the schema
    r = ws.sub("plan", f, "--detailed-exitcode", "--out", "plan.json", "--format", "json")
    assert r.rc == 2, r.err
    schema_validator().validate(json.loads(r.out))
    assert json.loads((ws.dir / "plan.json").read_text())["summary"]["create"] == 2

    # merge: without --yes on a pipe, refused; with --yes applies the saved plan
    r = ws.sub("apply", "plan.json", stdin="yes\n")
    assert r.rc == 1 and "pass --yes" in r.err
    assert ws.record("controller") is None
    r = ws.sub("apply", "plan.json", "--yes")
    assert r.rc == 0, r.both
    assert "Apply: 2 applied, 0 failed verify, 0 refused, 0 failed." in r.out
    assert "controller: applied" in r.err  # plain progress lines, not a bar, in a log

    # nightly: no drift -> 0; plan -> 0
    assert ws.sub("drift", f).rc == 0
    assert ws.sub("plan", f, "--detailed-exitcode").rc == 0
    r = ws.sub("effective", "partners/acme/organizations/acme-us", "--format", "json")
    assert r.rc == 0 and json.loads(r.out)["source"] == "partners/acme"


def test_errors_as_a_subprocess_exit_1_without_traceback(ws):
    ws.load_tenants()
    (ws.dir / "stacks").mkdir()
    (ws.dir / "stacks" / "bad.yaml").write_text("version: 1\ncontroller:\n  smtp:\n    hots: x\n")
    for args in (
        ["plan", "stacks/bad.yaml", "--detailed-exitcode"],
        ["drift", "stacks/bad.yaml"],
        ["apply", "stacks/bad.yaml", "--yes"],
        ["effective", "no-such-org"],
        ["plan", "stacks/missing.yaml"],
        ["apply", "missing.json", "--yes"],
    ):
        r = ws.sub(*args)
        assert r.rc == 1, (args, r.both)
        assert "error" in r.err and "Traceback" not in r.both, args


@pytest.mark.parametrize("answer, rc", [("n\n", 1), ("y\n", 0)])
def test_apply_asks_on_a_terminal(ws, relay, ca_file, answer, rc):
    """stdin a pseudo-terminal: apply shows the plan, asks, and does what the answer says."""
    ws.load_tenants()
    f = ws.write_stack(stack_doc(ca_file, controller=settings(relay.port)))
    r = ws.on_terminal(answer, "apply", f)
    assert r.rc == rc, r.err
    assert "Plan for stack 'dev'" in r.out and "Apply 1 change(s) to" in r.err  # the plan: the result
    if rc:
        assert "nothing applied" in r.err and ws.record("controller") is None
    else:
        assert "Apply: 1 applied" in r.out and ws.record("controller").version == 1
