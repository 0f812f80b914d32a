"""Opening a store: run the migrations it still needs (``schema.MIGRATIONS``), then prove
that the configured key is the one its passwords were encrypted with."""

from __future__ import annotations

from ..errors import StoreError, StoreKeyError
from .db import Cursor, Part, now_text, reading
from .keys import KEY_CHECK, KEY_CHECK_PLAIN
from .schema import LATEST, MIGRATIONS, MIGRATIONS_TABLE


class Opening(Part):
    def open(self, create: bool) -> None:
        """Run pending migrations, then prove the key fits the store. Without ``create``, a
        database without smtp-iac's tables is refused before anything is written to it."""
        with self.db.read() as cur:
            current = self._schema_version(cur)
        if current == 0 and not create:
            raise no_store(self.db.url_for_display, "the database holds no smtp-iac tables")
        if current != LATEST:
            self._migrate()
        self._check_key()

    def _schema_version(self, cur: Cursor) -> int:
        if not self.db.table_exists(cur, "schema_migrations"):
            return 0
        row = self.db.x(cur, "SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @reading
    def schema_version(self) -> int:
        with self.db.read() as cur:
            return self._schema_version(cur)

    def _migrate(self) -> None:
        with self.db.write() as cur:
            self.db.migration_lock(cur)
            cur.execute(MIGRATIONS_TABLE)
            applied = {r[0] for r in self.db.x(cur, "SELECT version FROM schema_migrations").fetchall()}
            if applied and max(applied) > LATEST:
                raise StoreError(
                    f"the store's schema is version {max(applied)}; this smtp-iac knows up to {LATEST}",
                    hint="upgrade smtp-iac; it will not write to a store a newer version made",
                )
            for version, description, statements in MIGRATIONS:
                if version in applied:
                    continue
                for stmt in statements:
                    cur.execute(stmt.format(id_pk=self.db.dialect.id_pk))
                self.db.x(
                    cur,
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (version, description, now_text()),
                )

    def _check_key(self) -> None:
        with self.db.read() as cur:
            row = self.db.x(cur, "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone()
        if row is None:
            with self.db.write() as cur:
                self.db.x(
                    cur,
                    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (KEY_CHECK, self.db.keys.encrypt(KEY_CHECK_PLAIN)),
                )
                row = self.db.x(cur, "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone()
        try:
            self.db.keys.decrypt(row[0], what="the key check")
        except StoreKeyError:
            raise StoreKeyError(
                f"the store key from {self.db.keys.source} does not fit the store {self.db.url_for_display}",
                hint="use the key this store was made with (SMTP_IAC_STORE_KEY, or the key file beside "
                "a sqlite database); to change keys, list the new key first and the old one after, "
                "then run a key rotation",
            ) from None


def no_store(display: str, why: str) -> StoreError:
    """What a read-only command says when its URL names no store."""
    return StoreError(
        f"no store at {display}: {why}; nothing was created",
        hint="commands that only read never create a store: check --store, SMTP_IAC_STORE and the "
        "stack's store:; a new store is made by `smtp-iac tenants load FILE` or `smtp-iac apply`",
    )
