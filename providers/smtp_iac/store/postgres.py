"""The shared backend: PostgreSQL through psycopg 3, for many pipelines at once.

The connection runs in autocommit mode and every operation opens its own explicit
transaction: writes at READ COMMITTED (the compare-and-swap is in each UPDATE/INSERT, which
PostgreSQL re-checks against the newest committed row, so concurrent writers are safe without
SERIALIZABLE retries), reads at REPEATABLE READ READ ONLY (``snapshot`` sees one instant).
Migrations take a transaction-scoped advisory lock so that pipelines starting together do not
race on DDL. Tables go in the first schema of ``search_path``; pick one with
``?options=-csearch_path%3Dmyschema`` in the URL.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import errors as pgerrors

from ..errors import StoreError
from .db import Duplicate
from .keys import Keyring
from .schema import POSTGRES
from .sql import SqlStore

MIGRATION_LOCK_ID = 0x736D74702D696163 & 0x7FFFFFFFFFFFFFFF  # "smtp-iac"
CONNECT_TIMEOUT_S = 10


class PostgresStore(SqlStore):
    dialect = POSTGRES
    _conn: psycopg.Connection[Any]

    def __init__(self, url: str, keyring: Keyring, url_for_display: str, *, create: bool = True):
        super().__init__(keyring, url_for_display)
        self._secret = _password_of(url)
        extra: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in url:
            extra["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in url:
            extra["application_name"] = "smtp-iac"
        try:
            self._conn = psycopg.connect(url, **extra)
        except psycopg.Error as e:
            raise StoreError(
                f"cannot connect to the store {url_for_display}: {self._scrub(e)}",
                hint="check the URL, that the server is up, and the credentials",
            ) from None
        self._opened(create)

    def _scrub(self, e: BaseException) -> str:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
    BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def _cursor(self) -> psycopg.Cursor[Any]:
        return self._conn.cursor()

    def _rollback(self) -> None:
        if not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("ROLLBACK")

    def _driver_error(self, e: BaseException) -> StoreError | None:
        if isinstance(e, pgerrors.UniqueViolation):
            return Duplicate(self._scrub(e))
        if isinstance(e, psycopg.Error):
            return StoreError(f"store {self.url_for_display}: {self._scrub(e)}")
        return None

    def _migration_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))

    def _serialize(self, cur: Any, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def _table_exists(self, cur: Any, name: str) -> bool:
        return bool(cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])


def _password_of(url: str) -> str | None:
    try:
        pw = urlsplit(url).password
    except ValueError:
        return None
    return unquote(pw) if pw else None
