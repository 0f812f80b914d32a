"""The embedded backend: one SQLite file, zero set-up.

WAL journal (readers never block the writer and a killed process leaves the last committed
state), ``synchronous=FULL`` (a committed write survives a power cut, not only a crash: this is
configuration, and writes are few), a generous ``busy_timeout`` so concurrent pipelines queue
instead of failing, and ``BEGIN IMMEDIATE`` for writes so that two writers are serialized at
the start of the transaction (never a deadlock-prone upgrade from a read lock). The database
directory is created if missing; the file is made readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

from ..errors import StoreError
from .db import Duplicate
from .keys import KEY_CHECK, Keyring
from .schema import SQLITE
from .sql import SqlStore
from .url import StoreUrl

BUSY_TIMEOUT_S = 60


class SqliteStore(SqlStore):
    dialect = SQLITE
    _conn: sqlite3.Connection

    def __init__(self, path: str, keyring: Keyring, url_for_display: str, *, create: bool = True):
        super().__init__(keyring, url_for_display)
        self.path = path
        self.local_files = StoreUrl("sqlite", url_for_display, path).local_files
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            fresh = not os.path.exists(path)
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            if fresh:
                os.chmod(path, 0o600)
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            mode = _enter_wal(self._conn)
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"cannot use WAL journal mode on {path} (got {mode})",
                    hint="put the database on a local file system",
                )
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(
                f"cannot open the store {url_for_display}: {e}", hint="check the path and its permissions"
            ) from None
        self._opened(create)

    BEGIN_WRITE = "BEGIN IMMEDIATE"
    BEGIN_READ = "BEGIN"

    def _cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def _driver_error(self, e: BaseException) -> StoreError | None:
        if isinstance(e, sqlite3.IntegrityError) and "UNIQUE" in str(e):
            return Duplicate(str(e))
        if isinstance(e, sqlite3.Error):
            return StoreError(f"store {self.url_for_display}: {e}")
        return None

    def _table_exists(self, cur: sqlite3.Cursor, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return cur.execute(sql, (name,)).fetchone() is not None


def _enter_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL, retrying while another connection holds the lock.

    Changing the journal mode of a database that other connections are opening at the same
    moment can fail with "database is locked" at once: SQLite does not call the busy handler
    for that lock (seen when several pipelines open a new store together). So wait here, with
    the same overall deadline as ``busy_timeout``.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
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
