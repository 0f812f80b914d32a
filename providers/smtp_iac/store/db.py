"""A database connection as the store's parts use it: transactions that yield a DB-API cursor,
SQL written once with ``?`` placeholders, and database errors turned into ``StoreError``.
``SqliteStore`` and ``PostgresStore`` supply connections (``_session``: one under a lock, or
one from a pool) and say which of their driver's errors mean what; everything else is written
once, here and in the parts.

Faults (``StoreUnavailable``): a write ended by one says whether it was applied. Only a
connection lost at COMMIT leaves that open; the backend then asks the database
(``_commit_outcome``). Reads marked ``@reading`` are retried once on a fresh connection when
their connection was lost under them; writes never are (the caller's retry is safe: its
expected version no longer matches a write that was applied).
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from ..errors import StoreError, StoreUnavailable
from .keys import Keyring
from .limits import ONE_CONNECTION, Limits
from .schema import Dialect

Cursor = Any
"""A DB-API cursor of the backend's driver (sqlite3 or psycopg): typed by neither driver alike."""


class WouldWait(Exception):
    """Work tried ``without_waiting`` that would have to wait (a write, a database across a
    network, a connection taken at the moment, a lock): run it in a thread instead. Nothing
    was done: a read is all that may have run."""


_NO_WAITING: ContextVar[bool] = ContextVar("smtp_iac_store_no_waiting", default=False)
_JOINED: ContextVar[_Joined | None] = ContextVar("smtp_iac_store_joined", default=None)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within the block, a read runs only where it needs no wait: a local database's read on a
    connection free at this moment (``Db._session_now``); anything else raises ``WouldWait`` at
    once. The settings service tries a request's point reads so on its event loop, and hands
    them to a thread only when they would wait."""
    token = _NO_WAITING.set(True)
    try:
        yield
    finally:
        _NO_WAITING.reset(token)


def wait_allowed() -> None:
    """``WouldWait`` within ``without_waiting``: what a caller asks before work that may not run
    there, a write or anything with a side effect ahead of one (a budget charged first)."""
    if _NO_WAITING.get():
        raise WouldWait


class Duplicate(StoreError):
    """A unique constraint refused an INSERT (a concurrent create won). ``put`` turns it into
    a ConflictError; anywhere else it is a plain store error, never a traceback."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


PROBE_S = 1.0
"""The readiness probe's own limit: a free connection and one cheap query within a second."""


class Db(ABC):
    """The connections of one store. Thread-safe; not fork-safe: open a new store in a child
    process."""

    dialect: Dialect
    BEGIN_WRITE: str
    BEGIN_READ: str

    def __init__(self, keyring: Keyring, url_for_display: str, limits: Limits = ONE_CONNECTION):
        self.keys = keyring
        self.url_for_display = url_for_display
        self.limits = limits
        self.local_files: tuple[Path, ...] = ()  # a backend on local files says which

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_for_display!r})"

    @property
    def connections(self) -> int:
        """How many transactions may run at once (connections held, at most)."""
        return max(1, self.limits.pool_size)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- what a backend supplies ---------------------------------------------------

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _session(self, begin: str, wait_s: float) -> AbstractContextManager[Any]:
        """A driver connection on which ``begin`` has run, this thread's alone until the block
        ends; ``StoreUnavailable`` when none is free within ``wait_s``."""

    @abstractmethod
    def _rollback(self, conn: Any) -> None:
        """Roll back the open transaction, if the connection still has one; never raise."""

    @abstractmethod
    def _driver_error(self, e: BaseException) -> StoreError | None:
        """The store error an exception of the driver means (``Duplicate`` for a unique
        violation, ``StoreUnavailable`` for a fault that passes), or None for anything that is
        not the driver's."""

    @abstractmethod
    def table_exists(self, cur: Cursor, name: str) -> bool: ...

    def migration_lock(self, cur: Cursor) -> None:  # noqa: B027 - a hook; SQLite needs nothing
        """Serialize concurrent migrations (PostgreSQL: an advisory lock; SQLite: the write lock)."""

    def serialize(self, cur: Cursor, key: str) -> None:  # noqa: B027 - a hook; SQLite needs nothing
        """Serialize the write transactions that name ``key`` (PostgreSQL: an advisory lock;
        SQLite's writers are serialized already, by ``BEGIN IMMEDIATE``)."""

    def _write_mark(self, cur: Cursor) -> object:
        """Whatever lets ``_commit_outcome`` find this transaction again (PostgreSQL: its id)."""
        return None

    def _commit_outcome(self, mark: object) -> bool | None:
        """Whether the transaction ``mark`` committed, asked on a new connection after the one
        that sent COMMIT was lost; None when that cannot be known."""
        return None

    def _limit_statement(self, cur: Cursor, seconds: float) -> None:  # noqa: B027 - a hook
        """Limit the open transaction's statements to ``seconds`` (PostgreSQL; SQLite has none)."""

    # ----- transactions ----------------------------------------------------------------

    def _translate(self, e: BaseException) -> BaseException:
        translated = self._driver_error(e)
        return e if translated is None else translated

    def _session_now(self, begin: str) -> AbstractContextManager[Any]:
        """A connection for a read that needs no wait (``without_waiting``), or ``WouldWait``:
        none but a local database's (SQLite in a long-lived process) can promise that."""
        raise WouldWait

    @contextmanager
    def _tx(self, begin: str, *, write: bool, wait_s: float | None = None) -> Iterator[Cursor]:
        """One transaction: commit on success, roll back on any exception. A fault that ends a
        write says whether the write was applied (``StoreUnavailable.write``)."""
        now = _NO_WAITING.get()
        if now and write:
            raise WouldWait
        try:
            session = (
                self._session_now(begin)
                if now
                else self._session(begin, self.limits.wait_s if wait_s is None else wait_s)
            )
            with session as conn:
                cur = conn.cursor()
                try:
                    try:
                        mark = self._write_mark(cur) if write else None
                        yield cur
                    except BaseException as e:  # noqa: BLE001 - rolled back, then raised (translated)
                        self._rollback(conn)
                        raise self._translate(e) from None
                    try:
                        cur.execute("COMMIT")
                    except Exception as e:  # noqa: BLE001 - rolled back, then raised (translated)
                        self._rollback(conn)
                        err = self._translate(e)
                        if write and isinstance(err, StoreUnavailable) and err.fault == "connection":
                            applied = self._commit_outcome(mark)
                            if applied:
                                return
                            raise _lost_at_commit(err, applied) from None
                        raise err from None
                finally:
                    cur.close()
        except StoreUnavailable as e:
            if now and e.fault == "busy":  # a lock: wait for it in a thread
                raise WouldWait from None
            raise _as_write(e, write) from None

    def write(self) -> AbstractContextManager[Cursor]:
        """A serialized write transaction. Raises ``Duplicate`` for a unique violation,
        ``StoreUnavailable`` for a passing fault (saying whether the write was applied) and
        ``StoreError`` for other database errors."""
        return self._tx(self.BEGIN_WRITE, write=True)

    def read(self) -> AbstractContextManager[Cursor]:
        """A consistent read-only transaction (within ``together``, the block's shared one)."""
        joined = _JOINED.get()
        if joined is not None and joined.db is self and not joined.dead:
            return joined.reading()
        return self._tx(self.BEGIN_READ, write=False)

    @contextmanager
    def together(self) -> Iterator[None]:
        """Within the block, this store's reads share one read transaction, begun at the first
        read: one snapshot and one BEGIN/COMMIT for a request's few point reads. Only where
        reads have connections of their own (pooled limits): a write in the block takes its own
        and never waits for it. Should the shared connection fail, later reads take their own."""
        if not self.limits.pooled or _JOINED.get() is not None:
            yield
            return
        joined = _Joined(self)
        token = _JOINED.set(joined)
        try:
            yield
        finally:
            _JOINED.reset(token)
            joined.close()

    def x(self, cur: Cursor, sql: str, params: Iterable[Any] = ()) -> Cursor:
        """Execute ``sql`` (written with ``?`` placeholders) on ``cur``."""
        cur.execute(self.dialect.q(sql), tuple(params))
        return cur

    def probe(self) -> None:
        """The readiness probe: a free connection and one cheap query within ``PROBE_S``, or
        ``StoreUnavailable``/``StoreError``. A lost connection found here is replaced, as for
        any read."""
        with self._tx(self.BEGIN_READ, write=False, wait_s=PROBE_S) as cur:
            self._limit_statement(cur, PROBE_S)
            self.table_exists(cur, "schema_migrations")


class _Joined:
    """The read transaction a ``Db.together`` block shares, opened at its first read."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.dead = False
        self._stack = ExitStack()
        self._cur: Cursor | None = None

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        if self._cur is None:
            self._cur = self._stack.enter_context(self.db._tx(self.db.BEGIN_READ, write=False))
        try:
            yield self._cur
        except Exception as e:  # noqa: BLE001 - translated as Db._tx does, then raised
            err = self.db._translate(e)
            if isinstance(err, StoreUnavailable):
                self.dead = True  # a retried read (``reading``) takes a transaction of its own
                if _NO_WAITING.get() and err.fault == "busy":
                    raise WouldWait from None
            raise err from None

    def close(self) -> None:
        """End the shared transaction: it only read, so a failure to end it changes nothing
        that was read (and a connection that failed is rolled back and given back)."""
        with suppress(Exception):
            if self.dead:
                self._stack.__exit__(StoreUnavailable, StoreUnavailable("abandoned", fault="connection"), None)
            else:
                self._stack.close()


def _as_write(err: BaseException, write: bool) -> BaseException:
    """A fault that ended a write before its COMMIT: nothing was applied, say so."""
    if write and isinstance(err, StoreUnavailable) and err.write is None:
        err.write = "not_applied"
        err.hint = "nothing was written: retry"
    return err


def _lost_at_commit(err: StoreUnavailable, applied: bool | None) -> StoreUnavailable:
    if applied is False:
        return StoreUnavailable(
            f"{err.message}; the database says the write was not applied",
            fault=err.fault,
            retry_after=err.retry_after,
            write="not_applied",
            hint="nothing was written: retry",
        )
    return StoreUnavailable(
        f"{err.message} while committing a write, and the database could not be asked whether it was applied",
        fault=err.fault,
        retry_after=err.retry_after,
        write="unknown",
        hint="read the record once the store answers: if its version moved, the write was applied; "
        "a retry with the same expected version is refused as a conflict, never applied twice",
    )


class Part:
    """A part of the SQL store (records, tenancy, the audit trail, ...): what it does, over the
    store's one ``Db``; ``SqlStore`` puts the parts together, each given the others it needs."""

    def __init__(self, db: Db):
        self.db = db


D = TypeVar("D", bound=Part)
P = ParamSpec("P")
R = TypeVar("R")


def reading(method: Callable[Concatenate[D, P], R]) -> Callable[Concatenate[D, P], R]:
    """Mark a store method as a read: where connections are pooled, it is run once more, on a
    fresh connection, when its connection was lost under it (a restart, a failover, a proxy
    closing an idle connection). Nothing it did needs undoing. Writes are never marked."""

    def retried(self: D, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except StoreUnavailable as e:
            if e.fault != "connection" or not self.db.limits.pooled:
                raise
        return method(self, *args, **kwargs)

    functools.update_wrapper(retried, method)
    return retried


class OneConnection:
    """A backend's single connection, one thread at a time: the lock is waited for at most
    ``wait_s``, so a queue of callers behind a slow one is answered, not held."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    @contextmanager
    def held(self, wait_s: float, display: str) -> Iterator[None]:
        if not self.lock.acquire(timeout=wait_s):
            raise StoreUnavailable(
                f"the store {display} is busy: its connection was not free within {wait_s:g} s",
                fault="busy",
                retry_after=1,
            )
        try:
            yield
        finally:
            self.lock.release()
