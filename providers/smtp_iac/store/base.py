"""The store's behaviour, written once against a DB-API cursor; ``SqliteStore`` and
``PostgresStore`` supply only connections, transactions and error translation.

Guarantees (both backends, proved by ``tests/store``):

- Every write is one transaction holding the record change AND its audit entry, so a crash
  leaves each record either old or new, and the audit agrees with the records.
- Writes are compare-and-swap on ``version``. The CAS itself is in the SQL, not only in the
  read before it: ``UPDATE ... WHERE address = ? AND version = ?`` (row count 0 -> conflict) and,
  for a create, ``INSERT`` against the primary key (a duplicate -> conflict). That is correct
  under PostgreSQL's READ COMMITTED with many writers; SQLite serializes writers anyway with
  ``BEGIN IMMEDIATE``.
- Refused attempts (conflict, ownership, feature off, unknown tenant) and failed ones that a
  caller reports (``record_attempt``, e.g. verify failed) are audited in their own transaction,
  after the refused one rolled back.
- Reads of the whole platform (``snapshot``) are three queries in one consistent read
  transaction, whatever the number of organizations.
- No plain password is stored, logged, put in a message or returned by a read: records carry
  a Fernet token and a keyed fingerprint; ``reveal_password`` alone decrypts (as ``SecretStr``).
"""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from ..actor import clean_actor, current_actor
from ..addresses import CONTROLLER, ID_PATTERN, Address, Tier, valid_id
from ..diagnostics import Diagnostic
from ..errors import (
    ConflictError,
    FeatureDisabled,
    OwnershipError,
    SmtpIacError,
    StoreError,
    StoreKeyError,
    TenantsInvalid,
    UnknownTenant,
)
from ..models import SETTINGS_FIELDS, LiveRecord, Organization, ResolvedSettings
from ..stackfile import json_path
from . import audit as A
from . import rows as rows_
from .audit import AuditEntry
from .keys import Keyring
from .schema import LATEST, MIGRATIONS, MIGRATIONS_TABLE, Dialect
from .snapshot import Snapshot, Tenants, TenantsChange, unknown_tenant
from .tenants_doc import check_tenants_doc

KEY_CHECK = "key_check"
_KEY_CHECK_PLAIN = "smtp-iac store key check"

_RECORD_SELECT = (
    "SELECT address, host, port, tls, tls_mode, username, sender, password_enc, "
    "password_fp, fp_key_id, version, managed_by, updated_at, updated_by FROM records"
)
_AUDIT_SELECT = (
    "SELECT id, at, actor, stack, address, action, outcome, old_fingerprint, new_fingerprint, detail FROM audit"
)


class Duplicate(StoreError):
    """A unique constraint refused an INSERT (a concurrent create won). ``put`` turns it into
    a ConflictError; anywhere else it is a plain store error, never a traceback."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Store(ABC):
    """A settings store. Open one with ``smtp_iac.store.open_store(url)``.

    Thread-safe (one lock around the connection); not fork-safe: open a new store in a child
    process."""

    dialect: Dialect

    def __init__(self, keyring: Keyring, url_for_display: str):
        self._keys = keyring
        self.url_for_display = url_for_display
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_for_display!r})"

    # ----- backend hooks ----------------------------------------------------------------

    @abstractmethod
    def _write_tx(self) -> AbstractContextManager[Any]:
        """A serialized write transaction yielding a cursor: commit on success, roll back on
        any exception. Raises ``Duplicate`` for a unique violation and ``StoreError`` for
        other database errors."""

    @abstractmethod
    def _read_tx(self) -> AbstractContextManager[Any]:
        """A consistent read-only transaction yielding a cursor."""

    @abstractmethod
    def _table_exists(self, cur: Any, name: str) -> bool: ...

    def _migration_lock(self, cur: Any) -> None:
        """Serialize concurrent migrations (PostgreSQL: an advisory lock; SQLite: the write lock)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- opening ----------------------------------------------------------------------

    def _x(self, cur: Any, sql: str, params: Iterable[Any] = ()) -> Any:
        cur.execute(self.dialect.q(sql), tuple(params))
        return cur

    def _open(self) -> None:
        """Run pending migrations, then prove the key fits the store."""
        with self._read_tx() as cur:
            current = self._schema_version(cur)
        if current != LATEST:
            self._migrate()
        self._check_key()

    def _schema_version(self, cur: Any) -> int:
        if not self._table_exists(cur, "schema_migrations"):
            return 0
        row = self._x(cur, "SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def schema_version(self) -> int:
        with self._read_tx() as cur:
            return self._schema_version(cur)

    def _migrate(self) -> None:
        with self._write_tx() as cur:
            self._migration_lock(cur)
            cur.execute(MIGRATIONS_TABLE)
            applied = {r[0] for r in self._x(cur, "SELECT version FROM schema_migrations").fetchall()}
            if applied and max(applied) > LATEST:
                raise StoreError(
                    f"the store's schema is version {max(applied)}; this smtp-iac knows up to {LATEST}",
                    hint="upgrade smtp-iac; it will not write to a store a newer version made",
                )
            for version, description, statements in MIGRATIONS:
                if version in applied:
                    continue
                for stmt in statements:
                    cur.execute(stmt.format(id_pk=self.dialect.id_pk))
                self._x(
                    cur,
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (version, description, now_text()),
                )

    def _check_key(self) -> None:
        with self._read_tx() as cur:
            row = self._x(cur, "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone()
        if row is None:
            with self._write_tx() as cur:
                self._x(
                    cur,
                    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (KEY_CHECK, self._keys.encrypt(_KEY_CHECK_PLAIN)),
                )
                row = self._x(cur, "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone()
        try:
            self._keys.decrypt(row[0], what="the key check")
        except StoreKeyError:
            raise StoreKeyError(
                f"the store key from {self._keys.source} does not fit the store {self.url_for_display}",
                hint="use the key this store was made with (SMTP_IAC_STORE_KEY, or the key file beside "
                "a sqlite database); to change keys, list the new key first and the old one after, "
                "then run a key rotation",
            ) from None

    # ----- records: reads ---------------------------------------------------------------

    def fingerprint(self, password: str) -> str:
        """Keyed fingerprint of a password, comparable with ``LiveRecord.password_fingerprint``."""
        return self._keys.fingerprint(password)

    def _fp(self, fp: str, key_id: str, token: str, address: str) -> str:
        if key_id == self._keys.key_id:
            return fp
        # made under another primary key (rotation pending): recompute, never report false drift
        return self._keys.fingerprint(self._keys.decrypt(token, what=f"the password of {address}"))

    def _record(self, row: tuple) -> LiveRecord:
        (
            address,
            host,
            port,
            tls,
            tls_mode,
            username,
            sender,
            token,
            fp,
            key_id,
            version,
            managed_by,
            updated_at,
            updated_by,
        ) = row
        return LiveRecord.model_construct(
            address=address,
            host=host,
            port=int(port),
            tls=bool(tls),
            tls_mode=tls_mode,
            username=username,
            sender=sender,
            password_fingerprint=self._fp(fp, key_id, token, address),
            version=int(version),
            managed_by=managed_by,
            updated_at=_parse_time(updated_at),
            updated_by=updated_by,
        )

    def get(self, address: Address) -> LiveRecord | None:
        with self._read_tx() as cur:
            row = self._x(cur, _RECORD_SELECT + " WHERE address = ?", (str(address),)).fetchone()
        return self._record(row) if row else None

    def list_records(self, *, tier: Tier | None = None, partner: str | None = None) -> list[LiveRecord]:
        """Records in address order, optionally of one tier and/or under one partner
        (``partner`` selects the partner's record and its organizations' records)."""
        where, params = [], []
        if partner is not None:
            where.append("partner = ?")
            params.append(partner)
        if tier is Tier.CONTROLLER:
            where.append("partner = ''")
        elif tier is Tier.PARTNER:
            where.append("partner <> '' AND org = ''")
        elif tier is Tier.ORGANIZATION:
            where.append("org <> ''")
        sql = _RECORD_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        with self._read_tx() as cur:
            rows = self._x(cur, sql, params).fetchall()
        return sorted((self._record(r) for r in rows), key=lambda r: Address.parse(r.address))

    def snapshot(self) -> Snapshot:
        """Every record and every tenant from one consistent read: three queries."""
        with self._read_tx() as cur:
            rows = self._x(cur, _RECORD_SELECT).fetchall()
            tenants = self._tenants(cur)
        return Snapshot({_address_of(r[0]): self._record(r) for r in rows}, tenants)

    def reveal_password(self, address: Address) -> SecretStr:
        """The stored password of a live record, decrypted, for the verify check / test email only."""
        with self._read_tx() as cur:
            row = self._x(cur, "SELECT password_enc FROM records WHERE address = ?", (str(address),)).fetchone()
        if row is None:
            raise StoreError("no record at this scope", address=str(address))
        return SecretStr(self._keys.decrypt(row[0], what=f"the password of {address}"))

    # ----- records: writes --------------------------------------------------------------

    def put(
        self,
        address: Address,
        settings: ResolvedSettings,
        *,
        expected_version: int | None,
        stack: str,
        actor: str | None = None,
        adopt: bool = False,
    ) -> LiveRecord:
        """Create (``expected_version=None``) or update a record, compare-and-swap on version."""
        _check_stack(stack)
        actor = clean_actor(actor) if actor else current_actor()
        addr = str(address)
        password = settings.password.get_secret_value()
        new_fp = self._keys.fingerprint(password)
        token = self._keys.encrypt(password)
        fields = settings.public_fields()
        ctx: dict[str, Any] = {"old_fp": None, "action": A.ACTION_UPDATE if expected_version else A.ACTION_CREATE}
        try:
            with self._write_tx() as cur:
                self._check_writable_scope(cur, address)
                row = self._guard(cur, address, expected_version, stack, adopt, ctx)
                at = now_text()
                values = (
                    fields["host"],
                    fields["port"],
                    int(fields["tls"]),
                    fields["tls_mode"],
                    fields["username"],
                    fields["sender"],
                    token,
                    new_fp,
                    self._keys.key_id,
                    stack,
                    at,
                    actor,
                )
                if row is None:
                    ctx["action"] = A.ACTION_CREATE
                    version = 1
                    self._x(
                        cur,
                        "INSERT INTO records (address, partner, org, host, port, tls, tls_mode, "
                        "username, sender, password_enc, password_fp, fp_key_id, managed_by, "
                        "updated_at, updated_by, version) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                        (addr, address.partner, address.org) + values,
                    )
                    detail = "created"
                else:
                    ctx["action"] = A.ACTION_UPDATE
                    version = row["version"] + 1
                    n = self._x(
                        cur,
                        "UPDATE records SET host = ?, port = ?, tls = ?, tls_mode = ?, "
                        "username = ?, sender = ?, password_enc = ?, password_fp = ?, "
                        "fp_key_id = ?, managed_by = ?, updated_at = ?, updated_by = ?, "
                        "version = version + 1 WHERE address = ? AND version = ?",
                        values + (addr, row["version"]),
                    ).rowcount
                    if n != 1:
                        raise self._conflict_now(cur, addr, expected_version)
                    detail = _change_detail(row, fields, ctx["old_fp"] != new_fp, stack)
                self._audit(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=addr,
                    action=ctx["action"],
                    outcome=A.OUTCOME_OK,
                    old_fp=ctx["old_fp"],
                    new_fp=new_fp,
                    detail=detail,
                    at=at,
                )
        except Duplicate:
            err = self._conflict_after(addr, expected_version)
            self._refused(err, actor, stack, addr, ctx["action"], ctx["old_fp"], new_fp)
        except (ConflictError, OwnershipError, FeatureDisabled, UnknownTenant) as err:
            self._refused(err, actor, stack, addr, ctx["action"], ctx["old_fp"], new_fp)
        return LiveRecord.model_construct(
            address=addr,
            **fields,
            password_fingerprint=new_fp,
            version=version,
            managed_by=stack,
            updated_at=_parse_time(at),
            updated_by=actor,
        )

    def delete(
        self,
        address: Address,
        *,
        expected_version: int | None,
        stack: str,
        actor: str | None = None,
        adopt: bool = False,
    ) -> None:
        """Remove a record (the scope then inherits), compare-and-swap on version.
        ``expected_version=None`` means "seen absent": a no-op if it still is, a conflict if not.
        Allowed while an organization's SMTP switch is off (it removes an ignored override)."""
        _check_stack(stack)
        actor = clean_actor(actor) if actor else current_actor()
        addr = str(address)
        ctx: dict[str, Any] = {"old_fp": None}
        try:
            with self._write_tx() as cur:
                row = self._guard(cur, address, expected_version, stack, adopt, ctx)
                if row is None:
                    return
                n = self._x(
                    cur, "DELETE FROM records WHERE address = ? AND version = ?", (addr, row["version"])
                ).rowcount
                if n != 1:
                    raise self._conflict_now(cur, addr, expected_version)
                detail = f"deleted version {row['version']}"
                if row["managed_by"] and row["managed_by"] != stack:
                    detail += f"; adopted from stack '{row['managed_by']}'"
                self._audit(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=addr,
                    action=A.ACTION_DELETE,
                    outcome=A.OUTCOME_OK,
                    old_fp=ctx["old_fp"],
                    new_fp=None,
                    detail=detail,
                )
        except (ConflictError, OwnershipError) as err:
            self._refused(err, actor, stack, addr, A.ACTION_DELETE, ctx["old_fp"], None)

    def record_attempt(
        self,
        address: Address,
        *,
        stack: str,
        action: str,
        outcome: str,
        detail: str,
        actor: str | None = None,
        new_fingerprint: str | None = None,
    ) -> None:
        """Audit an attempt that did not write (e.g. ``action="update", outcome="verify_failed"``).
        ``detail`` must not hold a password; the old fingerprint is the live record's."""
        actor = clean_actor(actor) if actor else current_actor()
        with self._write_tx() as cur:
            row = self._x(
                cur, "SELECT password_fp, fp_key_id, password_enc FROM records WHERE address = ?", (str(address),)
            ).fetchone()
            old = self._fp(row[0], row[1], row[2], str(address)) if row else None
            self._audit(
                cur,
                actor=actor,
                stack=stack,
                address=str(address),
                action=action,
                outcome=outcome,
                old_fp=old,
                new_fp=new_fingerprint,
                detail=detail,
            )

    def _guard(
        self, cur: Any, address: Address, expected: int | None, stack: str, adopt: bool, ctx: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Read the live row; raise ConflictError or OwnershipError; the row (as a dict) or None."""
        row = self._x(
            cur,
            "SELECT version, managed_by, updated_by, updated_at, password_fp, fp_key_id, "
            "password_enc, host, port, tls, tls_mode, username, sender "
            "FROM records WHERE address = ?",
            (str(address),),
        ).fetchone()
        live = None
        if row is not None:
            keys = (
                "version",
                "managed_by",
                "updated_by",
                "updated_at",
                "password_fp",
                "fp_key_id",
                "password_enc",
                "host",
                "port",
                "tls",
                "tls_mode",
                "username",
                "sender",
            )
            live = dict(zip(keys, row))
            live["tls"] = bool(live["tls"])
            ctx["old_fp"] = self._fp(live["password_fp"], live["fp_key_id"], live["password_enc"], str(address))
        actual = live["version"] if live else None
        if actual != expected:
            raise ConflictError(
                str(address),
                expected,
                actual,
                live["updated_by"] if live else None,
                live["updated_at"] if live else None,
            )
        if live and live["managed_by"] and live["managed_by"] != stack and not adopt:
            raise OwnershipError(str(address), live["managed_by"], stack)
        return live

    def _conflict_now(self, cur: Any, addr: str, expected: int | None) -> ConflictError:
        row = self._x(cur, "SELECT version, updated_by, updated_at FROM records WHERE address = ?", (addr,)).fetchone()
        return ConflictError(addr, expected, *(row if row else (None, None, None)))

    def _conflict_after(self, addr: str, expected: int | None) -> ConflictError:
        with self._read_tx() as cur:
            return self._conflict_now(cur, addr, expected)

    def _refused(
        self, err: SmtpIacError, actor: str, stack: str, addr: str, action: str, old_fp: str | None, new_fp: str | None
    ) -> None:
        """Audit a refused write (own transaction), then raise the refusal."""
        outcome = A.OUTCOME_CONFLICT if isinstance(err, ConflictError) else A.OUTCOME_REFUSED
        try:
            with self._write_tx() as cur:
                self._audit(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=addr,
                    action=action,
                    outcome=outcome,
                    old_fp=old_fp,
                    new_fp=new_fp,
                    detail=f"{err.kind}: {err.message}",
                )
        except StoreError as audit_err:
            err.add_note(f"(the refusal could not be audited: {audit_err.message})")
        raise err

    def _check_writable_scope(self, cur: Any, address: Address) -> None:
        """UnknownTenant for an unknown partner/org; FeatureDisabled for an org whose switch is off."""
        if address == CONTROLLER:
            return
        if address.org:
            row = self._x(
                cur,
                "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?" + self.dialect.for_share,
                (address.partner, address.org),
            ).fetchone()
            if row is None:
                raise self._unknown(cur, address)
            if not row[0]:
                raise FeatureDisabled(str(address))
            return
        if (
            self._x(cur, "SELECT 1 FROM partners WHERE id = ?" + self.dialect.for_share, (address.partner,)).fetchone()
            is None
        ):
            raise self._unknown(cur, address)

    def _unknown(self, cur: Any, address: Address) -> UnknownTenant:
        partners = [r[0] for r in self._x(cur, "SELECT id FROM partners").fetchall()]
        having = (
            [r[0] for r in self._x(cur, "SELECT partner FROM organizations WHERE id = ?", (address.org,)).fetchall()]
            if address.org
            else []
        )
        return unknown_tenant(address, partners, having)

    # ----- audit ------------------------------------------------------------------------

    def _audit(
        self,
        cur: Any,
        *,
        actor: str | None,
        stack: str | None,
        address: str | None,
        action: str,
        outcome: str,
        old_fp: str | None,
        new_fp: str | None,
        detail: str,
        at: str | None = None,
    ) -> None:
        self._x(
            cur,
            "INSERT INTO audit (at, actor, stack, address, action, outcome, old_fingerprint, "
            "new_fingerprint, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at or now_text(), actor, stack, address, action, outcome, old_fp, new_fp, detail),
        )

    def audit_log(self, *, address: Address | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first; with ``limit``, the newest ``limit`` of them."""
        sql, params = _AUDIT_SELECT, []
        if address is not None:
            sql += " WHERE address = ?"
            params.append(str(address))
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read_tx() as cur:
            rows = self._x(cur, sql, params).fetchall()
        return [AuditEntry(int(r[0]), _parse_time(r[1]), *r[2:]) for r in reversed(rows)]

    # ----- tenants ----------------------------------------------------------------------

    def _tenants(self, cur: Any) -> Tenants:
        partners: dict[str, list[str]] = {r[0]: [] for r in self._x(cur, "SELECT id FROM partners").fetchall()}
        orgs: dict[Address, Organization] = {}
        rows = self._x(cur, "SELECT partner, id, smtp_enabled FROM organizations").fetchall()
        rows.sort()  # in Python: code-point order on both backends (a PostgreSQL collation may differ)
        make_org, make_address = rows_.organization, rows_.address
        for p, o, enabled in rows:
            partners[p].append(o)
            orgs[make_address(p, o)] = make_org(p, o, bool(enabled))
        return Tenants(dict(sorted(partners.items())), orgs)

    def tenants(self) -> Tenants:
        with self._read_tx() as cur:
            return self._tenants(cur)

    def load_tenants(self, doc: dict, *, actor: str | None = None) -> TenantsChange:
        """Upsert partners, organizations and SMTP switches from a tenants document. Idempotent;
        never removes a tenant. An org given without ``smtp_enabled`` keeps its switch (new: off)."""
        wanted, problems = check_tenants_doc(doc)
        if problems:
            raise TenantsInvalid(
                [Diagnostic("<tenants>", 1, 1, p.severity, p.message, json_path(p.path)) for p in problems]
            )
        actor = clean_actor(actor) if actor else current_actor()
        at = now_text()
        with self._write_tx() as cur:
            have_p = {r[0] for r in self._x(cur, "SELECT id FROM partners").fetchall()}
            have_o = {
                (p, o): bool(e)
                for p, o, e in self._x(cur, "SELECT partner, id, smtp_enabled FROM organizations").fetchall()
            }
            new_p = sorted(p for p in wanted if p not in have_p)
            new_o, flips, unchanged = [], [], len(wanted) - len(new_p)
            for p in sorted(wanted):
                for o, enabled in sorted(wanted[p].items()):
                    if (p, o) not in have_o:
                        new_o.append((p, o, int(bool(enabled)), at, at))
                    elif enabled is not None and enabled != have_o[(p, o)]:
                        flips.append((int(enabled), at, p, o))
                    else:
                        unchanged += 1
            if new_p:
                # ON CONFLICT: a concurrent load of the same tenants is not an error
                cur.executemany(
                    self.dialect.q("INSERT INTO partners (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"),
                    [(p, at) for p in new_p],
                )
            if new_o:
                cur.executemany(
                    self.dialect.q(
                        "INSERT INTO organizations (partner, id, smtp_enabled, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (partner, id) DO NOTHING"
                    ),
                    new_o,
                )
            if flips:
                cur.executemany(
                    self.dialect.q(
                        "UPDATE organizations SET smtp_enabled = ?, updated_at = ? WHERE partner = ? AND id = ?"
                    ),
                    flips,
                )
            change = TenantsChange(
                partners_added=new_p,
                orgs_added=[Address(p, o) for p, o, *_ in new_o],
                enabled=[Address(p, o) for e, _, p, o in flips if e],
                disabled=[Address(p, o) for e, _, p, o in flips if not e],
                unchanged=unchanged,
            )
            for e, _, p, o in flips:
                self._audit(
                    cur,
                    actor=actor,
                    stack=None,
                    address=str(Address(p, o)),
                    action=A.ACTION_ENABLE_SMTP if e else A.ACTION_DISABLE_SMTP,
                    outcome=A.OUTCOME_OK,
                    old_fp=None,
                    new_fp=None,
                    detail="by tenants load",
                    at=at,
                )
            self._audit(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=A.ACTION_TENANTS_LOAD,
                outcome=A.OUTCOME_OK,
                old_fp=None,
                new_fp=None,
                detail=change.summary(),
                at=at,
            )
        return change

    def find_org(self, ref: str) -> Organization:
        """An organization by ``partners/p/organizations/o``, ``p/o`` or a bare org id (if unique)."""
        ref = (ref or "").strip()
        with self._read_tx() as cur:
            if ref.startswith("partners/") or ref.count("/") == 1:
                try:
                    address = Address.parse(ref) if ref.startswith("partners/") else Address(*ref.split("/"))
                except ValueError as e:
                    raise UnknownTenant(str(e), hint="give partners/<p>/organizations/<o>, <p>/<o> or <o>") from None
                if not address.org:
                    raise UnknownTenant(
                        f"{address} is a partner, not an organization",
                        address=str(address),
                        hint="give partners/<p>/organizations/<o>, <p>/<o> or <o>",
                    )
                row = self._x(
                    cur,
                    "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?",
                    (address.partner, address.org),
                ).fetchone()
                if row is None:
                    raise self._unknown(cur, address)
                return Organization(partner=address.partner, name=address.org, smtp_enabled=bool(row[0]))
            if not valid_id(ref):
                raise UnknownTenant(
                    f"{ref!r} is not an organization id (ids match {ID_PATTERN})",
                    hint="give partners/<p>/organizations/<o>, <p>/<o> or <o>",
                )
            rows = self._x(
                cur, "SELECT partner, smtp_enabled FROM organizations WHERE id = ? ORDER BY partner", (ref,)
            ).fetchall()
            if len(rows) == 1:
                return Organization(partner=rows[0][0], name=ref, smtp_enabled=bool(rows[0][1]))
            if rows:
                cands = ", ".join(str(Address(p, ref)) for p, _ in rows)
                raise UnknownTenant(
                    f"organization id '{ref}' is ambiguous: {cands}", hint="name it with its partner: <partner>/<org>"
                )
            ids = [r[0] for r in self._x(cur, "SELECT DISTINCT id FROM organizations").fetchall()]
        near = difflib.get_close_matches(ref, ids, n=3)
        raise UnknownTenant(
            f"organization '{ref}' is not known to the store",
            hint=(f"did you mean {', '.join(near)}? " if near else "") + "list them with: smtp-iac tenants list",
        )

    def set_smtp_enabled(self, org: Address, enabled: bool, *, actor: str | None = None) -> None:
        """Switch organization-level SMTP on or off (audited)."""
        actor = clean_actor(actor) if actor else current_actor()
        action = A.ACTION_ENABLE_SMTP if enabled else A.ACTION_DISABLE_SMTP
        if not org.org:
            raise UnknownTenant(f"{org} is not an organization", address=str(org))
        err: UnknownTenant | None = None
        with self._write_tx() as cur:
            row = self._x(
                cur, "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?", (org.partner, org.org)
            ).fetchone()
            if row is None:
                err = self._unknown(cur, org)
            else:
                self._x(
                    cur,
                    "UPDATE organizations SET smtp_enabled = ?, updated_at = ? WHERE partner = ? AND id = ?",
                    (int(enabled), now_text(), org.partner, org.org),
                )
                detail = (
                    "unchanged (already " + ("enabled)" if enabled else "disabled)")
                    if bool(row[0]) == enabled
                    else ("enabled" if enabled else "disabled")
                )
                self._audit(
                    cur,
                    actor=actor,
                    stack=None,
                    address=str(org),
                    action=action,
                    outcome=A.OUTCOME_OK,
                    old_fp=None,
                    new_fp=None,
                    detail=detail,
                )
        if err is not None:
            with self._write_tx() as cur:
                self._audit(
                    cur,
                    actor=actor,
                    stack=None,
                    address=str(org),
                    action=action,
                    outcome=A.OUTCOME_REFUSED,
                    old_fp=None,
                    new_fp=None,
                    detail=f"{err.kind}: {err.message}",
                )
            raise err

    # ----- keys -------------------------------------------------------------------------

    def rotate_keys(self, *, actor: str | None = None) -> int:
        """Re-encrypt every password (and recompute fingerprints) under the primary key, in one
        transaction. Versions do not move: the settings are the same. Returns the count."""
        actor = clean_actor(actor) if actor else current_actor()
        with self._write_tx() as cur:
            rows = self._x(cur, "SELECT address, password_enc FROM records ORDER BY address").fetchall()
            updates = []
            for addr, token in rows:
                plain = self._keys.decrypt(token, what=f"the password of {addr}")
                updates.append((self._keys.encrypt(plain), self._keys.fingerprint(plain), self._keys.key_id, addr))
            if updates:
                cur.executemany(
                    self.dialect.q(
                        "UPDATE records SET password_enc = ?, password_fp = ?, fp_key_id = ? WHERE address = ?"
                    ),
                    updates,
                )
            self._x(cur, "UPDATE meta SET value = ? WHERE name = ?", (self._keys.encrypt(_KEY_CHECK_PLAIN), KEY_CHECK))
            self._audit(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=A.ACTION_ROTATE_KEYS,
                outcome=A.OUTCOME_OK,
                old_fp=None,
                new_fp=None,
                detail=f"re-encrypted {len(updates)} password(s) under the primary key",
            )
        return len(updates)


def _address_of(text: str) -> Address:
    """Parse a stored (hence valid) address without checking ids again."""
    if text == "controller":
        return CONTROLLER
    parts = text.split("/")
    return rows_.address(parts[1], parts[3] if len(parts) == 4 else "")


def _check_stack(stack: str) -> None:
    if not isinstance(stack, str) or not stack.strip() or any(c in stack for c in "\r\n\x00"):
        raise StoreError(f"invalid stack name {stack!r}", hint="a stack name is a non-empty single line")


def _change_detail(row: dict[str, Any], fields: dict[str, Any], password_changed: bool, stack: str) -> str:
    changed = [f for f in SETTINGS_FIELDS if row.get(f) != fields.get(f)]
    if password_changed:
        changed.append("password")
    text = "changed: " + (", ".join(changed) if changed else "nothing (rewritten)")
    if row["managed_by"] and row["managed_by"] != stack:
        text += f"; adopted from stack '{row['managed_by']}'"
    elif not row["managed_by"]:
        text += "; now managed"
    return text
