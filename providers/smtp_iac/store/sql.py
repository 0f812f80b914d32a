"""The store over SQL, written once against a DB-API cursor for both backends.

``SqlStore`` is small parts put together over one ``Db`` (the backend's connections:
``SqliteDb`` or ``PostgresDb``, which add only the connection and what their driver's errors
mean), each given the others it needs, and nothing shared but the ``Db``:

- ``AuditTrail`` (the audit log, written in each write's own transaction);
- ``Tenancy`` (partners, organizations, SMTP switches; audited);
- ``Records`` (reads and compare-and-swap writes, each with its audit entry) and ``Release``
  (a stack lets go of a scope);
- ``TierMapQueries`` (the tier map's pages, blast radius), ``KeyRotation``, ``TokenRegistry``
  (service tokens), ``ServiceGuards`` (the service's budgets and ended console sessions),
  ``Digests`` (fingerprints, seals, derived keys), ``Opening`` (migrations, the key check),
  ``HealthLog`` (relay health and the lease of its periodic run).

The table in ``SqlStore.__init__`` says which part answers each method of ``DatabaseStore``.
Guarantees, proved on both backends by ``tests/store``: see ``records``; reads of the whole
platform (``snapshot``) are three queries in one consistent read transaction, whatever the
number of organizations.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Self

from ..addresses import CONTROLLER, Address
from ..errors import UnknownTenant
from ..models import LiveRecord
from ..resolve import Resolution, resolve
from .audit import AuditTrail
from .db import Db, Part, reading
from .digests import Digests
from .guards import ServiceGuards
from .health import HealthLog
from .limits import Limits
from .opening import Opening
from .recordrows import RECORD_SELECT
from .records import Records
from .release import Release
from .rotation import KeyRotation
from .snapshot import Snapshot
from .tenancy import Tenancy
from .tiermap import TierMapQueries
from .tokens import TokenRegistry


class SqlStore(Part):
    """A settings store on a database (``store.DatabaseStore``). Open one with
    ``smtp_iac.store.open_database(url)`` (or ``open_store``)."""

    verifies_writes = False  # its writers run the SMTP check before they write
    fingerprints_per_scope = False  # one keyed fingerprint of a password, the same at every scope

    def __init__(self, db: Db, *, create: bool):
        """The store over ``db``: migrated, and its key proved to fit (``Opening``); ``db`` is
        closed if that fails."""
        super().__init__(db)
        try:
            Opening(db).open(create)
        except BaseException:
            db.close()
            raise
        audit = AuditTrail(db)
        self.tenancy = tenancy = Tenancy(db, audit)
        self.records = records = Records(db, audit, tenancy)
        tiers, digests, guards = TierMapQueries(db, tenancy), Digests(db), ServiceGuards(db)
        tokens = TokenRegistry(db, audit)
        # RecordStore
        self.get, self.list_records, self.reveal_password = records.get, records.list_records, records.reveal_password
        self.put, self.delete, self.record_attempt = records.put, records.delete, records.record_attempt
        self.release = Release(db, audit, records).release
        self.audit_log, self.audit_logs = audit.audit_log, audit.audit_logs
        self.fingerprint, self.fingerprints, self.seal = digests.fingerprint, digests.fingerprints, digests.seal
        self.schema_version, self.probe = Opening(db).schema_version, db.probe
        # Directory
        self.tenants, self.load_tenants, self.find_org = tenancy.tenants, tenancy.load_tenants, tenancy.find_org
        self.set_smtp_enabled = tenancy.set_smtp_enabled
        self.org_page, self.partner_page, self.blast_radius = tiers.org_page, tiers.partner_page, tiers.blast_radius
        self.source_tally, self.moves = tiers.source_tally, tiers.moves
        # Administration
        self.derived_key, self.rotate_keys = digests.derived_key, KeyRotation(db, audit).rotate_keys
        self.create_token, self.list_tokens = tokens.create_token, tokens.list_tokens
        self.find_token, self.revoke_token = tokens.find_token, tokens.revoke_token
        self.token_revoked = tokens.token_revoked
        self.admit, self.end_session, self.session_ended = guards.admit, guards.end_session, guards.session_ended
        health = HealthLog(db)
        self.relay_health, self.save_relay_health, self.take_lease = (
            health.relay_health,
            health.save_relay_health,
            health.take_lease,
        )

    @property
    def url_for_display(self) -> str:
        return self.db.url_for_display

    @property
    def limits(self) -> Limits:
        return self.db.limits

    @property
    def connections(self) -> int:
        return self.db.connections

    def reads_together(self) -> AbstractContextManager[None]:
        return self.db.together()

    @property
    def local_files(self) -> tuple[Path, ...]:
        return self.db.local_files

    def __repr__(self) -> str:
        return f"{type(self.db).__name__}({self.db.url_for_display!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @reading
    def snapshot(self) -> Snapshot:
        """Every record and every tenant from one consistent read: three queries."""
        with self.db.read() as cur:
            rows = self.db.x(cur, RECORD_SELECT).fetchall()
            tenants = self.tenancy.tenants_in(cur)
        records = self.records.records(rows)  # in bulk, none kept (``recordrows``)
        return Snapshot({r.address: r for r in records}, tenants)

    @reading
    def effective(self, org: Address) -> Resolution[LiveRecord]:
        """Effective settings of one organization from one consistent read of its tier chain
        (two queries, whatever the number of organizations): what the service's mailer and
        ``effective`` endpoint use. UnknownTenant for an organization the store does not know."""
        if not org.org:
            raise UnknownTenant(f"{org} is not an organization address", address=org)
        chain = (org, Address.trusted(org.partner), CONTROLLER)
        with self.db.read() as cur:
            row = self.db.x(
                cur, "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?", (org.partner, org.org)
            ).fetchone()
            if row is None:
                raise self.tenancy.unknown(cur, org)
            rows = self.db.x(
                cur, RECORD_SELECT + " WHERE address IN (?, ?, ?)", tuple(str(a) for a in chain)
            ).fetchall()
        records = {r.address: r for r in map(self.records.record, rows)}
        return resolve(org, bool(row[0]), records)
