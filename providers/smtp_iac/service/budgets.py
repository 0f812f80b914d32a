"""What one token may do at one scope in an hour, kept in the store (``store.guards``), so that
every instance on one database holds the same line:

- Comparisons: at most ``CANDIDATES_PER_SCOPE`` different passwords compared with a scope's
  (``POST /v1/fingerprints``); one compared again is free, so re-planning is never limited.
- Refused or failed attempts: at most ``ATTEMPTS_PER_SCOPE`` audited per scope (a write refused
  by its version, its owner, its check or the token's role; an attempt a client reports). The
  one past it is answered 429 and neither made nor audited: no token can bury a scope's history
  under refusals or fill the database with them. (They are also paced by the token's
  per-instance rate limit, as before.)

``ChargedAudit`` is the store as the service's writers see it: each attempt the one write path
audits is charged first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..addresses import Address
from ..store import DatabaseStore
from ..store.db import wait_allowed
from ..tokens import TokenInfo
from .limits import RateLimiter
from .problems import Problem

WINDOW = timedelta(hours=1)
CANDIDATES_PER_SCOPE = 20
ATTEMPTS_PER_SCOPE = 20
PER_TOKEN = 250_000
"""Entries a budget holds in all: a plan of 200,000 organizations with passwords of their own
fits; what one token can make the store keep is bounded."""
RETRY_AFTER = {"Retry-After": str(int(WINDOW.total_seconds()))}


def admit_candidates(store: DatabaseStore, token: TokenInfo, candidates: Mapping[Address, set[str]]) -> Address | None:
    """Record the candidates (the store's keyed digests) ``token`` compares with each scope;
    the scope past its budget (then nothing is recorded: ``too_many_candidates``), or None."""
    return store.admit(f"{token.id}:compare", candidates, limit=CANDIDATES_PER_SCOPE, window=WINDOW, total=PER_TOKEN)


def too_many_candidates(over: Address) -> Problem:
    why = (
        f"more than {CANDIDATES_PER_SCOPE} different passwords compared with the one of {over} "
        f"(or more than {PER_TOKEN:,} in all) within an hour by this token"
    )
    return Problem(
        429,
        f"{why}: no more are answered for now",
        address=over,
        hint="a plan compares each scope's password once; asking again for one already compared is not limited",
        headers=RETRY_AFTER,
    )


def charge_attempt(store: DatabaseStore, limiter: RateLimiter, token: TokenInfo, address: Address) -> None:
    """Pay for auditing one refused or failed attempt of ``token`` at ``address``: 429 past the
    token's rate limit or the scope's budget (then the attempt is neither made nor audited)."""
    limiter.check(f"{token.id}:refused", "refused write")
    entry = {address: {secrets.token_hex(8)}}
    if store.admit(f"{token.id}:attempts", entry, limit=ATTEMPTS_PER_SCOPE, window=WINDOW, total=PER_TOKEN):
        raise Problem(
            429,
            f"more than {ATTEMPTS_PER_SCOPE} refused or failed attempts at {address} within an hour by this "
            "token: this one is neither made nor audited",
            address=address,
            hint="fix what the earlier attempts were refused for (the audit log says) before trying again",
            headers=RETRY_AFTER,
        )


class ChargedAudit:
    """``store`` whose ``record_attempt`` first charges the attempt (``charge``); the rest is the
    store itself. What ``write.ScopeWriter`` writes through in the service."""

    def __init__(self, store: DatabaseStore, charge: Callable[[Address], None]):
        self._store = store
        self._charge = charge

    def record_attempt(self, address: Address, **kw: Any) -> None:
        wait_allowed()  # a charge is a side effect: never made by a read tried on the event loop
        self._charge(address)
        self._store.record_attempt(address, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
