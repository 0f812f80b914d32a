"""Hostile relays through the real command line (hostile input): ``smtp-iac test-email`` stops a relay
that never stops talking at the reply caps with bounded memory (measured on the console script
as a subprocess), and one that talks too slowly at the check's deadline; ``smtp-iac apply``
against a relay that echoes the password across the 600-character cut writes an audit entry,
on SQLite and on PostgreSQL, that holds no part of it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hostile_relays import dialogue, endless_greeting, huge_ehlo, scripted_server
from pg_support import fresh_schema

from smtp_iac.addresses import Address
from smtp_iac.cli.app import run
from smtp_iac.store import generate_key, open_store
from smtp_iac.verify.redact import MAX_DETAIL

pytestmark = pytest.mark.timeout(180)

CONSOLE_SCRIPT = Path(sys.executable).parent / "smtp-iac"
SECRET = "Jv5@Np8%Cx2^Rm7+Bq4~Ls9"
USER = "cli-echo-user"
ENV = "HOSTILE_RELAY_PASSWORD"
MEMORY_SLACK_KIB = 32 * 1024
"""Peak RSS the hostile check may take over the same command against a valid relay. Before the
caps, an endless greeting grew the process by hundreds of MiB a second until the timeout."""


def leaks(secret: str, *texts: str, n: int = 8) -> list[str]:
    """Every substring of ``secret`` of ``n`` characters found in ``texts``."""
    return sorted({secret[i : i + n] for i in range(len(secret) - n + 1) for t in texts if secret[i : i + n] in t})


def write_stack(
    directory: Path, port: int, *, timeout: int, tls: str = "none", ca_file: Path | None = None, mode: str = "login"
) -> str:
    verify: dict = {"mode": mode, "timeout_seconds": timeout}
    if ca_file is not None:
        shutil.copy(ca_file, directory / "relay-ca.pem")
        verify["ca_file"] = "relay-ca.pem"
    if mode == "send":
        verify["to"] = "ops@example.com"
    smtp: dict = {"host": "127.0.0.1", "port": port, "tls": tls != "none"}
    if tls != "none":
        smtp["tls_mode"] = tls
    smtp |= {"username": USER, "password": {"env": ENV}, "sender": "no-reply@example.com"}
    doc = {"version": 1, "name": "hostile", "verify": verify, "controller": {"smtp": smtp}}
    path = directory / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV, SECRET)
    monkeypatch.delenv("SMTP_IAC_DEBUG", raising=False)
    return tmp_path


def console(args: list[str], cwd: Path) -> tuple[int, str, int]:
    """The installed console script as a subprocess: (exit code, stdout + stderr, its own
    peak resident set in KiB, from wait4's rusage for that one child)."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([str(CONSOLE_SCRIPT), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=cwd)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return p.returncode, out.read().decode("utf-8", "replace"), usage.ru_maxrss


# ----- test-email -----------------------------------------------------------------------------


def test_test_email_stops_an_endless_greeting_at_the_cap_with_bounded_memory(in_tmp):
    with scripted_server(dialogue()) as valid:
        rc, out, control_kib = console(["test-email", write_stack(in_tmp, valid.port, timeout=5), "controller"], in_tmp)
    assert rc == 0, out
    with scripted_server(endless_greeting) as hostile:
        rc, out, hostile_kib = console(
            ["test-email", write_stack(in_tmp, hostile.port, timeout=5), "controller"], in_tmp
        )
    assert rc == 1, out
    assert "verify failed: protocol at greeting" in out, out
    assert "sent too much in its greeting" in out and "more than 256 lines" in out
    assert "Traceback" not in out
    assert hostile_kib < control_kib + MEMORY_SLACK_KIB, (hostile_kib, control_kib)


def test_test_email_on_an_ehlo_of_10000_lines(in_tmp, capsys):
    with scripted_server(huge_ehlo(10_000)) as srv:
        stack = write_stack(in_tmp, srv.port, timeout=3)
        assert run(["test-email", stack, "controller", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["failure"], doc["stage"]) == ("protocol", "ehlo")
    assert "sent too much in its reply to EHLO" in doc["detail"]
    assert doc["elapsed_seconds"] < 3 + 1.5


def test_test_email_on_slow_stages_fails_at_the_check_deadline(in_tmp, capsys):
    # every reply 0.8 s late: greeting 0.8 s, EHLO 1.6 s, AUTH 2.4 s; the limit is 2 s in all
    with scripted_server(dialogue(), delay=0.8) as srv:
        stack = write_stack(in_tmp, srv.port, timeout=2)
        assert run(["test-email", stack, "controller", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["failure"], doc["stage"]) == ("protocol", "auth"), doc["detail"]
    assert "the check's time limit ran out (verify.timeout_seconds: 2 s" in doc["detail"]
    assert doc["elapsed_seconds"] < 2 + 1.5


def _echo_across_the_cut(login: str, password: str) -> str:
    """A 535 whose text holds the password from 12 characters before the cut to past it."""
    start = MAX_DETAIL - 3 - 12
    return "535 5.7.8 " + "e" * (start - len("5.7.8 ")) + password + " was wrong"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_test_email_output_holds_no_part_of_a_password_echoed_across_the_cut(fmt, in_tmp, smtp_server, ca_file):
    with smtp_server(tls="starttls", users={}, auth_failure_reply=_echo_across_the_cut) as srv:
        stack = write_stack(in_tmp, srv.port, timeout=5, tls="starttls", ca_file=ca_file)
        rc, out, _ = console(["test-email", stack, "controller", "--format", fmt], in_tmp)
    assert rc == 1, out
    assert "auth_failed" in out and "535 5.7.8 eee" in out
    assert not leaks(SECRET, out), out


# ----- apply: the audit log on SQLite and PostgreSQL --------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch):
    """(store URL, a function returning every byte/row the store holds as text)."""
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
    if request.param == "sqlite":
        db = tmp_path / "state" / "store.db"
        db.parent.mkdir()

        def dump_sqlite() -> str:
            files = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file())
            with sqlite3.connect(db) as conn:
                rows = "\n".join(line for line in conn.iterdump())
            return files.decode("latin-1") + rows

        yield f"sqlite:///{db}", dump_sqlite
        return
    with fresh_schema() as (url, dsn, schema):

        def dump_pg() -> str:
            import psycopg

            with psycopg.connect(dsn, connect_timeout=5) as conn:
                tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
                    )
                ]
                return "\n".join(
                    str(row[0]) for t in tables for row in conn.execute(f'SELECT t::text FROM "{schema}"."{t}" t')
                )

        yield url, dump_pg


def test_apply_audits_a_failed_verify_without_any_part_of_an_echoed_password(store, in_tmp, smtp_server, ca_file):
    url, dump = store
    with smtp_server(tls="starttls", users={}, auth_failure_reply=_echo_across_the_cut) as srv:
        stack = write_stack(in_tmp, srv.port, timeout=5, tls="starttls", ca_file=ca_file)
        rc, out, _ = console(["apply", stack, "--yes", "--store", url], in_tmp)
    assert rc == 1, out
    assert "auth_failed" in out
    with open_store(url) as s:
        entries = [e.to_dict() for e in s.audit_log()]
        assert s.get(Address.parse("controller")) is None  # nothing written for that scope
    [entry] = [e for e in entries if e["outcome"] == "verify_failed"]
    assert entry["address"] == "controller"
    assert "535 5.7.8 eee" in entry["detail"]  # the relay's reply is kept, masked then cut
    rc, audit_json, _ = console(["store", "audit", "--store", url, "--format", "json"], in_tmp)
    assert rc == 0, audit_json
    rc, audit_text, _ = console(["store", "audit", "--store", url], in_tmp)
    assert rc == 0, audit_text
    assert not leaks(SECRET, out, json.dumps(entries), audit_json, audit_text, dump())
