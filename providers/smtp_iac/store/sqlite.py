"""The embedded backend: one SQLite file, zero set-up.

WAL journal (readers never block the writer and a killed process leaves the last committed
state), ``synchronous=FULL`` (a committed write survives a power cut, not only a crash: this is
configuration, and writes are few), a bounded ``busy_timeout`` (``Limits.lock_s``: a minute for
the CLI, so that concurrent pipelines queue instead of failing; two seconds for the service,
which then answers 503 with ``Retry-After``), and ``BEGIN IMMEDIATE`` for writes so that two
writers are serialized at the start of the transaction (never a deadlock-prone upgrade from a
read lock). One connection, one thread at a time, waited for at most ``Limits.wait_s``; with
pooled limits (the service), a second, read-only connection for reads, so that a read never
queues behind a write's commit and its ``fsync``. The
database directory is created if missing; the file is made readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator

from ..errors import StoreError, StoreUnavailable
from .db import Db, Duplicate, OneConnection, WouldWait
from .keys import KEY_CHECK, Keyring
from .limits import ONE_CONNECTION, Limits
from .schema import SQLITE
from .url import StoreUrl

BUSY_TIMEOUT_S = ONE_CONNECTION.lock_s


class SqliteDb(Db):
    """The connection of a store on a SQLite file."""

    dialect = SQLITE
    _conn: sqlite3.Connection
    _reader: sqlite3.Connection | None = None
    """Pooled limits (a long-lived process): a second, read-only connection for read
    transactions, so that a read never waits for a write's commit (WAL lets the two overlap)."""
    _now: sqlite3.Connection | None = None
    """Pooled limits: a third, read-only one for reads that must not wait (``_session_now``),
    opened at its first use (the service's event loop; never in the Pulumi plugin)."""

    def __init__(
        self,
        path: str,
        keyring: Keyring,
        url_for_display: str,
        *,
        limits: Limits = ONE_CONNECTION,
    ):
        super().__init__(keyring, url_for_display, limits)
        self._one = OneConnection()
        self.path = path
        self.local_files = StoreUrl("sqlite", url_for_display, path).local_files
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            fresh = not os.path.exists(path)
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=limits.lock_s, check_same_thread=False)
            if fresh:
                os.chmod(path, 0o600)
            self._conn.execute(f"PRAGMA busy_timeout = {round(limits.lock_s * 1000)}")
            mode = _enter_wal(self._conn, limits.lock_s)
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"cannot use WAL journal mode on {path} (got {mode})",
                    hint="put the database on a local file system",
                )
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if limits.pooled:  # a long-lived process: its reads need not wait for a write's commit
                self._reader = sqlite3.connect(
                    path, isolation_level=None, timeout=limits.lock_s, check_same_thread=False
                )
                self._reader.execute(f"PRAGMA busy_timeout = {round(limits.lock_s * 1000)}")
                self._reader.execute("PRAGMA query_only = ON")
                self._read_one = OneConnection()
                self._now_one = OneConnection()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(
                f"cannot open the store {url_for_display}: {e}", hint="check the path and its permissions"
            ) from None

    BEGIN_WRITE = "BEGIN IMMEDIATE"
    BEGIN_READ = "BEGIN"

    @property
    def connections(self) -> int:
        return 1 if self._reader is None else 2

    def close(self) -> None:
        if self._reader is not None:
            with self._read_one.lock:
                self._reader.close()
            with self._now_one.lock:
                if self._now is not None:
                    self._now.close()
        with self._one.lock:
            self._conn.close()

    @contextlib.contextmanager
    def _session(self, begin: str, wait_s: float) -> Iterator[sqlite3.Connection]:
        one, conn = self._one, self._conn
        if begin == self.BEGIN_READ and self._reader is not None:
            one, conn = self._read_one, self._reader
        with one.held(wait_s, self.url_for_display):
            try:
                conn.execute(begin)
            except sqlite3.Error as e:
                raise self._translate(e) from None
            yield conn

    @contextlib.contextmanager
    def _session_now(self, begin: str) -> Iterator[sqlite3.Connection]:
        """The event loop's connection, if it is free at this moment (it is, unless another
        thread is closing the store); a read on it never waits for a lock (``busy_timeout``
        0: ``SQLITE_BUSY`` at once, which ``Db._tx`` turns into ``WouldWait``)."""
        if self._reader is None or begin != self.BEGIN_READ or not self._now_one.lock.acquire(blocking=False):
            raise WouldWait
        try:
            try:
                if self._now is None:  # opened at its first use: a process that never asks holds none
                    self._now = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
                    self._now.execute("PRAGMA busy_timeout = 0")
                    self._now.execute("PRAGMA query_only = ON")
                self._now.execute(begin)
            except sqlite3.Error as e:
                raise self._translate(e) from None
            yield self._now
        finally:
            self._now_one.lock.release()

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _driver_error(self, e: BaseException) -> StoreError | None:
        if isinstance(e, sqlite3.IntegrityError) and "UNIQUE" in str(e):
            return Duplicate(str(e))
        if isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e)):
            return StoreUnavailable(
                f"the store {self.url_for_display} is busy: another writer held it for {self.limits.lock_s:g} s ({e})",
                fault="busy",
                retry_after=1,
            )
        if isinstance(e, sqlite3.Error):
            return StoreError(f"store {self.url_for_display}: {e}")
        return None

    def table_exists(self, cur: sqlite3.Cursor, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return cur.execute(sql, (name,)).fetchone() is not None


def _enter_wal(conn: sqlite3.Connection, busy_s: float) -> str:
    """Switch to WAL, retrying while another connection holds the lock.

    Changing the journal mode of a database that other connections are opening at the same
    moment can fail with "database is locked" at once: SQLite does not call the busy handler
    for that lock (seen when several pipelines open a new store together). So wait here, with
    the same overall deadline as ``busy_timeout``.
    """
    deadline = time.monotonic() + busy_s
    delay = 0.002
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def has_key_check(path: str) -> bool:
    """Whether an existing database file already holds encrypted data (its key check)."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                return False
            return conn.execute("SELECT 1 FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False
