"""Every error the service answers is ``application/problem+json`` (RFC 9457): ``title``,
``status``, ``detail``, and ``address``/``hint``/``errors`` where they apply. Never a stack
trace, never a password: details come from ``SmtpIacError`` messages (built from addresses,
field names and fingerprints only) or from the service's own words.

``SmtpIacError`` kinds map to statuses in one table (``STATUS``), as the CLI maps them to exit
codes in one place.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConflictError, ErrorKind, OwnershipError, SmtpIacError, StoreUnavailable
from ..tokens import Role

log = logging.getLogger("smtp_iac.service")

PROBLEM = "application/problem+json"

WRITES = frozenset({"PUT", "DELETE"})
"""Methods of the routes that write settings: a 503 of theirs says whether the write was applied."""

LIMITED = frozenset({Role.PARTNER_ADMIN, Role.ORG_ADMIN})
"""Roles limited to a part of the platform: an unknown-tenant answer tells them nothing more."""

STATUS: dict[ErrorKind, int] = {
    ErrorKind.UNKNOWN_TENANT: 404,
    ErrorKind.CONFLICT: 412,
    ErrorKind.OWNERSHIP: 409,
    ErrorKind.FEATURE_DISABLED: 403,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.USAGE: 422,
    ErrorKind.INVALID_STACK: 422,
    ErrorKind.INVALID_TENANTS: 422,
    ErrorKind.VERIFY_FAILED: 422,
    ErrorKind.STALE_PLAN: 412,
    ErrorKind.STORE: 503,
    ErrorKind.STORE_URL: 503,
    ErrorKind.STORE_KEY: 503,
}
"""HTTP status of each error kind; any other kind is a 500 that says no more than its message."""

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    502: "Relay failed",
    503: "Store unavailable",
}


class Problem(Exception):
    """An answer that is an error. Raise it anywhere in a route."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        address: object | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.address = str(address) if address is not None else None
        self.hint = hint
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def of(cls, err: SmtpIacError, **extra: Any) -> Problem:
        """The answer for ``err``; a conflict or ownership refusal carries its data too, so a
        client (``store.remote``) raises the same error a database store would."""
        if isinstance(err, ConflictError):
            extra |= {
                "expected": err.expected,
                "actual": err.actual,
                "last_writer": err.last_writer,
                "last_written": err.last_written,
            }
        elif isinstance(err, OwnershipError):
            extra |= {"owner": err.owner, "stack": err.stack}
        headers: dict[str, str] = {}
        if isinstance(err, StoreUnavailable):
            extra |= {"fault": err.fault, "write": err.write}
            headers["Retry-After"] = str(err.retry_after)
        status = STATUS.get(err.kind, 500)
        return cls(
            status, err.message, address=err.address, hint=err.hint, headers=headers, kind=str(err.kind), **extra
        )

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": TITLES.get(self.status, "Error"), "status": self.status, "detail": self.detail}
        if self.address is not None:
            out["address"] = self.address
        if self.hint:
            out["hint"] = self.hint
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers, media_type=PROBLEM)


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Per-field errors of a request that did not validate: where and what, never the value
    sent (it may be the password)."""
    out = []
    for e in exc.errors()[:50]:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        out.append({"field": ".".join(loc) or "(body)", "message": str(e.get("msg", "invalid"))[:300]})
    return out


def install(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SmtpIacError)
        if isinstance(exc, StoreUnavailable) and exc.write is None and request.method in WRITES:
            # a fault before the write began (a read it needed, the token's lookup): a write's
            # own fault says itself, and no route reads the store after its write
            exc.write = "not_applied"
        token = getattr(request.state, "token", None)
        if exc.kind is ErrorKind.UNKNOWN_TENANT and token is not None and token.role in LIMITED:
            # its message and hint name partners and who owns an organization: for a token
            # limited to a partner or an organization, that is beyond its reach
            return Problem(404, "not known to the store", address=exc.address, kind=str(exc.kind)).response()
        return Problem.of(exc).response()

    async def on_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return Problem(422, f"the request is not valid: {detail}", errors=errors).response()

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
        return Problem(exc.status_code, detail, headers=dict(exc.headers or {})).response()

    async def on_crash(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s while serving a request", type(exc).__name__)  # no message: it may hold data
        return Problem(500, "the service failed unexpectedly; the error is logged").response()

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(SmtpIacError, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
