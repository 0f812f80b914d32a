"""Fixtures of the relay health tests: a world per test (its own store, SQLite or PostgreSQL;
``health_helpers.World``) and the trustme CA that signs the loopback relays' certificates
(``tests/smtp_servers.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from health_helpers import World  # noqa: E402  (puts tests/ on sys.path too)
from smtp_servers import ca_file_fixture, ca_fixture  # noqa: E402,F401 (the ca and ca_file fixtures)

from smtp_iac.store import generate_key, open_database  # noqa: E402


@pytest.fixture
def world(tmp_path, monkeypatch, capsys) -> World:
    """A SQLite store (key file beside it) that commands find through SMTP_IAC_STORE."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "state" / "store.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"
    monkeypatch.setenv("SMTP_IAC_STORE", url)
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    monkeypatch.delenv("SMTP_IAC_DEBUG", raising=False)
    open_database(url, purpose="the health tests", create=True).close()
    return World(url, db, capsys)


@pytest.fixture
def pg_world(tmp_path, monkeypatch, capsys):
    """The same on PostgreSQL (a fresh schema); skips without SMTP_IAC_TEST_PG_DSN."""
    from pg_support import fresh_schema

    with fresh_schema() as (url, _dsn, _schema):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SMTP_IAC_STORE", url)
        monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
        monkeypatch.delenv("SMTP_IAC_DEBUG", raising=False)
        open_database(url, purpose="the health tests", create=True).close()
        yield World(url, None, capsys)
