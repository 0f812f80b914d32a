"""Fixtures for the store suite: every test that takes ``store_url`` (or ``store``) runs once on
SQLite and once on PostgreSQL.

PostgreSQL: set ``SMTP_IAC_TEST_PG_DSN`` (CI: postgresql://postgres@127.0.0.1:5432/test). Each
test gets its own fresh schema (selected with ``?options=-csearch_path=...`` in the store URL)
and drops it afterwards, so tests never see each other's rows. Without the variable, or
without a reachable server, the PostgreSQL half skips and says how to run it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from providers.smtp.store import open_store
from store_helpers import TENANTS

PG_ENV = "SMTP_IAC_TEST_PG_DSN"
HOW_TO_RUN_PG = (f"PostgreSQL store tests need {PG_ENV} pointing at a reachable server, e.g. "
                 f"{PG_ENV}=postgresql://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/store "
                 "(.ci/run sets it)")

_pg_state: dict[str, str | None] = {}


def pg_dsn() -> str:
    """The test DSN, or skip (with how to run) when it is unset or the server is unreachable."""
    dsn = os.environ.get(PG_ENV, "").strip()
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set. {HOW_TO_RUN_PG}")
    if dsn not in _pg_state:
        import psycopg

        try:
            psycopg.connect(dsn, connect_timeout=5).close()
            _pg_state[dsn] = None
        except psycopg.Error as e:
            _pg_state[dsn] = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if _pg_state[dsn] is not None:
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable ({_pg_state[dsn]}). {HOW_TO_RUN_PG}")
    return dsn


def with_schema(dsn: str, schema: str) -> str:
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


def pg_exec(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


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
        return Path(self.url[len("sqlite:///"):])

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
    dsn = pg_dsn()
    schema = f"smtp_iac_t_{uuid.uuid4().hex[:12]}"
    pg_exec(dsn, f"CREATE SCHEMA {schema}")
    try:
        yield Backend("postgres", with_schema(dsn, schema), tmp_path, dsn, schema)
    finally:
        pg_exec(dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


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


