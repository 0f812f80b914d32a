"""The shared backend: PostgreSQL through psycopg 3, for many pipelines at once.

Connections run in autocommit mode and every operation opens its own explicit transaction:
writes at READ COMMITTED (the compare-and-swap is in each UPDATE/INSERT, which PostgreSQL
re-checks against the newest committed row, so concurrent writers are safe without
SERIALIZABLE retries), reads at REPEATABLE READ READ ONLY (``snapshot`` sees one instant).
Migrations take a transaction-scoped advisory lock so that pipelines starting together do not
race on DDL. Tables go in the first schema of ``search_path``; pick one with
``?options=-csearch_path%3Dmyschema`` in the URL.

Connections (``pgconnect``): one for the CLI, a pool for the service and the Pulumi plugin,
each made with the store's ``Limits`` in force (statement, lock and idle-transaction timeouts,
a connect timeout, TCP keepalives). A write learns its transaction id as it begins, so that a
connection lost at COMMIT is followed by asking the database, on a new connection, whether
that transaction committed (``txid_status``): the write is then reported done, or not
applied, and only when the database cannot be asked is its outcome unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import errors as pgerrors

from ..errors import StoreError
from .db import Db, Duplicate, OneConnection
from .keys import Keyring
from .limits import ONE_CONNECTION, Limits
from .pgconnect import Pooled, configure, connect_kwargs, fault_of, unavailable
from .schema import POSTGRES

MIGRATION_LOCK_ID = 0x736D74702D696163 & 0x7FFFFFFFFFFFFFFF  # "smtp-iac"


class PostgresDb(Db):
    """The connections of a store on PostgreSQL: one, or a pool."""

    dialect = POSTGRES

    def __init__(
        self,
        url: str,
        keyring: Keyring,
        url_for_display: str,
        *,
        limits: Limits = ONE_CONNECTION,
    ):
        super().__init__(keyring, url_for_display, limits)
        self._url = url
        self._secret = _password_of(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._pool: Pooled | None = None
        self._one = OneConnection()
        try:
            if limits.pooled:
                self._pool = Pooled(url, limits)
                self._pool.open(first_s=limits.connect_s + 1)
            else:
                self._conn = self._connect()
        except psycopg.Error as e:
            if self._pool is not None:
                self._pool.close()
                e = self._why_not(e)
            raise StoreError(
                f"cannot connect to the store {url_for_display}: {self._scrub(e)}",
                hint="check the URL, that the server is up, and the credentials",
            ) from None

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._url, **connect_kwargs(self._url, self.limits))
        configure(conn, self.limits)
        return conn

    def _why_not(self, e: psycopg.Error) -> psycopg.Error:
        """The pool says only that it timed out; one direct attempt says why (a refused
        connection, a wrong password) for the message."""
        try:
            self._connect().close()
        except psycopg.Error as direct:
            return direct
        return e

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._one.lock:
            if self._conn is not None:
                self._conn.close()

    def _scrub(self, e: BaseException) -> str:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
    BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    @contextlib.contextmanager
    def _session(self, begin: str, wait_s: float) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is not None:
            try:
                conn = self._pool.begun(begin, wait_s)
            except psycopg.Error as e:
                raise self._translate(e) from None
            try:
                yield conn
            finally:
                self._pool.put(conn)
            return
        with self._one.held(wait_s, self.url_for_display):
            assert self._conn is not None
            try:
                self._conn.execute(begin)
            except psycopg.Error as e:
                raise self._translate(e) from None
            yield self._conn

    def _rollback(self, conn: psycopg.Connection[Any]) -> None:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")

    def _driver_error(self, e: BaseException) -> StoreError | None:
        if isinstance(e, pgerrors.UniqueViolation):
            return Duplicate(self._scrub(e))
        if not isinstance(e, psycopg.Error):
            return None
        fault = fault_of(e)
        if fault is not None:
            return unavailable(fault, self.url_for_display, self._scrub(e), self.limits)
        return StoreError(f"store {self.url_for_display}: {self._scrub(e)}")

    def _write_mark(self, cur: Any) -> object:
        return cur.execute("SELECT txid_current()").fetchone()[0]

    def _commit_outcome(self, mark: object) -> bool | None:
        try:
            with self._connect() as conn:
                row = conn.execute("SELECT txid_status(%s)", (mark,)).fetchone()
        except psycopg.Error:
            return None
        status = row[0] if row else None
        return True if status == "committed" else False if status == "aborted" else None

    def _limit_statement(self, cur: Any, seconds: float) -> None:
        cur.execute(f"SET LOCAL statement_timeout = '{round(seconds * 1000)}ms'")

    def migration_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))

    def serialize(self, cur: Any, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def table_exists(self, cur: Any, name: str) -> bool:
        return bool(cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])


def _password_of(url: str) -> str | None:
    try:
        pw = urlsplit(url).password
    except ValueError:
        return None
    return unquote(pw) if pw else None
