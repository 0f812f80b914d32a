"""What the settings service's answers mean to a client (``remote``): records, audit entries
and check results from their JSON, and each problem+json answer as the error a database store
would raise for the same refusal (``ConflictError`` with its versions, ``OwnershipError`` with
its owner, ``FeatureDisabled``, ``UnknownTenant``, ``VerifyFailed`` with the check), plus
``Forbidden`` for what the token's role may not do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from ..addresses import Address
from ..errors import (
    ConflictError,
    FeatureDisabled,
    Forbidden,
    OwnershipError,
    StoreError,
    StoreKeyError,
    StoreUnavailable,
    UnknownTenant,
    UsageError,
    VerifyFailed,
)
from ..models import LiveRecord
from ..verify.result import Failure, Stage, VerifyResult
from .audit import AuditEntry
from .url import ENV_TOKEN


def record_of(d: dict[str, Any]) -> LiveRecord:
    """A record as the service answers it (a fingerprint the token may not see is empty)."""
    return LiveRecord.model_construct(
        address=Address.parse(d["address"]),
        host=d["host"],
        port=d["port"],
        tls=d["tls"],
        tls_mode=d.get("tls_mode"),
        username=d["username"],
        sender=d.get("sender"),
        password_fingerprint=d.get("password_fingerprint") or "",
        version=d["version"],
        managed_by=d.get("managed_by"),
        updated_at=datetime.fromisoformat(d["updated_at"]) if d.get("updated_at") else None,
        updated_by=d.get("updated_by"),
    )


def entry_of(e: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        int(e["id"]),
        datetime.fromisoformat(e["at"]),
        e["actor"],
        e["stack"],
        e["address"],
        e["action"],
        e["outcome"],
        e["old_fingerprint"],
        e["new_fingerprint"],
        e["detail"],
    )


def check_of(d: dict[str, Any]) -> VerifyResult:
    return VerifyResult(
        ok=d["ok"],
        address=Address.parse(d["address"]),
        mode=d["mode"],
        failure=Failure(d["failure"]) if d.get("failure") else None,
        stage=Stage(d["stage"]) if d.get("stage") else None,
        detail=d["detail"],
        advice=d.get("advice", ""),
        elapsed_seconds=float(d.get("elapsed_seconds", 0.0)),
        skipped=bool(d.get("skipped", False)),
    )


def error_of(
    r: httpx.Response, url: str
) -> StoreError | UsageError | Forbidden | UnknownTenant | VerifyFailed | FeatureDisabled:
    """The error a database store would raise for what the service answered."""
    try:
        p = r.json()
        if not isinstance(p, dict):
            raise ValueError
    except ValueError:
        return StoreError(f"the settings service at {url} answered {r.status_code} without a problem document")
    detail = str(p.get("detail") or p.get("title") or r.status_code)
    hint = p.get("hint")
    address = Address.parse(p["address"]) if isinstance(p.get("address"), str) else None
    kind = p.get("kind")
    s = r.status_code
    if s == 401:
        return StoreKeyError(f"the settings service refused the token: {detail}", hint=f"check {ENV_TOKEN}")
    if kind == "feature_disabled" and address is not None:
        return FeatureDisabled(address)
    if s == 403:
        return Forbidden(detail, address=address, hint=hint)
    if kind == "conflict" and address is not None and "actual" in p:
        return ConflictError(address, p.get("expected"), p.get("actual"), p.get("last_writer"), p.get("last_written"))
    if kind == "ownership" and address is not None:
        return OwnershipError(address, p.get("owner") or "?", p.get("stack") or "?")
    if s == 404:
        return UnknownTenant(detail, address=address, hint=hint)
    if kind == "verify_failed" and address is not None and isinstance(p.get("verify"), dict):
        return VerifyFailed(address, check_of(p["verify"]))
    if s in (412, 409):
        return ConflictError(address or Address(), p.get("expected"), p.get("actual"))
    if s in (400, 413, 422, 428):
        return UsageError(f"the settings service refused the request: {detail}", address=address, hint=hint)
    if s == 503 and isinstance(p.get("fault"), str):
        return StoreUnavailable(
            f"the settings service answered 503: {detail}",
            fault=p["fault"],
            retry_after=_seconds(r.headers.get("retry-after")),
            write=p.get("write") if p.get("write") in ("not_applied", "unknown") else None,
            address=address,
            hint=hint,
        )
    return StoreError(f"the settings service answered {s}: {detail}", address=address, hint=hint)


def _seconds(header: str | None) -> int:
    """A ``Retry-After`` in seconds (2 when absent or a date), at most a minute."""
    try:
        return max(0, min(60, int(header or "2")))
    except ValueError:
        return 2
