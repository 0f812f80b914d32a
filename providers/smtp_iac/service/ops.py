"""Operations: ``/healthz`` (the process answers), ``/readyz`` (the store answers), ``/metrics``
(Prometheus text, for sysadmin and viewer tokens), and the audit log (``/v1/audit``) as far as
the caller may read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import WithJsonSchema

from ..access import Act, audit_scope
from ..errors import StoreError, StoreUnavailable
from .bodies import AuditOut, HealthOut, WhoAmIOut
from .context import Context, parse_address
from .patterns import ADDRESS
from .permits import Allow, Caller
from .problems import Problem
from .responses import errors

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process answers (no token needed; on the event loop, not a worker thread, so it
    answers while every worker is busy)."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses=errors(503))
def readyz(ctx: Context) -> HealthOut:
    """The store answers now: a free connection and one cheap query within a second (no
    token needed). 503 while it does not; the process itself stays up (``/healthz``)."""
    try:
        ctx.store.probe()
    except StoreError as e:
        fault = e.fault if isinstance(e, StoreUnavailable) else "error"
        ctx.metrics.fault(fault, "probe")
        raise Problem(503, "the store does not answer", headers={"Retry-After": "2"}, fault=fault) from None
    return HealthOut(status="ok")


@router.get("/v1/whoami", response_model=WhoAmIOut, tags=["tokens"], responses=errors(401, 503))
def whoami(caller: Caller) -> WhoAmIOut:
    """The caller's token: id, name, role and reach (never its secret)."""
    return WhoAmIOut(
        id=caller.id,
        name=caller.name,
        role=str(caller.role),
        partner=caller.partner or None,
        org=str(caller.org) if caller.org is not None else None,
        expires_at=caller.expires_at,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses=errors(401, 403, 503, also={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}),
)
def metrics(ctx: Context, allow: Allow) -> Response:
    """Prometheus metrics: requests by route and status, checks by outcome and class, store latency."""
    allow(Act.METRICS)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/audit", response_model=list[AuditOut], tags=["audit"], responses=errors(401, 403, 404, 422, 503))
def audit(
    caller: Caller,
    ctx: Context,
    allow: Allow,
    address: Annotated[
        str | None, Query(max_length=200), WithJsonSchema({"type": "string", "maxLength": 200, "pattern": ADDRESS})
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Audit entries the caller may read, oldest first (the newest ``limit``)."""
    if address is not None:
        addr = parse_address(address)
        allow(Act.AUDIT, addr)
        entries = ctx.store.audit_log(address=addr, limit=limit)
    else:
        scope, addr_or_none = allow.granted(audit_scope(caller))
        if scope == "all":
            entries = ctx.store.audit_log(limit=limit)
        elif scope == "partner":
            entries = ctx.store.audit_log(partner=caller.partner, limit=limit)
        else:
            entries = ctx.store.audit_log(address=addr_or_none, limit=limit)
    return [AuditOut.model_validate(ctx.fingerprints.entry(e)) for e in entries]
