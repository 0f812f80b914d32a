"""SPEC: commands that only read (plan, drift, effective, import, show, store audit, tenants
list) never create a store; a store URL that names nothing is an error that says so.

Before: ``drift FILE --store sqlite:///typo/x.db`` made the directory, a database and a key
file, then reported every scope ``missing``. Each case below runs the real CLI against a URL
that names no store and proves the error, the exit code, and that nothing was made: no
directory, database or key file on SQLite; no table in the PostgreSQL schema.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pg_support import fresh_schema
from store_helpers import TENANTS

from smtp_iac.cli.app import run
from smtp_iac.store import open_store

STACK = """\
version: 1
name: ro
controller:
  smtp:
    host: smtp.example.com
    port: 587
    tls: true
    username: apikey
    password: {env: RO_TEST_PASSWORD}
"""


@pytest.fixture
def stack_file(tmp_path, monkeypatch, key) -> Path:
    monkeypatch.setenv("RO_TEST_PASSWORD", "ro-Secret-never-shown")
    p = tmp_path / "ro.yaml"
    p.write_text(STACK)
    return p


def _read_only_commands(stack: Path) -> list[list[str]]:
    return [
        ["plan", str(stack)],
        ["drift", str(stack)],
        ["effective", "--all"],
        ["import"],
        ["store", "audit"],
        ["tenants", "list"],
        ["tenants", "enable-smtp", "acme-us"],
    ]


@pytest.mark.parametrize("with_key_env", [False, True], ids=["key-file", "key-env"])
def test_sqlite_typo_is_an_error_and_makes_nothing(tmp_path, stack_file, monkeypatch, capsys, with_key_env):
    if not with_key_env:  # the key would be made beside the database: it must not be
        monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    typo = tmp_path / "typo"
    url = f"sqlite:///{typo}/x.db"
    for argv in _read_only_commands(stack_file):
        assert run([*argv, "--store", url]) == 1, argv
        err = capsys.readouterr().err
        assert f"error: no store at {url}: there is no database file" in err, (argv, err)
        assert "nothing was created" in err and "Traceback" not in err
        assert not typo.exists(), f"{argv} made {typo}"


def test_sqlite_file_that_is_not_a_store_is_left_alone(tmp_path, stack_file, monkeypatch, capsys):
    """An existing SQLite file without smtp-iac's tables (another tool's database, say) is not
    a store: a read-only command neither migrates it nor puts a key file beside it."""
    import sqlite3

    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE unrelated (x INTEGER)")
    conn.commit()
    conn.close()
    for argv in _read_only_commands(stack_file):
        assert run([*argv, "--store", f"sqlite:///{db}"]) == 1, argv
        assert "holds no smtp-iac store" in capsys.readouterr().err
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"unrelated"}
    assert not Path(f"{db}.key").exists()


def test_postgres_schema_without_tables_is_an_error_and_stays_empty(stack_file, capsys):
    with fresh_schema() as (url, dsn, schema):
        for argv in _read_only_commands(stack_file):
            assert run([*argv, "--store", url]) == 1, argv
            err = capsys.readouterr().err
            assert "the database holds no smtp-iac tables" in err and "nothing was created" in err, (argv, err)
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            n = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,))
            assert n.fetchone() == (0,)


def test_saved_plan_against_a_store_that_is_gone(tmp_path, stack_file, capsys):
    """apply PLAN.json only writes to the store it was planned against; it never makes one."""
    db = tmp_path / "s" / "store.db"
    url = f"sqlite:///{db}"
    with open_store(url) as store:
        store.load_tenants(TENANTS)
    out = tmp_path / "plan.json"
    assert run(["plan", str(stack_file), "--store", url, "--out", str(out)]) == 0
    capsys.readouterr()
    for p in db.parent.iterdir():
        p.unlink()
    db.parent.rmdir()
    assert run(["apply", str(out), "--yes", "--store", url]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not db.parent.exists()


def test_writers_still_create_the_store(tmp_path, monkeypatch, capsys, key):
    """tenants load and a stack-file apply are how a store is made."""
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    db = tmp_path / "new" / "store.db"
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("partners: {acme: {organizations: {acme-us: {smtp_enabled: true}}}}\n")
    assert run(["tenants", "load", str(tenants), "--store", f"sqlite:///{db}"]) == 0
    assert db.is_file() and Path(f"{db}.key").is_file()
    assert run(["tenants", "list", "--store", f"sqlite:///{db}"]) == 0
    assert "acme-us" in capsys.readouterr().out


def test_console_script_drift_typo(tmp_path, stack_file):
    """The case from the issue, as a pipeline runs it."""
    console = Path(sys.executable).parent / "smtp-iac"
    typo = tmp_path / "typo"
    done = subprocess.run(
        [str(console), "drift", str(stack_file), "--store", f"sqlite:///{typo}/x.db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert "no store at" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not typo.exists()
