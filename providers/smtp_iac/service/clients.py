"""What a client of the service needs to plan, apply and detect drift as with a database store
(``store.remote``), each in one request whatever the number of organizations:

- ``GET /v1/snapshot``: every record and tenant the token reaches, from one consistent read.
  sysadmin and viewer: everything. A partner admin: its partner, its organizations, and the
  controller's record without its fingerprint (the tier its organizations fall back to). An org
  admin: its organization, and the record its effective settings come from. Plans, drift and
  blast radius made from it are limited to that reach.
- ``POST /v1/fingerprints``: the store's keyed digests of secrets (passwords a stack resolved;
  the hash of a saved plan, which seals it), so that the store key never leaves the server.
- ``POST /v1/audit/query``: the audit entries of many scopes at once (drift's who and when of
  every deleted record, in one request per thousand).
- ``POST /v1/tenants``: ``smtp-iac tenants load`` (sysadmin), the tenants document as JSON.
- ``POST /v1/audit/attempts``: an attempt the client refused before writing (a stale saved
  plan), audited with the token's name and role as the actor, as a database store audits it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..access import Act, decide
from ..addresses import CONTROLLER, Address
from ..errors import TenantsInvalid
from ..models import LiveRecord
from ..resolve import resolve
from ..store import AuditAction, AuditEntry, AuditOutcome, Snapshot
from ..tokens import Role, TokenInfo
from .auth import Caller, forbidden, require
from .bodies import AuditOut
from .config import TENANTS_MAX_BYTES
from .context import Context, parse_address
from .limits import read_capped
from .problems import Problem
from .responses import errors

router = APIRouter(prefix="/v1", tags=["clients"])

Secret = Annotated[str, Field(max_length=4096)]
Line = Annotated[
    str, Field(max_length=2000, pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]*$")
]
"""One line of text with no control characters and no bidi controls (an audit entry is read
on terminals: no escape sequence, no text that reads otherwise than it is stored)."""


class SnapshotOut(BaseModel):
    token: dict[str, Any] = Field(description="the token the snapshot was made for: id, name, role, partner, org")
    records: list[dict[str, Any]] = Field(description="records in reach, as GET /v1/scopes/{address} answers them")
    tenants: dict[str, Any] = Field(description="partners and organizations in reach, as a tenants file has them")


class FingerprintsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    secrets: Annotated[list[Secret], Field(min_length=1, max_length=1000)]


class FingerprintsOut(BaseModel):
    fingerprints: list[str]


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    address: Annotated[str, Field(max_length=200)]
    stack: Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] | None = None
    action: Literal["create", "update", "delete"]
    outcome: Literal["conflict", "refused", "verify_failed"]
    detail: Line
    new_fingerprint: Annotated[str, Field(pattern=r"^hmac-sha256:[0-9a-f]{1,64}$")] | None = None


@router.get("/snapshot", response_model=SnapshotOut, responses=errors(401, 403))
def snapshot(caller: Caller, ctx: Context) -> Response:
    """Every record and tenant the token reaches, from one consistent read."""
    require(caller, Act.PLAN)
    snap = ctx.store.snapshot()
    records, tenants = _in_reach(snap, caller)
    return JSONResponse(
        {
            "token": {"id": caller.id, "name": caller.name, "role": str(caller.role), "partner": caller.partner or None}
            | {"org": str(caller.org) if caller.org else None},
            "records": [_record(r, show) for r, show in records],
            "tenants": tenants,
        }
    )


def _in_reach(snap: Snapshot, token: TokenInfo) -> tuple[list[tuple[LiveRecord, bool]], dict[str, Any]]:
    """(record, whether its fingerprint shows) and the tenants document, within ``token``'s reach."""
    records = snap.records
    doc = snap.tenants.to_doc()
    if token.role in (Role.SYSADMIN, Role.VIEWER):
        return [(r, True) for r in records.values()], doc
    if token.role is Role.PARTNER_ADMIN:
        p = token.partner
        mine = [(r, True) for a, r in records.items() if a.partner == p]
        ctrl = [(records[CONTROLLER], False)] if CONTROLLER in records else []
        return ctrl + mine, {"partners": {k: v for k, v in doc["partners"].items() if k == p}}
    org = token.org
    assert org is not None
    enabled = snap.tenants.smtp_enabled(org)
    out = [(records[org], True)] if org in records else []
    res = resolve(org, enabled, records)
    if res.source is not None and res.source != org and res.record is not None:
        out.append((res.record, False))
    orgs = doc["partners"].get(org.partner, {}).get("organizations", {})
    tenants = {"partners": {org.partner: {"organizations": {o: v for o, v in orgs.items() if o == org.org}}}}
    return out, tenants


def _record(r: LiveRecord, show: bool) -> dict[str, Any]:
    return {
        "address": str(r.address),
        "host": r.host,
        "port": r.port,
        "tls": r.tls,
        "tls_mode": r.tls_mode,
        "username": r.username,
        "sender": r.sender,
        "password_fingerprint": r.password_fingerprint if show else None,
        "version": r.version,
        "managed_by": r.managed_by,
        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
        "updated_by": r.updated_by,
    }


@router.post("/fingerprints", response_model=FingerprintsOut, responses=errors(401, 403, 413, 422, 429))
def fingerprints(body: FingerprintsIn, caller: Caller, ctx: Context) -> FingerprintsOut:
    """The store's keyed digests of ``secrets`` (for roles that write; rate-limited per token)."""
    require(caller, Act.FINGERPRINT)
    ctx.limiter.check(f"{caller.id}:fingerprint", "fingerprint")
    return FingerprintsOut(fingerprints=[ctx.store.fingerprint(s) for s in body.secrets])


@router.post("/audit/attempts", status_code=204, responses=errors(401, 403, 404, 413, 422))
def attempt(body: AttemptIn, caller: Caller, ctx: Context) -> Response:
    """Audit a write the client refused before making it (a stale saved plan), as the token."""
    address: Address = parse_address(body.address)
    denied = ctx.refusal(caller, Act.WRITE, address)  # an org admin whose switch is off writes nothing
    if denied is not None:
        raise forbidden(denied, address)
    ctx.store.record_attempt(
        address,
        stack=body.stack,
        action=AuditAction(body.action),
        outcome=AuditOutcome(body.outcome),
        detail=body.detail,
        actor=caller.actor,
        new_fingerprint=body.new_fingerprint,
    )
    return Response(status_code=204)


class TenantsChangeOut(BaseModel):
    partners_added: list[str]
    orgs_added: list[str]
    enabled: list[str]
    disabled: list[str]
    unchanged: int
    summary: str


@router.post(
    "/tenants",
    response_model=TenantsChangeOut,
    responses=errors(400, 401, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a tenants document: partners: {<p>: {organizations: {<o>: {smtp_enabled: bool}}}}",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def load_tenants(request: Request, caller: Caller, ctx: Context) -> TenantsChangeOut:
    """Upsert partners, organizations and SMTP switches (``smtp-iac tenants load``): sysadmin.
    The body (up to 16 MiB) is read only once the token is known to be a sysadmin's."""
    require(caller, Act.TENANTS)
    raw = await read_capped(request, TENANTS_MAX_BYTES)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem(400, "the body is not a JSON document") from None
    if not isinstance(body, dict):
        raise Problem(422, 'a tenants document is a JSON object: {"partners": {...}}')
    try:
        change = await run_in_threadpool(ctx.store.load_tenants, body, actor=caller.actor)
    except TenantsInvalid as e:
        found = [{"field": d.path, "message": d.message} for d in e.diagnostics[:50]]
        first = found[0]["message"] if found else e.message
        raise Problem(422, f"the tenants document is not valid: {first}", kind=str(e.kind), errors=found) from None
    return TenantsChangeOut(
        partners_added=change.partners_added,
        orgs_added=[str(a) for a in change.orgs_added],
        enabled=[str(a) for a in change.enabled],
        disabled=[str(a) for a in change.disabled],
        unchanged=change.unchanged,
        summary=change.summary(),
    )


PER_ADDRESS = 100
ATTEMPTS_PER_ADDRESS = 20
"""Per scope, ``/v1/audit/query`` answers its newest 100 entries that changed something and its
newest 20 others (refused and failed attempts): a flood of refused attempts cannot push out
the deletion or switch-off that drift names as the who and when."""


class AuditQueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    addresses: Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=1, max_length=1000)]


@router.post("/audit/query", response_model=dict[str, list[AuditOut]], responses=errors(401, 403, 404, 413, 422))
def audit_query(body: AuditQueryIn, caller: Caller, ctx: Context) -> Response:
    """The audit entries of each address (its newest 100, oldest first), all readable by the caller."""
    addresses = [parse_address(a) for a in body.addresses]
    for a in addresses:
        denied = decide(caller, Act.AUDIT, a)
        if denied is not None:
            raise forbidden(denied, a)
    logs = ctx.store.audit_logs(addresses)
    return JSONResponse({str(a): [e.to_dict() for e in _bounded(entries)] for a, entries in logs.items()})


def _bounded(entries: list[AuditEntry]) -> list[AuditEntry]:
    done = [e for e in entries if e.outcome == "ok"][-PER_ADDRESS:]
    tried = [e for e in entries if e.outcome != "ok"][-ATTEMPTS_PER_ADDRESS:]
    return sorted(done + tried, key=lambda e: e.id)
