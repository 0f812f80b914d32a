"""What the rest of smtp-iac may ask of a settings store, split by who asks:

- ``RecordStore``: records, their audit trail and keyed digests: plan, apply, drift, import,
  release, the Pulumi provider (the one write path, ``write.ScopeWriter``, writes through it);
- ``Directory``: partners, organizations and their SMTP switches, and the tier map's pages;
- ``Store``: both: what any store URL opens (``open_store``), a database or the settings
  service (``RemoteStore``, within a token's reach);
- ``Administration``: what only the database itself does, for the CLI's administrator
  commands and the service (tokens, key rotation, keys derived from the store key, stored
  passwords, the service's budgets and ended sessions);
- ``DatabaseStore``: ``Store`` and ``Administration``: ``SqlStore`` (SQLite or PostgreSQL),
  opened by ``open_database``, which refuses a settings-service URL before anything is asked.

Callers are typed against these, never against a backend, so the type checker proves that
nothing asks the settings service for what only a database has. Addresses cross them as
``Address``; passwords only as ``SecretStr`` going in (``put``) and keyed fingerprints coming
out (``reveal_password``, database only, for the service's own checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

from pydantic import SecretStr

from ..addresses import Address, Tier
from ..models import LiveRecord, Organization, ResolvedSettings, VerifyOptions
from ..resolve import Resolution
from .audit import AuditAction, AuditEntry, AuditOutcome
from .limits import Limits
from .snapshot import Snapshot, Tenants, TenantsChange

if TYPE_CHECKING:  # for the signatures only: a plan needs none of these modules
    from ..relayhealth import RelayHealth, Scope, Tally
    from ..tiermap import OrgQuery, OrgRow, Page, PartnerRow
    from ..tokens import NewToken, TokenInfo
    from ..verify.result import VerifyResult


@dataclass(frozen=True)
class Written:
    """What ``put`` wrote, and the SMTP check the store ran before writing it (a store that
    ``verifies_writes``; None where the writer ran the check itself)."""

    record: LiveRecord
    check: VerifyResult | None = None


class RecordStore(Protocol):
    verifies_writes: bool
    """True for a store that checks every write over SMTP itself before it writes it (the
    settings service): writers then send the check's options with the write (``put(verify=)``)
    instead of running the check, and find its result in what ``put`` returns."""
    fingerprints_per_scope: bool
    """True where a password's fingerprint differs from scope to scope (the settings service
    binds them to their scope): two scopes' fingerprints then never tell a shared password."""

    @property
    def url_for_display(self) -> str:
        """The store's URL with any password masked: safe in any output."""

    @property
    def local_files(self) -> tuple[Path, ...]:
        """Files on this machine that hold the store or its key; a stack file may never name them."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    # ----- reads ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every record and every tenant from one consistent read, in a constant number of queries."""

    def get(self, address: Address) -> LiveRecord | None: ...

    def list_records(self, *, tier: Tier | None = None, partner: str | None = None) -> list[LiveRecord]: ...

    def effective(self, org: Address) -> Resolution[LiveRecord]:
        """Effective settings of one organization, from one consistent read of its tier chain."""

    def fingerprint(self, address: Address, password: str) -> str:
        """The keyed fingerprint ``password`` would have as the password of ``address``,
        comparable with that scope's ``LiveRecord.password_fingerprint`` (the settings service
        binds fingerprints to their scope and answers a bounded number of candidates)."""

    def fingerprints(self, items: Sequence[tuple[Address, str]]) -> list[str]:
        """``fingerprint`` of each (address, secret), in one call (one request to the service)."""

    def seal(self, digest: str) -> str:
        """The keyed seal of a saved plan's digest (its own key, not the fingerprint key)."""

    def audit_log(
        self, *, address: Address | None = None, partner: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]: ...

    def audit_logs(self, addresses: Sequence[Address]) -> dict[Address, list[AuditEntry]]:
        """The audit entries of each of ``addresses``, oldest first, in a few queries (or one
        request per thousand to the service, which answers each scope's newest 100)."""

    def schema_version(self) -> int:
        """The store's schema version (a cheap read)."""

    def probe(self) -> None:
        """The readiness probe: the store answers now, within about a second (a free
        connection and one cheap query), or ``StoreUnavailable``/``StoreError``."""

    # ----- record writes: through ``write.ScopeWriter``, the one write path ----------------

    def put(
        self,
        address: Address,
        settings: ResolvedSettings,
        *,
        expected_version: int | None,
        stack: str | None,
        actor: str | None = None,
        adopt: bool = False,
        verify: VerifyOptions | None = None,
    ) -> Written:
        """``stack=None``: a write out of band (no ownership taken or checked). ``verify``: the
        options of the check a store that ``verifies_writes`` runs first (others ignore it:
        their writer has run the check already)."""

    def delete(
        self,
        address: Address,
        *,
        expected_version: int | None,
        stack: str | None,
        actor: str | None = None,
        adopt: bool = False,
    ) -> None: ...

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
    ) -> None: ...

    # ----- not a write of settings, so not through the write path: ownership only ----------

    def release(self, address: Address, *, stack: str, actor: str | None = None) -> LiveRecord:
        """``stack`` stops managing ``address``; the settings stay as they are, so there is
        nothing to check over SMTP; the version moves on (a plan made before is stale), audited
        as ``release`` (``store.release``)."""


class Directory(Protocol):
    def tenants(self) -> Tenants: ...

    def load_tenants(self, doc: object, *, actor: str | None = None) -> TenantsChange: ...

    def find_org(self, ref: str) -> Organization: ...

    def set_smtp_enabled(self, org: Address, enabled: bool, *, actor: str | None = None) -> None: ...

    def org_page(self, query: OrgQuery) -> Page[OrgRow]:
        """One page of organizations with the tier in force for each (``tiermap``)."""

    def partner_page(
        self, search: str = "", offset: int = 0, limit: int = 50, *, partner: str | None = None
    ) -> Page[PartnerRow]:
        """One page of partners (``partner``: that one only), each with its number of
        organizations and whether it has a record."""

    def blast_radius(self, address: Address) -> int:
        """How many organizations' mail a record at ``address`` carries once written."""


class Store(RecordStore, Directory, Protocol):
    """What any store URL opens (``open_store``): a database, or the settings service."""


class Administration(Protocol):
    """What only the database itself does (its URL and key at hand)."""

    def reveal_password(self, address: Address, *, version: int | None = None) -> SecretStr:
        """The stored password of a live record, for the service's verify check, test email
        and mailer only; with ``version``, of that version of the record (ConflictError if it
        moved)."""

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (the console's session cookies, the service's scope-bound
        fingerprints), derived from the store key, so that every instance of the service on one
        store shares it."""

    def rotate_keys(self, *, actor: str | None = None) -> int: ...

    # ----- service tokens (``smtp_iac.tokens``) -------------------------------------------

    def create_token(self, token: NewToken, *, actor: str | None = None) -> TokenInfo: ...

    def list_tokens(self) -> list[TokenInfo]: ...

    def find_token(self, token_id: str) -> tuple[TokenInfo, str] | None:
        """The token with ``token_id`` and the SHA-256 of its secret, or None."""

    def token_revoked(self, token_id: str) -> bool | None:
        """Whether the token with ``token_id`` is revoked now (None: there is no such token)."""

    def revoke_token(self, token_id: str, *, actor: str | None = None) -> TokenInfo: ...

    # ----- what the settings service keeps (``store.guards``) -----------------------------

    def admit(
        self, budget: str, entries: Mapping[Address, set[str]], *, limit: int, window: timedelta, total: int
    ) -> Address | None:
        """Record each scope's ``entries`` in ``budget`` (``store.guards``); the first scope over
        ``limit`` different ones in ``window``, or over ``total`` in all (then nothing is
        recorded), or None."""

    def end_session(self, session_id: str, expires_at: datetime) -> None: ...

    def session_ended(self, session_id: str) -> bool: ...

    # ----- relay health (``store.health``) -------------------------------------------------

    def relay_health(self) -> dict[str, RelayHealth]:
        """Each relay's last check and history, by relay key."""

    def save_relay_health(self, healths: Sequence[RelayHealth], *, whole: bool) -> None:
        """The rows of one run; ``whole``: the run covered every organization (rows of relays
        no organization uses any more go)."""

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Whether ``holder`` now holds the lease ``name`` for ``seconds``."""

    def source_tally(self, scope: Scope) -> Tally:
        """Organizations in ``scope`` per effective source and partner, counted by the database
        (``relayhealth.tally``'s answer)."""


class DatabaseStore(Store, Administration, Protocol):
    """A store on a database (``SqlStore``): everything, for the administrator CLI and the service."""

    @property
    def limits(self) -> Limits:
        """How long the database may make the store wait, and its connections (pooled or one)."""

    @property
    def connections(self) -> int:
        """How many transactions may run at once (the connections it holds at most)."""

    def reads_together(self) -> AbstractContextManager[None]:
        """A block whose reads share one read transaction (``Db.together``)."""
