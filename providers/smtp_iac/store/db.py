"""A database connection as the store's parts use it: serialized transactions that yield a
DB-API cursor, SQL written once with ``?`` placeholders, and database errors turned into
``StoreError``. ``SqliteStore`` and ``PostgresStore`` supply the connection and say which of
their driver's errors mean what; everything else is written once, here and in the parts.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from ..errors import StoreError
from .keys import Keyring
from .schema import Dialect

Cursor = Any
"""A DB-API cursor of the backend's driver (sqlite3 or psycopg): typed by neither driver alike."""


class Duplicate(StoreError):
    """A unique constraint refused an INSERT (a concurrent create won). ``put`` turns it into
    a ConflictError; anywhere else it is a plain store error, never a traceback."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Db(ABC):
    """The connection of one store. Thread-safe (one lock around the connection); not
    fork-safe: open a new store in a child process."""

    dialect: Dialect
    BEGIN_WRITE: str
    BEGIN_READ: str
    _conn: Any  # the driver's connection (sqlite3 or psycopg), made by the backend

    def __init__(self, keyring: Keyring, url_for_display: str):
        self._keys = keyring
        self.url_for_display = url_for_display
        self.local_files: tuple[Path, ...] = ()  # a backend on local files says which
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_for_display!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ----- what a backend supplies ---------------------------------------------------

    @abstractmethod
    def _cursor(self) -> Cursor: ...

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back the open transaction, if the connection still has one; never raise."""

    @abstractmethod
    def _driver_error(self, e: BaseException) -> StoreError | None:
        """The store error an exception of the driver means (``Duplicate`` for a unique
        violation), or None for anything that is not the driver's."""

    @abstractmethod
    def _table_exists(self, cur: Cursor, name: str) -> bool: ...

    def _migration_lock(self, cur: Cursor) -> None:  # noqa: B027 - a hook; SQLite needs nothing
        """Serialize concurrent migrations (PostgreSQL: an advisory lock; SQLite: the write lock)."""

    # ----- transactions ----------------------------------------------------------------

    @contextmanager
    def _tx(self, begin: str) -> Iterator[Cursor]:
        """One transaction: commit on success, roll back on any exception."""
        with self._lock:
            try:
                cur = self._cursor()
                cur.execute(begin)
            except Exception as e:
                translated = self._driver_error(e)
                if translated is None:
                    raise
                raise translated from None
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as e:
                self._rollback()
                translated = self._driver_error(e)
                if translated is not None:
                    raise translated from None
                raise
            finally:
                cur.close()

    def _write_tx(self) -> AbstractContextManager[Cursor]:
        """A serialized write transaction. Raises ``Duplicate`` for a unique violation and
        ``StoreError`` for other database errors."""
        return self._tx(self.BEGIN_WRITE)

    def _read_tx(self) -> AbstractContextManager[Cursor]:
        """A consistent read-only transaction."""
        return self._tx(self.BEGIN_READ)

    def _x(self, cur: Cursor, sql: str, params: Iterable[Any] = ()) -> Cursor:
        cur.execute(self.dialect.q(sql), tuple(params))
        return cur
