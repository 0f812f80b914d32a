"""The store when its database misbehaves, with the limits the service and the Pulumi plugin
use (``limits.POOLED``): connections terminated by the server, a table locked by another
session, a connection cut at COMMIT by the network (a real TCP proxy), SQLite held by another
writer. Each ends in seconds, as ``StoreUnavailable`` that says its fault and what became of a
write, or is absorbed (a lost idle connection is replaced before anything is sent).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from pg_support import fresh_schema, with_schema
from pydantic import SecretStr
from tcp_proxy import Proxy

from smtp_iac.addresses import Address
from smtp_iac.errors import StoreError, StoreUnavailable
from smtp_iac.models import ResolvedSettings
from smtp_iac.store import open_store
from smtp_iac.store.limits import POOLED

TENANTS = {"partners": {"acme": {"organizations": {"blue": {"smtp_enabled": True}}}}}
BLUE = Address("acme", "blue")
PASSWORD = "Faults-Password-7351"


def settings(host: str = "mail.example.com") -> ResolvedSettings:
    return ResolvedSettings(host=host, port=587, tls=True, username="u", password=SecretStr(PASSWORD), sender=None)


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def pg(key):
    """(store URL with its own application_name, DSN, schema) on the shared server."""
    with fresh_schema() as (url, dsn, schema):
        app = f"smtp-iac-faults-{uuid.uuid4().hex[:8]}"
        yield f"{url}&application_name={app}", dsn, schema, app


def terminate(dsn: str, app: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchall()
    return len(rows)


def test_terminated_connections_are_replaced_before_anything_is_sent(pg, key):
    url, dsn, _schema, app = pg
    with open_store(url, key=key, limits=POOLED) as store:
        store.load_tenants(TENANTS)
        store.put(BLUE, settings(), expected_version=None, stack=None, actor="t")
        assert terminate(dsn, app) >= 1
        # the next read and the next write each meet a dead connection first: both succeed
        assert store.get(BLUE).version == 1
        assert terminate(dsn, app) >= 1
        record = store.put(BLUE, settings("mail2.example.com"), expected_version=1, stack=None, actor="t").record
        assert record.version == 2
        assert store.get(BLUE).host == "mail2.example.com"
        entries = [e for e in store.audit_log(address=BLUE) if e.outcome == "ok"]
        assert [e.action for e in entries] == ["create", "update"]


def test_the_one_connection_of_a_command_is_not_pooled_and_says_it_was_lost(pg, key):
    url, dsn, _schema, app = pg
    with open_store(url, key=key) as store:  # the CLI's limits: one connection
        store.load_tenants(TENANTS)
        assert terminate(dsn, app) == 1
        with pytest.raises(StoreUnavailable) as caught:
            store.get(BLUE)
        assert caught.value.fault == "connection" and caught.value.retry_after > 0


def test_a_held_table_lock_ends_a_read_and_a_write_within_seconds(pg, key):
    url, dsn, schema, _app = pg
    with open_store(url, key=key, limits=POOLED) as store:
        store.load_tenants(TENANTS)
        store.put(BLUE, settings(), expected_version=None, stack=None, actor="t")
        with psycopg.connect(with_schema(dsn, schema)) as locker:
            locker.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
            start = time.monotonic()
            with pytest.raises(StoreUnavailable) as read:
                store.get(BLUE)
            with pytest.raises(StoreUnavailable) as write:
                store.put(BLUE, settings("x.example.com"), expected_version=1, stack=None, actor="t")
            took = time.monotonic() - start
            locker.rollback()
        assert read.value.fault == "lock" and read.value.write is None
        assert write.value.fault == "lock" and write.value.write == "not_applied"
        assert took < 2 * (POOLED.lock_s + 1)
        # nothing was written; the same write goes through once the lock is gone
        assert store.get(BLUE).version == 1
        assert store.put(BLUE, settings("x.example.com"), expected_version=1, stack=None, actor="t").record.version == 2


def test_a_slow_statement_is_ended_by_its_limit(pg, key):
    url, _dsn, _schema, _app = pg
    with open_store(url, key=key, limits=POOLED) as store:
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught, store.db.read() as cur:
            cur.execute("SELECT pg_sleep(30)")
        assert caught.value.fault == "statement"
        assert time.monotonic() - start < POOLED.statement_s + 2


@pytest.fixture
def proxied(pg, key):
    """A pooled store on the shared server through a TCP proxy."""
    _url, dsn, schema, _app = pg
    port = psycopg.conninfo.conninfo_to_dict(dsn).get("port", 5432)
    proxy = Proxy(int(port))
    dbname = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname", "test")
    through = with_schema(proxy.url(dbname), schema)
    store = open_store(through, key=key, limits=POOLED)
    store.load_tenants(TENANTS)
    store.put(BLUE, settings(), expected_version=None, stack=None, actor="t")
    yield store, proxy
    store.close()
    proxy.close()


def test_a_commit_whose_answer_was_lost_is_reported_done_once(proxied):
    """The server committed; the client lost the connection before hearing so. The store asks
    the database (on a new connection) and reports the write done: no error, no retry."""
    store, proxy = proxied
    proxy.cut_next_commit("after")
    record = store.put(BLUE, settings("after.example.com"), expected_version=1, stack=None, actor="t").record
    assert proxy.cuts == 1
    assert record.version == 2
    live = store.get(BLUE)
    assert live.version == 2 and live.host == "after.example.com"
    updates = [e for e in store.audit_log(address=BLUE) if e.action == "update"]
    assert len(updates) == 1 and updates[0].outcome == "ok"


def test_a_commit_that_never_reached_the_server_is_reported_not_applied(proxied):
    store, proxy = proxied
    proxy.cut_next_commit("before")
    with pytest.raises(StoreUnavailable) as caught:
        store.put(BLUE, settings("before.example.com"), expected_version=1, stack=None, actor="t")
    assert proxy.cuts == 1
    assert caught.value.write == "not_applied" and caught.value.fault == "connection"
    live = store.get(BLUE)
    assert live.version == 1 and live.host == "mail.example.com"
    assert not [e for e in store.audit_log(address=BLUE) if e.action == "update"]
    # the caller's retry, with the same expected version, is the one write
    retried = store.put(BLUE, settings("before.example.com"), expected_version=1, stack=None, actor="t")
    assert retried.record.version == 2


def test_every_connection_cut_by_the_network_is_replaced(proxied):
    store, proxy = proxied
    for _ in range(3):
        assert proxy.cut_all() >= 1
        assert store.get(BLUE).version == 1
        assert len(store.snapshot().records) == 1


def test_sqlite_held_by_another_writer_answers_busy_within_its_limit(tmp_path: Path, key):
    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}", key=key, limits=POOLED)
    store.load_tenants(TENANTS)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.put(BLUE, settings(), expected_version=None, stack=None, actor="t")
        took = time.monotonic() - start
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert caught.value.fault == "busy" and caught.value.write == "not_applied"
    assert POOLED.lock_s - 0.5 < took < POOLED.lock_s + 2
    assert store.put(BLUE, settings(), expected_version=None, stack=None, actor="t").record.version == 1
    store.close()


def test_sqlite_callers_queued_behind_a_slow_one_are_answered_not_held(tmp_path: Path, key):
    """One connection, one thread at a time: a caller waits for it at most ``wait_s``."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", key=key, limits=POOLED)
    store.load_tenants(TENANTS)
    hold = threading.Event()
    release = threading.Event()

    def slow() -> None:
        with store.db.read():
            hold.set()
            release.wait(20)

    t = threading.Thread(target=slow)
    t.start()
    try:
        assert hold.wait(10)
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.get(BLUE)
        took = time.monotonic() - start
    finally:
        release.set()
        t.join(20)
    assert caught.value.fault == "busy"
    assert POOLED.wait_s - 0.5 < took < POOLED.wait_s + 2
    assert store.get(BLUE) is None
    store.close()


def test_a_pool_that_cannot_connect_says_why(key):
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://postgres@127.0.0.1:1/test", key=key, limits=POOLED)
    assert "cannot connect to the store" in str(caught.value)
    assert "refused" in str(caught.value).lower() or "failed" in str(caught.value).lower()


def test_the_pulumi_hosts_store_outlives_lost_connections_and_a_held_lock(pg, key):
    """The plugin keeps its open (pooled) store through faults that pass: a terminated
    connection is replaced, a lock past its limit is an error of that call only."""
    from smtp_iac.pulumi.reuse import StoreRegistry

    url, dsn, schema, app = pg
    registry = StoreRegistry()
    try:
        with registry.use(url, key, create=True) as store:
            store.load_tenants(TENANTS)
            store.put(BLUE, settings(), expected_version=None, stack=None, actor="t")
        assert terminate(dsn, app) >= 1
        with registry.use(url, key, create=False) as store:
            assert store.get(BLUE).version == 1
        with psycopg.connect(with_schema(dsn, schema)) as locker:
            locker.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreUnavailable), registry.use(url, key, create=False) as store:
                store.get(BLUE)
            locker.rollback()
        with registry.use(url, key, create=False) as store:
            assert store.get(BLUE).version == 1
        assert registry.opened == 1  # one store (one pool) all along
    finally:
        registry.close()
