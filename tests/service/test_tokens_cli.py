"""``smtp-iac tokens`` and ``smtp-iac serve`` as a user runs them: the console script in a
process, against a store on disk; the service then answers a real HTTP client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from smtp_iac.cli.app import run

SMTP_IAC = [str(Path(sys.executable).parent / "smtp-iac")]  # the installed console script


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMTP_IAC, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    (tmp_path / "tenants.yaml").write_text("partners:\n  acme:\n    organizations:\n      blue: {smtp_enabled: true}\n")
    return tmp_path


def test_create_prints_the_token_alone_then_list_and_revoke(store_dir: Path) -> None:
    made = _cli("tokens", "create", "--role", "sysadmin", "--name", "bootstrap admin", cwd=store_dir)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("smtpiac_")
    assert "shown once" in made.stderr and token not in made.stderr
    token_id = token.split("_")[1]

    assert _cli("tenants", "load", "tenants.yaml", cwd=store_dir).returncode == 0
    partner = _cli("tokens", "create", "--role", "partner-admin", "--partner", "acme", cwd=store_dir)
    assert partner.returncode == 0, partner.stderr
    unknown = _cli("tokens", "create", "--role", "partner-admin", "--partner", "acmee", cwd=store_dir)
    assert unknown.returncode == 1 and "did you mean acme" in unknown.stderr and unknown.stdout == ""
    wrong = _cli("tokens", "create", "--role", "org-admin", "--partner", "acme", cwd=store_dir)
    assert wrong.returncode == 1 and "--org" in wrong.stderr and wrong.stdout == ""
    assert _cli("tokens", "create", "--role", "viewer", "--expires-in", "0", cwd=store_dir).returncode == 1
    for ref in ("acme/blue", "blue", "partners/acme/organizations/blue"):  # as effective takes an ORG
        org = _cli("tokens", "create", "--role", "org-admin", "--org", ref, cwd=store_dir)
        assert org.returncode == 0 and "org-admin of partners/acme/organizations/blue" in org.stderr, org.stderr
    nobody = _cli("tokens", "create", "--role", "org-admin", "--org", "bleu", cwd=store_dir)
    assert nobody.returncode == 1 and "'bleu' is not known" in nobody.stderr and nobody.stdout == ""

    listed = _cli("tokens", "list", "--format", "json", cwd=store_dir)
    assert token.split("_", 2)[2] not in listed.stdout and "secret" not in listed.stdout
    assert {t["role"] for t in __import__("json").loads(listed.stdout)} == {"sysadmin", "partner-admin", "org-admin"}

    revoked = _cli("tokens", "revoke", token_id, cwd=store_dir)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in _cli("tokens", "list", cwd=store_dir).stdout
    assert _cli("tokens", "revoke", "nope", cwd=store_dir).returncode == 1
    db = (store_dir / ".smtp-iac" / "store.db").read_bytes()
    assert token.split("_", 2)[2].encode() not in db


def _serve(store_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``smtp-iac serve`` on a free port, once it answers ``/readyz``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*SMTP_IAC, "serve", "--port", str(port), *args],
        cwd=store_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate(timeout=30)[1])
        time.sleep(0.1)


def test_serve_answers_with_the_token_and_stops(store_dir: Path) -> None:
    token = _cli("tokens", "create", "--role", "viewer", cwd=store_dir).stdout.strip()
    proc, url = _serve(store_dir)
    try:
        r = httpx.get(url + "/v1/scopes/controller", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404 and r.json()["detail"].startswith("no record")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15)
    assert '"token_name": "viewer"' in err and token not in err


def test_serve_refuses_a_store_that_is_not_there(tmp_path) -> None:
    env = {**os.environ, "SMTP_IAC_STORE": f"sqlite:///{tmp_path}/typo.db"}
    r = _cli("serve", "--port", "0", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "no database file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "typo.db").exists()


def test_serve_flags_are_checked(tmp_path, capsys) -> None:
    assert run(["serve", "--deny-relay", "not-a-net", "--store", f"sqlite:///{tmp_path}/x.db"]) == 1
    assert "CIDR" in capsys.readouterr().err


def test_serve_with_workers_answers_from_each_and_a_revocation_holds_in_all(store_dir: Path) -> None:
    token = _cli("tokens", "create", "--role", "viewer", cwd=store_dir).stdout.strip()
    proc, url = _serve(store_dir, "--workers", "2", "--health-interval", "0")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        spawned = [p for p in workers if "spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes().decode()]
        assert len(spawned) == 2
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            r = httpx.get(url + "/v1/whoami", headers=headers)
            assert r.status_code == 200 and r.json()["role"] == "viewer"
        assert _cli("tokens", "revoke", token.split("_")[1], cwd=store_dir).returncode == 0
        for _ in range(20):
            r = httpx.get(url + "/v1/whoami", headers=headers)
            assert r.status_code == 401 and r.json()["detail"] == "the token is revoked"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "(2 workers)" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("{")]
    assert len(lines) >= 40 and all(ln.endswith("}") for ln in lines)  # whole lines from both workers
    assert token.split("_", 2)[2] not in err
