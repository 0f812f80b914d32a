"""What every route works with, made once per process by ``app.create_app``: the store (timed),
the configuration, the relay policy, the rate limiter, the metrics and how fingerprints are
shown; and how the service runs a check with them. Routes take it as a FastAPI dependency
(``Context``); whether they may go on, they ask ``permits.Allow``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from pydantic import WithJsonSchema

from ..addresses import Address
from ..models import ResolvedSettings, VerifyOptions
from ..planning.write import ScopeWriter
from ..store import DatabaseStore, RecordStore
from ..store.db import WouldWait, without_waiting
from ..tokens import TokenInfo
from ..verify import VerifyResult, run_check
from .auth import TokenFacts
from .budgets import ChargedAudit, charge_attempt
from .checkcache import CheckCache
from .config import ServiceConfig
from .fingerprints import ScopeFingerprints
from .handoff import StoreThreads
from .limits import CheckSlots, RateLimiter
from .patterns import ADDRESS, ORG_ADDRESS
from .problems import Problem
from .relaypolicy import RelayPolicy
from .telemetry import Metrics

T = TypeVar("T")


@dataclass(frozen=True)
class Ctx:
    store: DatabaseStore
    config: ServiceConfig
    relays: RelayPolicy
    limiter: RateLimiter
    metrics: Metrics
    checks: CheckCache
    slots: CheckSlots
    fingerprints: ScopeFingerprints
    threads: StoreThreads
    tokens: TokenFacts = field(default_factory=TokenFacts)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, a request's checks and point reads (a few rows by key, never a scan
        nor a write): on the event loop where the store answers them without waiting
        (``store.without_waiting``: a local database, a connection free now, no lock), else in
        the store's own threads (``handoff``). Either way, one hand-off at most, and one read
        transaction (``store.reads_together``)."""

        def together() -> T:  # one read transaction for all of them
            with self.store.reads_together():
                return fn(*args)

        try:
            with without_waiting():
                return together()
        except WouldWait:
            return await self.threads.run(together)

    def options(
        self, mode: str, to: str | None = None, from_: str | None = None, timeout: int | None = None
    ) -> VerifyOptions:
        """Verify options of a check the service runs (its CA file, its default timeout)."""
        return VerifyOptions.model_validate(
            {
                "mode": mode,
                "to": to,
                "from": from_,
                "timeout_seconds": timeout or self.config.verify_timeout_seconds,
                "ca_file": str(self.config.ca_file) if self.config.ca_file else None,
            }
        )

    def smtp_enabled(self, address: Address) -> bool:
        """The SMTP switch of an organization (True above the organization tier); 404 for an
        organization the store does not know."""
        if not address.org:
            return True
        return self.store.find_org(f"{address.partner}/{address.org}").smtp_enabled

    def audited(self, token: TokenInfo) -> RecordStore:
        """The store as ``token``'s writes use it: each refused or failed attempt it audits is
        charged first (``budgets.charge_attempt``: 429 past the token's budget at that scope)."""
        return ChargedAudit(self.store, lambda a: charge_attempt(self.store, self.limiter, token, a))

    def writer(self, token: TokenInfo) -> ScopeWriter:
        return ScopeWriter(self.audited(token), actor=token.actor)

    def check(self, address: Address, settings: ResolvedSettings, options: VerifyOptions, **kw: Any) -> VerifyResult:
        """Run a check (or a send, with ``message=``) within the relay policy, counted in the
        metrics. The caller has already asked ``relays.check`` (403 before any connection)."""
        result = run_check(settings, options, address=address, destination=self.relays.refusal, **kw)
        self.metrics.check_done(result)
        return result


async def _ctx(request: Request) -> Ctx:
    """``async``: it does no I/O, so it runs on the event loop rather than costing the request a
    hand-off to the thread pool (FastAPI runs each plain ``def`` dependency there)."""
    ctx: Ctx = request.app.state.ctx
    return ctx


Context = Annotated[Ctx, Depends(_ctx)]


AddressPath = Annotated[
    str,
    Path(),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ADDRESS,
            "description": "controller, partners/<p> or partners/<p>/organizations/<o> (percent-encoded or not); "
            "404 for any other text",
            "examples": ["controller", "partners/acme", "partners/acme/organizations/blue"],
        }
    ),
]
OrgPath = Annotated[
    str,
    Path(),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ORG_ADDRESS,
            "description": "partners/<p>/organizations/<o> (percent-encoded or not); 404 for any other text",
            "examples": ["partners/acme/organizations/blue"],
        }
    ),
]


def parse_address(text: str, *, org: bool = False) -> Address:
    """An address from a path (percent-encoded or not); 404 when it is none (or, with ``org``,
    not an organization's)."""
    try:
        address = Address.parse(text)
    except ValueError as e:
        raise Problem(404, str(e), hint="addresses: controller, partners/<p>, partners/<p>/organizations/<o>") from None
    if org and not address.org:
        raise Problem(404, f"{address} is not an organization", address=address, hint="partners/<p>/organizations/<o>")
    return address
