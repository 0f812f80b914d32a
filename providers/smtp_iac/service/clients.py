"""What a client of the service needs to plan, apply and detect drift as with a database store
(``store.remote``), each in one request whatever the number of organizations:

- ``GET /v1/snapshot``: every record and tenant the token reaches, from one consistent read.
  sysadmin and viewer: everything. A partner admin: its partner, its organizations, and the
  controller's record without its fingerprint (the tier its organizations fall back to). An org
  admin: its organization, and the record its effective settings come from. Plans, drift and
  blast radius made from it are limited to that reach.
- ``POST /v1/fingerprints``: the fingerprint each password a stack resolved would have at its
  scope (``fingerprints``: bound to the scope), so that the store key never leaves the server;
  at most 20 different candidates per scope and token in an hour (beyond: 429, audited).
- ``POST /v1/seals``: the seal of a saved plan (its SHA-256), under the store's seal key.
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

from ..access import Act, shows_fingerprint
from ..addresses import Address
from ..errors import TenantsInvalid
from ..guard import OWNER_PATTERN
from ..models import LiveRecord
from ..reading.schema import load_schema
from ..resolve import resolve
from ..store import AuditAction, AuditEntry, AuditOutcome, Snapshot
from .bodies import AddressText, AuditOut
from .budgets import admit_candidates, too_many_candidates
from .config import TENANTS_MAX_BYTES
from .context import Context, parse_address
from .limits import read_capped
from .permits import Allow, Attempt, Caller, Permit
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


class CandidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    address: AddressText
    secret: Secret


class FingerprintsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    items: Annotated[list[CandidateIn], Field(min_length=1, max_length=1000)]


class SealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sha256: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$", description="sha256:<64 hex> of the plan document")]


class SealOut(BaseModel):
    seal: str


NOT_COMPARED = "not-compared"
"""The answer for a scope the token may not write: equal to no fingerprint, so a plan shows the
scope's password as changed and refuses it (``forbidden``), as it refuses the scope."""


class FingerprintsOut(BaseModel):
    fingerprints: list[str] = Field(
        description=f"in the order asked; {NOT_COMPARED!r} for a scope the token may not write "
        "(equal to no fingerprint)"
    )


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    address: AddressText
    stack: Annotated[str, Field(max_length=200, pattern=OWNER_PATTERN)] | None = None
    action: Literal["create", "update", "delete"]
    outcome: Literal["conflict", "refused", "verify_failed"]
    detail: Line


@router.get("/snapshot", response_model=SnapshotOut, responses=errors(401, 403, 503))
def snapshot(caller: Caller, ctx: Context, allow: Allow) -> Response:
    """Every record and tenant the token reaches, from one consistent read."""
    allow(Act.PLAN)
    snap = ctx.store.snapshot()
    records, tenants = _in_reach(snap, allow)
    return JSONResponse(
        {
            "token": {"id": caller.id, "name": caller.name, "role": str(caller.role), "partner": caller.partner or None}
            | {"org": str(caller.org) if caller.org else None},
            "records": [
                _record(r, ctx.fingerprints.shown(r.address, r.password_fingerprint) if show else None)
                for r, show in records
            ],
            "tenants": tenants,
        }
    )


def _in_reach(snap: Snapshot, allow: Permit) -> tuple[list[tuple[LiveRecord, bool]], dict[str, Any]]:
    """(record, whether its fingerprint shows) and the tenants document, as far as the token
    reads them (``access``): the records it reads, those it reads without their fingerprint
    first (``shows_fingerprint``: a partner admin's controller), and for the organization a
    token is limited to, the record its effective settings come from (without fingerprint) when
    it does not read that one; the partners it reads, with their organizations, and the
    organization it is limited to."""
    token = allow.caller
    read = [(r, shows_fingerprint(token, a)) for a, r in snap.records.items() if allow.may(Act.READ, a)]
    out = sorted(read, key=lambda item: item[1])  # stable: those read without fingerprint first
    doc = snap.tenants.to_doc()["partners"]
    tenants = {p: entry for p, entry in doc.items() if allow.may(Act.READ, Address.trusted(p))}
    org = token.org
    if org is not None and allow.may(Act.EFFECTIVE, org):
        res = resolve(org, snap.tenants.smtp_enabled(org), snap.records)
        if res.source is not None and res.record is not None and not allow.may(Act.READ, res.source):
            out.append((res.record, False))
        orgs = doc.get(org.partner, {}).get("organizations", {})
        tenants[org.partner] = {"organizations": {o: v for o, v in orgs.items() if o == org.org}}
    return out, {"partners": tenants}


def _record(r: LiveRecord, fingerprint: str | None) -> dict[str, Any]:
    return {
        "address": str(r.address),
        "host": r.host,
        "port": r.port,
        "tls": r.tls,
        "tls_mode": r.tls_mode,
        "username": r.username,
        "sender": r.sender,
        "password_fingerprint": fingerprint,
        "version": r.version,
        "managed_by": r.managed_by,
        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
        "updated_by": r.updated_by,
    }


@router.post("/fingerprints", response_model=FingerprintsOut, responses=errors(400, 401, 403, 404, 413, 422, 429, 503))
def fingerprints(body: FingerprintsIn, caller: Caller, ctx: Context, allow: Allow) -> FingerprintsOut:
    """The fingerprint each secret would have as the password of its scope, comparable with that
    scope's ``password_fingerprint`` (for roles that write; ``not-compared`` for a scope the
    token may not write). At most 20 different secrets per scope and token within an hour are
    answered; asking again for one already asked is free."""
    allow(Act.FINGERPRINT)
    ctx.limiter.check(f"{caller.id}:fingerprint", "fingerprint")
    items = [(parse_address(i.address), i.secret) for i in body.items]
    stored = ctx.store.fingerprints(items)  # the store's own, the same at every scope: never shown
    # beyond what the token may write (an org admin's switch included): no answer, no cost
    reach = {a: allow.may(Act.WRITE, a) for a in dict.fromkeys(a for a, _ in items)}
    candidates: dict[Address, set[str]] = {}
    for (address, _), fp in zip(items, stored, strict=True):
        if reach[address]:
            candidates.setdefault(address, set()).add(fp)
    over = admit_candidates(ctx.store, caller, candidates)
    if over is not None:
        refusal = too_many_candidates(over)
        allow.record_refusal(over, Attempt(AuditAction.COMPARE), refusal.detail)
        raise refusal
    shown = ctx.fingerprints.shown
    return FingerprintsOut(
        fingerprints=[
            (shown(a, fp) if reach[a] else None) or NOT_COMPARED for (a, _), fp in zip(items, stored, strict=True)
        ]
    )


@router.post("/seals", response_model=SealOut, responses=errors(400, 401, 403, 413, 422, 429, 503))
def seal(body: SealIn, caller: Caller, ctx: Context, allow: Allow) -> SealOut:
    """The seal of a saved plan (the SHA-256 of its document), under the store's seal key: apply
    refuses a plan whose seal does not match (edited after it was made)."""
    allow(Act.FINGERPRINT)
    ctx.limiter.check(f"{caller.id}:fingerprint", "fingerprint")
    return SealOut(seal=ctx.store.seal(body.sha256))


@router.post("/audit/attempts", status_code=204, responses=errors(400, 401, 403, 404, 413, 422, 503))
def attempt(body: AttemptIn, caller: Caller, ctx: Context, allow: Allow) -> Response:
    """Audit a write the client refused before making it (a stale saved plan), as the token."""
    address: Address = parse_address(body.address)
    allow(Act.WRITE, address)  # an org admin whose switch is off writes nothing
    ctx.audited(caller).record_attempt(  # charged: at most 20 per scope and hour
        address,
        stack=body.stack,
        action=AuditAction(body.action),
        outcome=AuditOutcome(body.outcome),
        detail=body.detail,
        actor=caller.actor,
    )
    return Response(status_code=204)


class TenantsChangeOut(BaseModel):
    partners_added: list[str]
    orgs_added: list[str]
    enabled: list[str]
    disabled: list[str]
    unchanged: int
    summary: str


TENANTS_SCHEMA = {k: v for k, v in load_schema("tenants").items() if k not in ("$schema", "$id")}
"""``schemas/tenants.schema.json``: the service checks a tenants document against it, nothing else."""


@router.post(
    "/tenants",
    response_model=TenantsChangeOut,
    responses=errors(400, 401, 403, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a tenants document: partners: {<p>: {organizations: {<o>: {smtp_enabled: bool}}}}",
            "content": {"application/json": {"schema": TENANTS_SCHEMA}},
        }
    },
)
async def load_tenants(request: Request, caller: Caller, ctx: Context, allow: Allow) -> TenantsChangeOut:
    """Upsert partners, organizations and SMTP switches (``smtp-iac tenants load``): sysadmin.
    The body (up to 16 MiB) is read only once the token is known to be a sysadmin's."""
    allow(Act.TENANTS)
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
    addresses: Annotated[list[AddressText], Field(min_length=1, max_length=1000)]


@router.post(
    "/audit/query",
    response_model=dict[str, list[AuditOut]],
    responses=errors(400, 401, 403, 404, 413, 422, 503),
)
def audit_query(body: AuditQueryIn, ctx: Context, allow: Allow) -> Response:
    """The audit entries of each address (its newest 100, oldest first), all readable by the caller."""
    addresses = [parse_address(a) for a in body.addresses]
    for a in addresses:
        allow(Act.AUDIT, a)
    logs = ctx.store.audit_logs(addresses)
    shown = ctx.fingerprints.entry
    return JSONResponse({str(a): [shown(e) for e in _bounded(entries)] for a, entries in logs.items()})


def _bounded(entries: list[AuditEntry]) -> list[AuditEntry]:
    done = [e for e in entries if e.outcome == "ok"][-PER_ADDRESS:]
    tried = [e for e in entries if e.outcome != "ok"][-ATTEMPTS_PER_ADDRESS:]
    return sorted(done + tried, key=lambda e: e.id)
