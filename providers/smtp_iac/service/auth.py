"""Who is asking: ``Authorization: Bearer TOKEN`` -> the token's ``TokenInfo``, or 401.

A missing, malformed, unknown, revoked or expired token is 401 with ``WWW-Authenticate:
Bearer`` (RFC 6750); the answer says which of those it was only as far as it tells nothing
to someone guessing (unknown and wrong secret read the same). Tokens are looked up by id and
their secret compared in constant time (``tokens``). Each request reads the token's row, so a
revocation holds at once on every instance.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..tokens import TokenInfo, parse_token, secret_matches
from .problems import Problem

bearer = HTTPBearer(auto_error=False, description="a service token: smtp-iac tokens create")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smtp-iac"'}


def unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers=_CHALLENGE, hint="send Authorization: Bearer TOKEN (smtp-iac tokens create)")


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> TokenInfo:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("no bearer token")
    parsed = parse_token(credentials.credentials.strip())
    if parsed is None:
        raise unauthorized("not an smtp-iac token")
    found = request.app.state.ctx.store.find_token(parsed[0])
    if found is None or not secret_matches(parsed[1], found[1]):
        raise unauthorized("unknown token")
    info: TokenInfo = found[0]
    why = info.usable(datetime.now(UTC))
    if why is not None:
        raise unauthorized(f"the token is {why}")
    request.state.token = info  # for the request's log line and metrics
    return info


Caller = Annotated[TokenInfo, Depends(authenticate)]
"""Who is asking; what it may do, a route asks ``permits.Allow``."""
