"""``RemoteStore``: the ``Store`` protocol over the settings service (``smtp-iac serve``), for a
store URL ``https://...`` (or loopback ``http://``) and a token in ``SMTP_IAC_TOKEN``.

Commands and the Pulumi provider then behave as with a database store, within the token's
reach, and never hold the store key:

- Reads that cover the platform (plan, drift, import, effective) are one ``GET /v1/snapshot``
  (cached for the store's lifetime, which is one command), whatever the number of
  organizations. The tenants it answers know the token's reach: a scope beyond it is refused
  in the plan (``forbidden``), as an unknown tenant is.
- Keyed digests are computed by the service: the fingerprint a desired password has at its
  scope (``POST /v1/fingerprints``, batched and cached; the service binds fingerprints to their
  scope and answers a bounded number of different candidates per scope), and the seal of a
  saved plan (``POST /v1/seals``), over the plan document's SHA-256, so plans of any size are
  sealed with a small request.
- Writes are the service's ``PUT``/``DELETE``, compare-and-swap on the version as always.
  The service checks each write over SMTP itself before it writes (``verifies_writes``): the
  caller sends the check's options with the write instead of running the check, and a failed
  check comes back as ``VerifyFailed``, audited by the service.
- Every refusal comes back as the error a database store raises (conflict, ownership,
  feature off, unknown tenant), plus ``Forbidden`` for what the token's role may not do.
- It is a ``Store``, not a ``DatabaseStore``: no password is ever read back, and what only
  the database does (tokens, key rotation, the console's keys) is not offered at all, so the
  type checker proves no caller asks; ``open_database`` refuses a service URL up front.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx

from ..addresses import Address
from ..errors import (
    ConflictError,
    StoreError,
    StoreKeyError,
    UnknownTenant,
)
from ..models import LiveRecord, Organization, ResolvedSettings, VerifyOptions
from ..relayhealth import HealthReport, Scope, report_from_dict
from ..resolve import Resolution
from ..tiermap import OrgQuery, OrgRow, Page, PartnerRow
from ..tokens import Role, TokenInfo
from .audit import AuditAction, AuditEntry, AuditOutcome
from .protocol import Written
from .remote_tenants import find_org, tenants_of
from .remote_wire import check_of, entry_of, error_of, record_of
from .snapshot import Snapshot, Tenants, TenantsChange
from .url import ENV_TOKEN

TIMEOUT = httpx.Timeout(connect=10.0, read=150.0, write=30.0, pool=10.0)
"""A write waits for the service's SMTP check (at most 120 s by the stack's verify options)."""
HEALTH_TIMEOUT = httpx.Timeout(connect=10.0, read=900.0, write=30.0, pool=10.0)
"""A health run checks every relay in scope, a few at a time, each within the service's timeout."""


class RemoteStore:
    verifies_writes = True
    fingerprints_per_scope = True
    local_files: tuple[Path, ...] = ()

    def __init__(self, url: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None):
        token = (token or os.environ.get(ENV_TOKEN, "")).strip()
        if not token:
            raise StoreKeyError(
                f"the store {url} is the settings service: it needs a token",
                hint=f"set {ENV_TOKEN} (Pulumi: secret config smtp-iac:token); a sysadmin makes one "
                "with: smtp-iac tokens create",
            )
        self.url_for_display = url
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "smtp-iac"},
            timeout=TIMEOUT,
            transport=transport,
            follow_redirects=False,
        )
        self._snapshot: Snapshot | None = None
        self._fingerprints: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"RemoteStore({self.url_for_display!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ----- HTTP -------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise StoreError(
                f"the settings service at {self.url_for_display} does not answer ({type(e).__name__})",
                hint="check the URL and that smtp-iac serve is running there",
            ) from None
        if r.status_code >= 400:
            raise error_of(r, self.url_for_display)
        return r

    # ----- reads ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """A consistent read of everything in reach, now (each call asks the service again:
        apply's staleness check must see the store as it is, not as the plan saw it)."""
        doc = self._call("GET", "/v1/snapshot").json()
        t = doc["token"]
        org = Address.parse(t["org"]) if t.get("org") else None
        token = TokenInfo(t["id"], t["name"], Role(t["role"]), t.get("partner") or "", org)
        records = {r.address: r for r in map(record_of, doc["records"])}
        self._snapshot = Snapshot(records, tenants_of(doc["tenants"], token))
        return self._snapshot

    def _last(self) -> Snapshot:
        """The last snapshot, for lookups within one command (tenants, an organization)."""
        return self._snapshot if self._snapshot is not None else self.snapshot()

    def get(self, address: Address) -> LiveRecord | None:
        try:
            return record_of(self._call("GET", f"/v1/scopes/{address}").json())
        except UnknownTenant:
            return None

    def list_records(self, *, tier: Any = None, partner: str | None = None) -> list[LiveRecord]:
        return [
            r
            for r in self.snapshot().records.values()
            if (tier is None or r.address.tier == tier) and (partner is None or r.address.partner == partner)
        ]

    def effective(self, org: Address) -> Resolution[LiveRecord]:
        return self._last().effective(org)

    def org_page(self, query: OrgQuery) -> Page[OrgRow]:
        params = {"q": query.search, "offset": query.offset, "limit": query.limit}
        for name in ("partner", "org", "tier"):
            if (value := getattr(query, name)) is not None:
                params[name] = value
        doc = self._call("GET", "/v1/tiermap/organizations", params=params).json()
        items = tuple(
            OrgRow(Address.parse(i["organization"]), i["smtp_enabled"], i["tier"], i["own_record"], i["managed_by"])
            for i in doc["items"]
        )
        return Page(items, doc["total"], doc["offset"], doc["limit"])

    def partner_page(
        self, search: str = "", offset: int = 0, limit: int = 50, *, partner: str | None = None
    ) -> Page[PartnerRow]:
        params: dict[str, Any] = {"q": search, "offset": offset, "limit": limit}
        params |= {"partner": partner} if partner is not None else {}
        doc = self._call("GET", "/v1/tiermap/partners", params=params).json()
        items = tuple(
            PartnerRow(i["partner"], i["organizations"], i["has_record"], i["managed_by"], i.get("host"), i.get("port"))
            for i in doc["items"]
        )
        return Page(items, doc["total"], doc["offset"], doc["limit"])

    def blast_radius(self, address: Address) -> int:
        return int(self._call("GET", f"/v1/blast-radius/{_path(address)}").json()["organizations"])

    def fingerprint(self, address: Address, password: str) -> str:
        return self.fingerprints([(address, password)])[0]

    def fingerprints(self, items: Sequence[tuple[Address, str]]) -> list[str]:
        """The scope-bound fingerprint of each (address, secret), asked of the service in one
        request per thousand (cached: a secret compared once is not asked again)."""
        todo = sorted({(str(a), s) for a, s in items if (str(a), s) not in self._fingerprints})
        for i in range(0, len(todo), 1000):
            chunk = todo[i : i + 1000]
            body = {"items": [{"address": a, "secret": s} for a, s in chunk]}
            got = self._call("POST", "/v1/fingerprints", json=body).json()["fingerprints"]
            self._fingerprints.update(zip(chunk, got, strict=True))
        return [self._fingerprints[(str(a), s)] for a, s in items]

    def seal(self, digest: str) -> str:
        return str(self._call("POST", "/v1/seals", json={"sha256": digest}).json()["seal"])

    def audit_log(
        self, *, address: Address | None = None, partner: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        params: dict[str, Any] = {"limit": min(limit or 1000, 1000)}
        if address is not None:
            params["address"] = str(address)
        rows = self._call("GET", "/v1/audit", params=params).json()
        return [entry_of(e) for e in rows if partner is None or (e["address"] or "").startswith(f"partners/{partner}")]

    def audit_logs(self, addresses: Sequence[Address]) -> dict[Address, list[AuditEntry]]:
        out: dict[Address, list[AuditEntry]] = {a: [] for a in addresses}
        todo = sorted({str(a) for a in addresses})
        for i in range(0, len(todo), 1000):
            got = self._call("POST", "/v1/audit/query", json={"addresses": todo[i : i + 1000]}).json()
            for address, entries in got.items():
                out[Address.parse(address)] = [entry_of(e) for e in entries]
        return out

    def check_health(self, scope: Scope, concurrency: int = 8) -> HealthReport:
        """Have the service check the relays in ``scope`` now (``POST /v1/health/checks``: its
        CA file, timeout and relay policy; within the token's reach) and answer the report."""
        body = {
            "partners": sorted(scope.partners),
            "orgs": sorted(str(o) for o in scope.orgs),
            "concurrency": concurrency,
        }
        doc = self._call("POST", "/v1/health/checks", json=body, timeout=HEALTH_TIMEOUT).json()
        try:
            return report_from_dict(doc)
        except (KeyError, TypeError, ValueError, AttributeError, AssertionError):
            raise StoreError(
                f"the settings service at {self.url_for_display} answered a health report this client does not read",
                hint="use an smtp-iac of the service's version",
            ) from None

    def schema_version(self) -> int:
        self._call("GET", "/readyz")
        return 0

    def probe(self) -> None:
        self._call("GET", "/readyz")

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
        verify: VerifyOptions | None = None,
    ) -> Written:
        """``actor`` is not sent: the service records the token's name and role."""
        body: dict[str, Any] = settings.public_fields() | {"password": settings.password.get_secret_value()}
        body = {k: v for k, v in body.items() if v is not None}
        if verify is not None:
            body["verify"] = {
                k: v
                for k, v in (
                    ("mode", verify.mode),
                    ("to", verify.to),
                    ("from", verify.from_),
                    ("timeout_seconds", verify.timeout_seconds),
                )
                if v is not None
            }
        r = self._call(
            "PUT", _scope(address), json=body, params=_stack(stack, adopt), headers=_precondition(expected_version)
        )
        doc = r.json()
        self._snapshot = None
        return Written(record_of(doc["record"]), check_of(doc["verify"]) if doc.get("verify") else None)

    def delete(
        self,
        address: Address,
        *,
        expected_version: int | None,
        stack: str | None,
        actor: str | None = None,
        adopt: bool = False,
    ) -> None:
        if expected_version is None:  # "seen absent": a no-op if it still is, a conflict if not
            live = self.get(address)
            if live is not None:
                raise ConflictError(
                    address,
                    None,
                    live.version,
                    live.updated_by,
                    live.updated_at.isoformat() if live.updated_at else None,
                )
            return
        self._call("DELETE", _scope(address), params=_stack(stack, adopt), headers=_precondition(expected_version))
        self._snapshot = None

    def release(self, address: Address, *, stack: str, actor: str | None = None) -> LiveRecord:
        r = self._call("POST", f"{_scope(address)}/release", params={"stack": stack})
        self._snapshot = None
        return record_of(r.json())

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
        """The service keeps only fingerprints it made itself: ``new_fingerprint`` stays here."""
        body = {
            "address": str(address),
            "stack": stack,
            "action": str(action),
            "outcome": str(outcome),
            "detail": " ".join(detail.split())[:2000],
        }
        self._call("POST", "/v1/audit/attempts", json={k: v for k, v in body.items() if v is not None})

    # ----- tenants, keys, tokens --------------------------------------------------------

    def tenants(self) -> Tenants:
        return self._last().tenants

    def find_org(self, ref: str) -> Organization:
        return find_org(self._last().tenants, ref)

    def load_tenants(self, doc: object, *, actor: str | None = None) -> TenantsChange:
        d = self._call("POST", "/v1/tenants", json=doc).json()
        self._snapshot = None
        return TenantsChange(
            partners_added=d["partners_added"],
            orgs_added=[Address.parse(a) for a in d["orgs_added"]],
            enabled=[Address.parse(a) for a in d["enabled"]],
            disabled=[Address.parse(a) for a in d["disabled"]],
            unchanged=d["unchanged"],
        )

    def set_smtp_enabled(self, org: Address, enabled: bool, *, actor: str | None = None) -> None:
        self._call("PUT", f"/v1/organizations/{_path(org)}/smtp-enabled", json={"enabled": enabled})
        self._snapshot = None


def _path(address: Address) -> str:
    return quote(str(address), safe="/")


def _scope(address: Address) -> str:
    return f"/v1/scopes/{_path(address)}"


def _stack(stack: str | None, adopt: bool) -> dict[str, str]:
    out = {"stack": stack} if stack is not None else {}
    return out | ({"adopt": "true"} if adopt else {})


def _precondition(expected: int | None) -> dict[str, str]:
    return {"If-None-Match": "*"} if expected is None else {"If-Match": f'"{expected}"'}
