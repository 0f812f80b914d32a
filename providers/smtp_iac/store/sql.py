"""The store over SQL, written once against a DB-API cursor for both backends.

``SqlStore`` is its parts put together: ``Opening`` (migrations, the key check), ``Records``
(reads and compare-and-swap writes, each with its audit entry), ``Tenancy`` (partners,
organizations, SMTP switches), ``AuditTrail``, ``KeyRotation``, ``TokenRegistry`` (service
tokens), ``ServiceGuards`` (the service's budgets and ended console sessions) and ``Digests``
(fingerprints, seals, derived keys).
``SqliteStore`` and
``PostgresStore`` add only the connection and what their driver's errors mean. Guarantees,
proved on both backends by ``tests/store``: see ``records``; reads of the whole platform
(``snapshot``) are three queries in one consistent read transaction, whatever the number of
organizations.
"""

from __future__ import annotations

from ..addresses import CONTROLLER, Address
from ..errors import UnknownTenant
from ..models import LiveRecord
from ..resolve import Resolution, resolve
from .db import read
from .digests import Digests
from .guards import ServiceGuards
from .opening import Opening
from .records import RECORD_SELECT
from .release import Release
from .rotation import KeyRotation
from .snapshot import Snapshot
from .tiermap import TierMapQueries
from .tokens import TokenRegistry


class SqlStore(Release, KeyRotation, TokenRegistry, TierMapQueries, ServiceGuards, Digests, Opening):
    """A settings store on a database (``store.Store``). Open one with ``smtp_iac.store.open_store(url)``."""

    def _opened(self, create: bool) -> None:
        """Migrate and check the key on the connection the backend just made; close it if that fails."""
        try:
            self._open(create)
        except BaseException:
            self.close()
            raise

    @read
    def snapshot(self) -> Snapshot:
        """Every record and every tenant from one consistent read: three queries."""
        with self._read_tx() as cur:
            rows = self._x(cur, RECORD_SELECT).fetchall()
            tenants = self._tenants(cur)
        records = map(self._record, rows)
        return Snapshot({r.address: r for r in records}, tenants)

    @read
    def effective(self, org: Address) -> Resolution[LiveRecord]:
        """Effective settings of one organization from one consistent read of its tier chain
        (two queries, whatever the number of organizations): what the service's mailer and
        ``effective`` endpoint use. UnknownTenant for an organization the store does not know."""
        if not org.org:
            raise UnknownTenant(f"{org} is not an organization address", address=org)
        chain = (org, Address.trusted(org.partner), CONTROLLER)
        with self._read_tx() as cur:
            row = self._x(
                cur, "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?", (org.partner, org.org)
            ).fetchone()
            if row is None:
                raise self._unknown(cur, org)
            rows = self._x(cur, RECORD_SELECT + " WHERE address IN (?, ?, ?)", tuple(str(a) for a in chain)).fetchall()
        records = {r.address: r for r in map(self._record, rows)}
        return resolve(org, bool(row[0]), records)
