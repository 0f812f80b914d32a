"""Who is asking: ``Authorization: Bearer TOKEN`` -> the token's ``TokenInfo``, or 401.

A missing, malformed, unknown, revoked or expired token is 401 with ``WWW-Authenticate:
Bearer`` (RFC 6750); the answer says which of those it was only as far as it tells nothing
to someone guessing (unknown and wrong secret read the same). Tokens are looked up by id and
their secret compared in constant time (``tokens``).

What a token is never changes once it is created (its id, name, role, reach, expiry and the
hash of its secret), so a process keeps that in memory (``TokenFacts``, read once per token);
whether it is still usable (not revoked) is read from the store by every request, in the same
thread hand-off as the request's own store work (``permits.Permit.confirm``), so a revocation
holds at once on every instance. Expiry needs no read: it is in the facts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials

from ..tokens import TokenInfo, parse_token, secret_matches
from .problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smtp-iac"'}

FACTS_KEPT = 10_000
"""Tokens whose facts a process keeps; past it, the memory starts over (tokens are few: a
service has one per pipeline and person, not per request)."""


def unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers=_CHALLENGE, hint="send Authorization: Bearer TOKEN (smtp-iac tokens create)")


def judged(found: tuple[TokenInfo, str] | None, secret: str) -> TokenInfo:
    """The token a row says ``secret`` opens, or 401 (unknown, wrong secret, revoked, expired)."""
    if found is None or not secret_matches(secret, found[1]):
        raise unauthorized("unknown token")
    why = found[0].usable(datetime.now(UTC))
    if why is not None:
        raise unauthorized(f"the token is {why}")
    return found[0]


class TokenFacts:
    """The facts of the tokens this process has seen usable, by id (never a revoked one)."""

    def __init__(self, kept: int = FACTS_KEPT) -> None:
        self._kept = kept
        self._facts: dict[str, tuple[TokenInfo, str]] = {}
        self._lock = threading.Lock()

    def get(self, token_id: str) -> tuple[TokenInfo, str] | None:
        return self._facts.get(token_id)

    def keep(self, found: tuple[TokenInfo, str]) -> None:
        with self._lock:
            if len(self._facts) >= self._kept:
                self._facts.clear()
            self._facts[found[0].id] = found

    def forget(self, token_id: str) -> None:
        with self._lock:
            self._facts.pop(token_id, None)


@dataclass
class Claim:
    """A token whose secret matched its facts; ``confirmed`` once this request has read that it
    is still usable (not revoked). ``confirm`` reads it, where the request's store work runs."""

    info: TokenInfo
    secret: str
    confirmed: bool

    def confirm(self, store: Any, facts: TokenFacts) -> None:
        if self.confirmed:
            return
        revoked = store.token_revoked(self.info.id)
        if revoked is not False:
            facts.forget(self.info.id)
            raise unauthorized("unknown token" if revoked is None else "the token is revoked")
        self.confirmed = True


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Claim:
    """The request's token, judged by its facts (read from the store the first time a process
    sees the token, then kept): unconfirmed until the request's store work reads its revocation."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("no bearer token")
    parsed = parse_token(credentials.credentials.strip())
    if parsed is None:
        raise unauthorized("not an smtp-iac token")
    token_id, secret = parsed
    ctx = request.app.state.ctx
    known = ctx.tokens.get(token_id)
    if known is None:
        found = await ctx.read(ctx.store.find_token, token_id)
        claim = Claim(judged(found, secret), secret, confirmed=True)
        ctx.tokens.keep(found)
    else:
        claim = Claim(judged(known, secret), secret, confirmed=False)
    request.state.token = claim.info  # for the request's log line and metrics
    return claim
