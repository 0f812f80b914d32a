"""Records in the store: reads, and compare-and-swap writes with their audit entries.

- Every write is one transaction holding the record change AND its audit entry, so a crash
  leaves each record either old or new, and the audit agrees with the records.
- The compare-and-swap is in the SQL, not only in the read before it: ``UPDATE ... WHERE
  address = ? AND version = ?`` (row count 0: conflict) and, for a create, ``INSERT`` against
  the primary key (a duplicate: conflict). That is correct under PostgreSQL's READ COMMITTED
  with many writers; SQLite serializes writers anyway with ``BEGIN IMMEDIATE``.
- Refused attempts (conflict, ownership, feature off, unknown tenant) and failed ones that a
  caller reports (``record_attempt``: verify failed) are audited in their own transaction,
  after the refused one rolled back.
- No plain password is stored, logged, put in a message or returned by a read: records carry
  a Fernet token and a keyed fingerprint; ``reveal_password`` alone decrypts (as ``SecretStr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import SecretStr

from ..actor import actor_of
from ..addresses import CONTROLLER, Address, Tier
from ..errors import ConflictError, FeatureDisabled, OwnershipError, SmtpIacError, StoreError, UnknownTenant
from ..guard import write_refusal
from ..models import SETTINGS_FIELDS, LiveRecord, ResolvedSettings, VerifyOptions
from .audit import AuditAction, AuditOutcome, AuditTrail
from .db import Cursor, Db, Duplicate, Part, now_text, parse_time, reading
from .detail import change_detail, check_stack
from .protocol import Written
from .recordrows import RECORD_SELECT, RecordRows
from .tenancy import Tenancy


@dataclass(frozen=True)
class _Live:
    """The live row a write is guarded by."""

    version: int
    managed_by: str | None
    updated_by: str | None
    updated_at: str | None
    fingerprint: str
    fields: dict[str, Any]


class Records(Part, RecordRows):
    """Records: reads, and compare-and-swap writes with their audit entries."""

    def __init__(self, db: Db, audit: AuditTrail, tenancy: Tenancy):
        super().__init__(db)
        self.audit = audit
        self.tenancy = tenancy
        self._made: dict[tuple[Any, ...], LiveRecord] = {}

    # ----- reads ------------------------------------------------------------------------

    @reading
    def get(self, address: Address) -> LiveRecord | None:
        with self.db.read() as cur:
            row = self.db.x(cur, RECORD_SELECT + " WHERE address = ?", (str(address),)).fetchone()
        return self.record(row) if row else None

    @reading
    def list_records(self, *, tier: Tier | None = None, partner: str | None = None) -> list[LiveRecord]:
        """Records in address order, optionally of one tier and/or under one partner
        (``partner`` selects the partner's record and its organizations' records)."""
        where: list[str] = []
        params: list[str] = []
        if partner is not None:
            where.append("partner = ?")
            params.append(partner)
        if tier is Tier.CONTROLLER:
            where.append("partner = ''")
        elif tier is Tier.PARTNER:
            where.append("partner <> '' AND org = ''")
        elif tier is Tier.ORGANIZATION:
            where.append("org <> ''")
        sql = RECORD_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        with self.db.read() as cur:
            rows = self.db.x(cur, sql, params).fetchall()
        return sorted((self.record(r) for r in rows), key=lambda r: r.address)

    @reading
    def reveal_password(self, address: Address, *, version: int | None = None) -> SecretStr:
        """The stored password of a live record, decrypted, for the verify check / test email only.
        ``version``: the record it must belong to (ConflictError if the record moved since)."""
        with self.db.read() as cur:
            sql = "SELECT password_enc, version FROM records WHERE address = ?"
            row = self.db.x(cur, sql, (str(address),)).fetchone()
        if row is None:
            raise StoreError("no record at this scope", address=address)
        if version is not None and row[1] != version:
            raise ConflictError(address, version, row[1])
        return SecretStr(self.db.keys.decrypt(row[0], what=f"the password of {address}"))

    # ----- writes -----------------------------------------------------------------------

    def put(
        self,
        address: Address,
        settings: ResolvedSettings,
        *,
        expected_version: int | None,
        stack: str | None,
        actor: str | None = None,
        adopt: bool = False,
        verify: VerifyOptions | None = None,  # for a store that checks writes itself: not this one
    ) -> Written:
        """Create (``expected_version=None``) or update a record, compare-and-swap on version.
        ``stack=None``: a write out of band (a person in the console, an API client that is no
        stack): no ownership check, and ``managed_by`` stays what it was, so that the stack
        managing the scope sees the change as drift."""
        check_stack(stack)
        actor = actor_of(actor)
        addr = str(address)
        password = settings.password.get_secret_value()
        new_fp = self.db.keys.fingerprint(password)
        token = self.db.keys.encrypt(password)
        fields = settings.public_fields()
        old_fp: str | None = None
        action = AuditAction.UPDATE if expected_version else AuditAction.CREATE
        try:
            with self.db.write() as cur:
                self.tenancy.moving(cur, address)  # first: it locks the partner's tiers (tenancy)
                self._check_writable_scope(cur, address)
                live = self.live(cur, address)
                old_fp = live.fingerprint if live else None
                self._guard(address, live, expected_version, stack, adopt)
                owner = stack if stack is not None else (live.managed_by if live else None)
                at = now_text()
                values = (
                    *(fields[f] if f != "tls" else int(fields[f]) for f in SETTINGS_FIELDS),
                    token,
                    new_fp,
                    self.db.keys.key_id,
                    owner,
                    at,
                    actor,
                )
                if live is None:
                    version = 1
                    self.db.x(
                        cur,
                        "INSERT INTO records (address, partner, org, host, port, tls, tls_mode, "
                        "username, sender, password_enc, password_fp, fp_key_id, managed_by, "
                        "updated_at, updated_by, version) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                        (addr, address.partner, address.org, *values),
                    )
                    self.tenancy.moved(cur, address)
                    detail = "created"
                else:
                    version = live.version + 1
                    n = self.db.x(
                        cur,
                        "UPDATE records SET host = ?, port = ?, tls = ?, tls_mode = ?, "
                        "username = ?, sender = ?, password_enc = ?, password_fp = ?, "
                        "fp_key_id = ?, managed_by = ?, updated_at = ?, updated_by = ?, "
                        "version = version + 1 WHERE address = ? AND version = ?",
                        (*values, addr, live.version),
                    ).rowcount
                    if n != 1:
                        raise self._conflict_now(cur, address, expected_version)
                    detail = change_detail(live.fields, live.managed_by, fields, old_fp != new_fp, stack)
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=address,
                    action=action,
                    outcome=AuditOutcome.OK,
                    old_fp=old_fp,
                    new_fp=new_fp,
                    detail=detail,
                    at=at,
                )
        except Duplicate:
            err = self._conflict_after(address, expected_version)
            self._refused(err, address, actor, stack, action, old_fp, new_fp)
        except (ConflictError, OwnershipError, FeatureDisabled, UnknownTenant) as err:
            self._refused(err, address, actor, stack, action, old_fp, new_fp)
        record = LiveRecord.model_construct(
            address=address,
            **fields,
            password_fingerprint=new_fp,
            version=version,
            managed_by=owner,
            updated_at=parse_time(at),
            updated_by=actor,
        )
        return Written(record)

    def delete(
        self,
        address: Address,
        *,
        expected_version: int | None,
        stack: str | None,
        actor: str | None = None,
        adopt: bool = False,
    ) -> None:
        """Remove a record (the scope then inherits), compare-and-swap on version.
        ``expected_version=None`` means "seen absent": a no-op if it still is, a conflict if not.
        Allowed while an organization's SMTP switch is off (it removes an ignored override).
        ``stack=None``: out of band, as in ``put``."""
        check_stack(stack)
        actor = actor_of(actor)
        old_fp: str | None = None
        try:
            with self.db.write() as cur:
                self.tenancy.moving(cur, address)
                live = self.live(cur, address)
                old_fp = live.fingerprint if live else None
                self._guard(address, live, expected_version, stack, adopt)
                if live is None:
                    return
                n = self.db.x(
                    cur, "DELETE FROM records WHERE address = ? AND version = ?", (str(address), live.version)
                ).rowcount
                if n != 1:
                    raise self._conflict_now(cur, address, expected_version)
                self.tenancy.moved(cur, address)
                detail = f"deleted version {live.version}"
                if stack is not None and live.managed_by and live.managed_by != stack:
                    detail += f"; adopted from stack '{live.managed_by}'"
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=address,
                    action=AuditAction.DELETE,
                    outcome=AuditOutcome.OK,
                    old_fp=old_fp,
                    detail=detail,
                )
        except (ConflictError, OwnershipError) as err:
            self._refused(err, address, actor, stack, AuditAction.DELETE, old_fp, None)

    def record_attempt(
        self,
        address: Address,
        *,
        stack: str | None,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: str,
        actor: str | None = None,
        new_fingerprint: str | None = None,
    ) -> None:
        """Audit an attempt that did not write (``action=UPDATE, outcome=VERIFY_FAILED``).
        ``detail`` must not hold a password; the old fingerprint is the live record's."""
        actor = actor_of(actor)
        with self.db.write() as cur:
            live = self.live(cur, address)
            self.audit.entry(
                cur,
                actor=actor,
                stack=stack,
                address=address,
                action=action,
                outcome=outcome,
                old_fp=live.fingerprint if live else None,
                new_fp=new_fingerprint,
                detail=detail,
            )

    # ----- guards -----------------------------------------------------------------------

    def live(self, cur: Cursor, address: Address) -> _Live | None:
        """The live row of ``address`` in the open transaction (what a write is guarded by)."""
        row = self.db.x(
            cur,
            "SELECT version, managed_by, updated_by, updated_at, password_fp, fp_key_id, password_enc, "
            + ", ".join(SETTINGS_FIELDS)
            + " FROM records WHERE address = ?",
            (str(address),),
        ).fetchone()
        if row is None:
            return None
        version, managed_by, updated_by, updated_at, fp, key_id, token, *values = row
        fields = dict(zip(SETTINGS_FIELDS, values, strict=True))
        fields["tls"] = bool(fields["tls"])
        return _Live(
            int(version), managed_by, updated_by, updated_at, self._fp(fp, key_id, token, str(address)), fields
        )

    @staticmethod
    def _guard(address: Address, live: _Live | None, expected: int | None, stack: str | None, adopt: bool) -> None:
        """ConflictError unless the live version is the expected one; OwnershipError when
        another stack manages the scope and adopting was not asked for."""
        err = write_refusal(
            address,
            expected=expected,
            actual=live.version if live else None,
            owner=live.managed_by if live else None,
            stack=stack,
            adopt=adopt,
            last_writer=live.updated_by if live else None,
            last_written=live.updated_at if live else None,
        )
        if err is not None:
            raise err

    def _conflict_now(self, cur: Cursor, address: Address, expected: int | None) -> ConflictError:
        row = self.db.x(
            cur, "SELECT version, updated_by, updated_at FROM records WHERE address = ?", (str(address),)
        ).fetchone()
        return ConflictError(address, expected, *(row if row else (None, None, None)))

    def _conflict_after(self, address: Address, expected: int | None) -> ConflictError:
        with self.db.read() as cur:
            return self._conflict_now(cur, address, expected)

    def _refused(
        self,
        err: SmtpIacError,
        address: Address,
        actor: str,
        stack: str | None,
        action: AuditAction,
        old_fp: str | None,
        new_fp: str | None,
    ) -> NoReturn:
        """Audit a refused write (own transaction), then raise the refusal."""
        outcome = AuditOutcome.CONFLICT if isinstance(err, ConflictError) else AuditOutcome.REFUSED
        try:
            with self.db.write() as cur:
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=stack,
                    address=address,
                    action=action,
                    outcome=outcome,
                    old_fp=old_fp,
                    new_fp=new_fp,
                    detail=f"{err.kind}: {err.message}",
                )
        except StoreError as audit_err:
            err.add_note(f"(the refusal could not be audited: {audit_err.message})")
        raise err

    def _check_writable_scope(self, cur: Cursor, address: Address) -> None:
        """UnknownTenant for an unknown partner/org; FeatureDisabled for an org whose switch is off."""
        if address == CONTROLLER:
            return
        if address.org:
            row = self.db.x(
                cur,
                "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?" + self.db.dialect.for_share,
                (address.partner, address.org),
            ).fetchone()
            if row is None:
                raise self.tenancy.unknown(cur, address)
            if not row[0]:
                raise FeatureDisabled(address)
            return
        sql = "SELECT 1 FROM partners WHERE id = ?" + self.db.dialect.for_share
        if self.db.x(cur, sql, (address.partner,)).fetchone() is None:
            raise self.tenancy.unknown(cur, address)
