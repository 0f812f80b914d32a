"""No plain password anywhere: every command's stdout and stderr in every format (successes,
verify failures, stale and refused plans), the saved plan files, and the bytes of every store
file (sqlite database, -wal, -shm, key file) — with the store key in a key file and in
SMTP_IAC_STORE_KEY."""

from __future__ import annotations

import pytest
from workflow_helpers import OTHER_ENV, PW_ENV, SECRETS, USER2, WRONG_ENV, partner, settings, stack_doc

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = pytest.mark.timeout(90)


def _assert_absent(blob: bytes, where: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in blob, f"plain password found in {where}"


def test_no_password_in_any_output_plan_file_or_store_file(ws_any_key, relay, ca_file, monkeypatch):
    ws = ws_any_key
    port = relay.port
    assert ws.run("tenants", "load", ws.write_tenants()).rc == 0
    good = stack_doc(
        ca_file,
        controller=settings(port),
        partners={
            "acme": partner(settings(port, user=USER2, env=OTHER_ENV), acme_eu=settings(port), acme_us="inherit"),
            "globex": partner(settings(port, env=WRONG_ENV)),  # the relay refuses this password
            "initech": partner("inherit"),
        },
    )
    f = ws.write_stack(good)
    fmts = ("text", "json", "markdown")
    for fmt in fmts:
        ws.run("plan", f, "--format", fmt)
        ws.run("plan", f, "--format", fmt, "--detailed-exitcode", "--show-unchanged")
    assert ws.run("plan", f, "--out", "plan-1.json").rc == 0
    assert ws.run("apply", "plan-1.json", "--yes").rc == 1  # globex fails verify (auth_failed)
    assert ws.record("partners/globex") is None
    for fmt in fmts:
        assert ws.run("apply", f, "--yes", "--format", fmt).rc == 1
        assert ws.run("drift", f, "--format", fmt).rc == 2
    assert ws.run("test-email", f, "partners/globex").rc == 1
    assert ws.run("test-email", f, "partners/acme", "--format", "json").rc == 0
    assert ws.run("test-email", f, "controller").rc == 0

    # fix globex; apply; then every read command
    good["partners"]["globex"]["smtp"] = settings(port)
    ws.write_stack(good)
    assert ws.run("apply", f, "--yes").rc == 0
    for fmt in fmts:
        assert ws.run("drift", f, "--format", fmt).rc == 0
        assert ws.run("plan", f, "--format", fmt, "--show-unchanged").rc == 0
    for fmt in ("text", "json"):
        assert ws.run("effective", "acme-eu", "--format", fmt).rc == 0
        assert ws.run("effective", "--all", "--format", fmt).rc == 0
        assert ws.run("tenants", "list", "--format", fmt).rc == 0
    assert ws.run("import").rc == 0
    assert ws.run("import", "--partner", "acme").rc == 0

    # an out-of-band password change and a stale saved plan (password ref now another secret)
    with ws.open() as s:
        rec = s.get(Address.parse("partners/acme"))
        s.put(
            Address.parse("partners/acme"),
            ResolvedSettings(host="127.0.0.1", port=port, tls=True, username=USER2, password=SECRETS[2]),
            expected_version=rec.version,
            stack=rec.managed_by,
            actor="console",
        )
    for fmt in fmts:
        assert ws.run("drift", f, "--format", fmt).rc == 2
    assert ws.run("plan", f, "--out", "plan-2.json").rc == 0
    monkeypatch.setenv(OTHER_ENV, SECRETS[0])
    r = ws.run("apply", "plan-2.json", "--yes")
    assert r.rc == 1 and "stale" in r.err
    monkeypatch.setenv(OTHER_ENV, SECRETS[1])
    # as subprocesses too (nothing captured in-process can hide what a real process prints)
    assert ws.sub("plan", f, "--format", "json").rc == 0
    assert ws.sub("apply", "plan-2.json", "--yes").rc == 0
    assert ws.sub("drift", f, "--format", "markdown").rc == 0
    # a missing password variable: the error names the variable, not a value
    monkeypatch.delenv(PW_ENV)
    r = ws.run("plan", f)
    assert r.rc == 1 and PW_ENV in r.err

    outputs = "\n".join(ws.outputs)
    assert "acme" in outputs and "(changed)" in outputs  # the outputs are the real ones
    _assert_absent(outputs.encode(), "command output")
    for plan in ("plan-1.json", "plan-2.json"):
        data = (ws.dir / plan).read_bytes()
        assert b"password_fingerprint" in data
        _assert_absent(data, plan)
    files = ws.store_files()
    names = {p.name for p in files}
    assert "store.db" in names
    assert ("store.db.key" in names) == (ws.key_mode == "keyfile")
    for p in files:
        _assert_absent(p.read_bytes(), str(p))
    for p in ws.dir.rglob("*"):
        if p.is_file():
            _assert_absent(p.read_bytes(), str(p))
