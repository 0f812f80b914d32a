"""Fixtures for the store suite: every test that takes ``store_url`` (or ``store``) runs once on
SQLite and once on PostgreSQL (a fresh schema per test, see ``tests/pg_support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pg_support import fresh_schema
from store_helpers import TENANTS

from smtp_iac.store import open_store


@pytest.fixture
def key(monkeypatch) -> str:
    """A fresh Fernet key, also in SMTP_IAC_STORE_KEY (subprocesses inherit it)."""
    k = Fernet.generate_key().decode()
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", k)
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    monkeypatch.setenv("SMTP_IAC_ACTOR", "tester")
    return k


class Backend:
    def __init__(self, name: str, url: str, tmp: Path, dsn: str | None = None, schema: str | None = None):
        self.name = name
        self.url = url
        self.tmp = tmp
        self.dsn = dsn
        self.schema = schema

    @property
    def sqlite_path(self) -> Path:
        assert self.name == "sqlite"
        return Path(self.url[len("sqlite:///") :])

    def __repr__(self) -> str:
        return f"Backend({self.name})"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path, key) -> Backend:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path}/db/store.db", tmp_path)
    else:
        yield from _pg_backend(tmp_path)


@pytest.fixture
def pg_backend(tmp_path, key) -> Backend:
    """PostgreSQL only (for what only it has, like pg_dump)."""
    yield from _pg_backend(tmp_path)


def _pg_backend(tmp_path):
    with fresh_schema() as (url, dsn, schema):
        yield Backend("postgres", url, tmp_path, dsn, schema)


@pytest.fixture
def store_url(backend) -> str:
    return backend.url


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def loaded(store):
    store.load_tenants(TENANTS)
    return store
