"""Connections to PostgreSQL as the store holds them: one (the CLI), or a pool (the service and
the Pulumi plugin), each connection made with the store's ``Limits`` in force.

The pool is ``psycopg_pool.ConnectionPool``: bounded (``Limits.pool_size``), replacing a lost
connection in the background with backoff (at most ``RECONNECT_S`` apart), and a checkout
waits at most ``Limits.wait_s``. A connection found dead when a transaction begins (a restart,
a failover, ``pg_terminate_backend``, a proxy that closed it while it sat idle) sends the pool
through all its idle connections at once (``ConnectionPool.check``), so that one caller pays
for a lost server's connections rather than every caller one each, and the transaction begins
again on a fresh connection: nothing was sent, so that is safe for writes too.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.pq import ConnStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import StoreUnavailable
from .limits import KEEPALIVES, RECONNECT_S, Limits

POOL_NAME = "smtp-iac"
FAILING_WAIT_S = 0.25


def connect_kwargs(url: str, limits: Limits) -> dict[str, Any]:
    """What every connection is made with, beyond the URL (whose own settings win)."""
    extra: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in url:
        extra["connect_timeout"] = limits.connect_s
    if "application_name" not in url:
        extra["application_name"] = "smtp-iac"
    for name, value in KEEPALIVES.items():
        if name not in url:
            extra[name] = value
    return extra


def configure(conn: psycopg.Connection[Any], limits: Limits) -> None:
    """Put ``limits`` in force on a new connection (session settings, so they hold for every
    transaction it runs)."""
    for name, value in limits.settings().items():
        conn.execute(f"SET {name} = '{value}'")


def lost(conn: psycopg.Connection[Any]) -> bool:
    """Whether ``conn`` can no longer be used (closed by the server, a reset, a restart)."""
    return conn.closed or conn.broken or conn.pgconn.status == ConnStatus.BAD


def fault_of(e: BaseException) -> str | None:
    """Which passing fault a driver error is, or None for one that is not passing."""
    if isinstance(e, PoolTimeout):
        return "pool"
    if isinstance(e, pgerrors.LockNotAvailable):
        return "lock"
    if isinstance(e, pgerrors.QueryCanceled):
        return "statement"
    if isinstance(e, pgerrors.DeadlockDetected | pgerrors.SerializationFailure):
        return "lock"
    if isinstance(
        e,
        pgerrors.AdminShutdown
        | pgerrors.CrashShutdown
        | pgerrors.CannotConnectNow
        | pgerrors.ConnectionException
        | pgerrors.IdleInTransactionSessionTimeout
        | pgerrors.ReadOnlySqlTransaction,
    ):
        return "connection"
    if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
        # the driver's own: the server closed the connection, a reset, a timeout connecting
        return "connection"
    return None


class Pooled:
    """The pool of a store's connections (see the module's docstring)."""

    def __init__(self, url: str, limits: Limits):
        self.limits = limits
        self.failing = False
        self._flushing = threading.Lock()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs=connect_kwargs(url, limits),
            min_size=1,
            max_size=limits.pool_size,
            open=False,
            configure=lambda conn: configure(conn, limits),
            name=POOL_NAME,
            timeout=limits.wait_s,
            reconnect_timeout=RECONNECT_S,
            max_idle=300,
            max_lifetime=3600,
            num_workers=2,
        )

    def open(self, first_s: float) -> None:
        """Open the pool; PoolTimeout when not even one connection is made within ``first_s``."""
        self.pool.open(wait=True, timeout=first_s)

    def close(self) -> None:
        self.pool.close(timeout=2)

    def begun(self, begin: str, wait_s: float) -> psycopg.Connection[Any]:
        """A connection of the pool on which ``begin`` ran; give it back with ``put``."""
        for attempt in (1, 2):
            conn = self._checkout(wait_s)
            try:
                conn.execute(begin)
                return conn
            except psycopg.Error:
                self.pool.putconn(conn)
                if attempt == 2 or not lost(conn):
                    raise
            self.flush()
        raise AssertionError("unreachable")  # pragma: no cover

    def _checkout(self, wait_s: float) -> psycopg.Connection[Any]:
        """A connection within ``wait_s``, or within ``FAILING_WAIT_S`` while the last checkout
        found none: during an outage callers are answered at once rather than each holding a
        worker for the whole wait (queued requests would otherwise wait behind them), and the
        pool still hears that it is wanted, so it keeps reconnecting."""
        try:
            conn = self.pool.getconn(timeout=min(wait_s, FAILING_WAIT_S) if self.failing else wait_s)
        except PoolTimeout:
            self.failing = True
            raise
        self.failing = False
        return conn

    def put(self, conn: psycopg.Connection[Any]) -> None:
        self.pool.putconn(conn)  # a lost one is discarded, and replaced by the pool

    def flush(self) -> None:
        """Test every idle connection now and replace the dead ones (one caller at a time; the
        others go on with what the pool has)."""
        if self._flushing.acquire(blocking=False):
            try:
                self.pool.check()
            finally:
                self._flushing.release()


def unavailable(fault: str, display: str, reason: str, limits: Limits) -> StoreUnavailable:
    """The ``StoreUnavailable`` of a fault, in words an operator acts on."""
    what = {
        "pool": f"no connection to the store {display} was free or could be made in time",
        "lock": f"the store {display} waited {limits.lock_s:g} s for a lock another session holds",
        "statement": f"a statement on the store {display} ran past {limits.statement_s:g} s",
        "connection": f"the connection to the store {display} was lost",
    }[fault]
    return StoreUnavailable(f"{what} ({reason})", fault=fault, retry_after=1 if fault == "lock" else 2)
