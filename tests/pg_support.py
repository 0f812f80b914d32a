"""The PostgreSQL side of the test suite, shared by every test directory that runs a test on
both backends.

Set ``SMTP_IAC_TEST_PG_DSN`` (CI: postgresql://postgres@127.0.0.1:5432/test). Each test gets
its own fresh schema (selected with ``?options=-csearch_path=...`` in the store URL) and drops
it afterwards, so tests never see each other's rows. Without the variable, or without a
reachable server, the PostgreSQL half skips and says how to run it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

PG_ENV = "SMTP_IAC_TEST_PG_DSN"
HOW_TO_RUN_PG = (
    f"PostgreSQL store tests need {PG_ENV} pointing at a reachable server, e.g. "
    f"{PG_ENV}=postgresql://postgres@127.0.0.1:5432/test .venv/bin/pytest "
    "(.ci/run sets it)"
)

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


@contextmanager
def fresh_schema() -> Iterator[tuple[str, str, str]]:
    """(store URL, DSN, schema name) of a new, empty schema, dropped on exit; skips without PG."""
    dsn = pg_dsn()
    schema = f"smtp_iac_t_{uuid.uuid4().hex[:12]}"
    pg_exec(dsn, f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(dsn, schema), dsn, schema
    finally:
        pg_exec(dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
