"""Relay health in the service (SPEC "Relay health"): ``GET /v1/health`` (the last results within
the caller's reach), ``POST /v1/health/checks`` (check now), and ``HealthRunner``, the
background run of ``serve --health-interval``.

- Reach (``access``: ``HEALTH``, ``HEALTH_CHECK``, ``own_reach``, ``reach_partners``): a question
  that names no partner or organization covers the caller's own reach (a partner admin's
  partner, an org admin's organization, everything for the other roles); each one named is
  judged as any address is, through ``permits.Allow`` (403 beyond reach, whether it exists or
  not). A limited caller's answer counts its own partner's organizations alone, and names only
  the records it may read (``HealthReport.limited``).
- Checks (``monitor.run.check_health``) run in a worker thread with the service's CA file,
  verify timeout and relay policy (``--deny-relay``: a denied relay fails its check, no
  connection is made); a POST is rate-limited and holds a check slot, as a Send Test Email does.
- The background run: every ``interval`` seconds (the first one second after start), the
  instance that holds the store's lease ``relay-health`` (``take_lease``, for twice the
  interval, renewed by each round) checks every relay and keeps the results; the others stand
  by and take over once the holder stops renewing. A round that fails is one log line (never a
  traceback or a password) and a count in ``smtp_iac_health_runs``; the task goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints, WithJsonSchema

from ..access import Act, own_reach, reach_partners
from ..addresses import ID_PATTERN, Address
from ..errors import SmtpIacError, StoreUnavailable
from ..monitor.run import check_health, last_report
from ..relayhealth import EVERYTHING, HealthReport, Scope, report_to_dict
from ..tokens import TokenInfo
from ..verify.batch import DEFAULT_CONCURRENCY
from .context import Context, Ctx
from .patterns import ORG_ADDRESS
from .permits import Allow, Caller, Permit
from .responses import errors

log = logging.getLogger("smtp_iac.service.health")

LEASE: Final = "relay-health"
FIRST_ROUND_SECONDS: Final = 1.0
"""After start, the first background round waits this long (or the interval, if shorter)."""
MOST_NAMED: Final = 100
"""Most partners, and most organizations, one request names."""

router = APIRouter(tags=["health"])


def _org(text: str) -> str:
    """An organization's address (422 for anything else), written as the service writes it."""
    address = Address.parse(text)  # its ValueError is the field's 422
    if not address.org:
        raise ValueError(f"{address} is not an organization (partners/<p>/organizations/<o>)")
    return str(address)


PartnerId = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=63)]
OrgAddress = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_org),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": ORG_ADDRESS}),
]


class HealthChecksIn(BaseModel):
    """What to check now: partners' and organizations' relays (none named: every relay in the
    caller's reach), at most ``concurrency`` at once."""

    model_config = ConfigDict(extra="forbid", strict=True)
    partners: list[PartnerId] = Field(default_factory=list, max_length=MOST_NAMED)
    orgs: list[OrgAddress] = Field(default_factory=list, max_length=MOST_NAMED)
    concurrency: StrictInt = Field(DEFAULT_CONCURRENCY, ge=1, le=32)


class CarriedOut(BaseModel):
    partner: str
    organizations: int


class LastCheckOut(BaseModel):
    ok: bool
    checked_at: datetime
    latency_ms: int
    failure: str | None
    stage: str | None
    detail: str
    advice: str
    cert_not_after: datetime | None = Field(description="the certificate's expiry, when the check used TLS")


class RelayHealthOut(BaseModel):
    """One distinct effective settings (an SMTP login), whose mail it carries, and its health."""

    key: str
    host: str
    port: int
    tls_mode: str
    username: str
    sources: list[str] = Field(description="the records with these settings in use (those the caller may read)")
    organizations: list[CarriedOut] = Field(description="organizations it carries, by partner (in the caller's reach)")
    status: Literal["ok", "warning", "failing", "unchecked"]
    last_check: LastCheckOut | None
    failing_since: datetime | None
    recovered_at: datetime | None
    cert_days_left: float | None


class ScopeOut(BaseModel):
    partners: list[str]
    orgs: list[str]


class HealthReportOut(BaseModel):
    """Relay health (``relayhealth.report_to_dict``)."""

    at: datetime
    scope: ScopeOut = Field(description="what was asked; none named: everything in the caller's reach")
    organizations: int
    organizations_without_mail: int = Field(description="on a failing relay, or with no effective settings at all")
    exit_status: Literal[0, 2, 3] = Field(description="as smtp-iac health's: 0 all working, 2 warnings, 3 mail lost")
    relays: list[RelayHealthOut]
    without_settings: list[CarriedOut]
    notes: list[str]


Partners = Annotated[list[PartnerId] | None, Query(max_length=MOST_NAMED, description="a partner's id (repeatable)")]
Orgs = Annotated[
    list[OrgAddress] | None,
    Query(max_length=MOST_NAMED, description="an organization: partners/<p>/organizations/<o> (repeatable)"),
]


@router.get("/v1/health", response_model=HealthReportOut, responses=errors(401, 403, 422, 503))
def health(request: Request, ctx: Context, allow: Allow, partner: Partners = None, org: Orgs = None) -> Response:
    """The last results of the relays in force (``unchecked`` before their first check), for the
    partners and organizations named, or everything in the caller's reach. Connects to no relay."""
    # With If-None-Match of the answer's ETag: 304 while nothing moved (``_etag``), as the
    # console's tier map asks on each view.
    scope = _scope(allow, Act.HEALTH, partner or (), org or ())
    tag = _etag(ctx.store, scope, allow.caller)
    if tag is not None and tag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers={"ETag": tag})
    response = _answer(last_report(ctx.store, scope), allow)
    if tag is not None:
        response.headers["ETag"] = tag
    return response


ETAG_SECONDS: Final = 60
"""How long one ``ETag`` of ``GET /v1/health`` lasts while nothing moves: the statuses that
depend on the time (a certificate's days left) are at most this old in a kept answer."""


def _etag(store: object, scope: Scope, caller: TokenInfo) -> str | None:
    """A weak tag of the answer: the store's counters of what moved (``moves``, read before
    the answer is made, so a write meanwhile only changes the next tag), the scope, who asks
    (the answer is limited to its reach) and the minute; None for a store without counters."""
    moves = getattr(store, "moves", None)
    if moves is None:
        return None
    who = (caller.id, str(caller.role), caller.partner, str(caller.org or ""))
    basis = repr((moves(), scope.to_dict(), who, int(time.time() // ETAG_SECONDS)))
    return 'W/"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"'


@router.post("/v1/health/checks", response_model=HealthReportOut, responses=errors(400, 401, 403, 413, 422, 429, 503))
def run_checks(ctx: Context, caller: Caller, allow: Allow, body: HealthChecksIn | None = None) -> JSONResponse:
    """Check the relays now (one SMTP login each, no mail sent), keep the results and answer them."""
    body = body or HealthChecksIn.model_validate({})
    scope = _scope(allow, Act.HEALTH_CHECK, body.partners, body.orgs)
    ctx.limiter.check(f"{caller.id}:smtp", "SMTP check")
    with ctx.slots.hold(caller.id):
        report = run(ctx, scope, body.concurrency)
    return _answer(report, allow)


def run(ctx: Ctx, scope: Scope, concurrency: int = DEFAULT_CONCURRENCY) -> HealthReport:
    """``check_health`` as the service runs it (its CA file, timeout and relay policy)."""
    report = check_health(
        ctx.store,
        scope,
        concurrency=concurrency,
        timeout_seconds=ctx.config.verify_timeout_seconds,
        ca_file=str(ctx.config.ca_file) if ctx.config.ca_file else None,
        destination=ctx.relays.refusal,
    )
    ctx.metrics.health_changed()
    return report


def _scope(allow: Permit, act: Act, partners: Sequence[str], orgs: Sequence[str]) -> Scope:
    """What the request covers, each part judged (403 beyond the caller's reach)."""
    named_partners = frozenset(partners)
    named_orgs = frozenset(Address.parse(o) for o in orgs)
    if not named_partners and not named_orgs:
        named_partners, named_orgs = own_reach(allow.caller)
    if not named_partners and not named_orgs:
        allow(act)  # everything: only the roles that reach it all get past
    for p in sorted(named_partners):
        allow(act, Address.trusted(p))
    for o in sorted(named_orgs):
        allow(act, o)
    return Scope(named_partners, named_orgs)


def _answer(report: HealthReport, allow: Permit) -> JSONResponse:
    """The report as the caller may see it: its partner's organizations alone, and only the
    records it may read named."""
    partners = reach_partners(allow.caller)
    sources = None
    if partners is not None:
        named = {s for h in report.relays for s in h.relay.sources}
        sources = frozenset(s for s in named if allow.may(Act.READ, s))
    return JSONResponse(report_to_dict(report.limited(partners, sources)))


# ----- the background run ------------------------------------------------------------------


def instance_id() -> str:
    """Who holds the lease: this host and process, and a random part (two applications in one
    process are two instances)."""
    return f"{socket.gethostname()[:64]}/{os.getpid()}/{secrets.token_hex(4)}"


class HealthRunner:
    """``serve --health-interval``: a round every ``interval`` seconds on the event loop, each
    run in a worker thread (it blocks on the store and on SMTP)."""

    def __init__(self, ctx: Ctx, interval: float, holder: str | None = None):
        if interval <= 0:
            raise ValueError("the health interval must be positive")
        self.ctx = ctx
        self.interval = interval
        self.holder = holder or instance_id()
        self.holding = False
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="relay-health")

    async def stop(self, grace: float) -> None:
        """Stop after the round in progress, if any (waited for up to ``grace`` seconds)."""
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            log.warning("relay health: a round still runs after %.0f s; stopping without it", grace)
            self._task.cancel()

    async def _loop(self) -> None:
        assert self._stop is not None
        loop = asyncio.get_running_loop()
        due = loop.time() + min(self.interval, FIRST_ROUND_SECONDS)
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - loop.time()))
                return
            except TimeoutError:
                pass
            due = loop.time() + self.interval  # from start to start: a slow round does not push the next
            await asyncio.to_thread(self.round)

    def round(self) -> str:
        """One round: ``checked`` (this instance held the lease and ran the checks), ``standby``
        (another holds it), ``store_fault`` (skipped: the store did not answer) or ``error``."""
        try:
            outcome = self._round()
        except StoreUnavailable as e:
            log.warning("relay health: round skipped, the store did not answer (%s)", e.fault)
            outcome = "store_fault"
        except SmtpIacError as e:  # its message names addresses and settings, never a password
            log.error("relay health: round failed: %s", e.message)
            outcome = "error"
        except Exception as e:  # noqa: BLE001 - the task outlives any round; the message might hold data
            log.error("relay health: round failed unexpectedly (%s)", type(e).__name__)
            outcome = "error"
        self.ctx.metrics.health_runs.labels(outcome).inc()
        return outcome

    def _round(self) -> str:
        if not self.ctx.store.take_lease(LEASE, self.holder, seconds=2 * self.interval):
            if self.holding:
                log.info("relay health: another instance runs the checks now")
            self.holding = False
            return "standby"
        if not self.holding:
            log.info("relay health: this instance (%s) runs the checks, every %g s", self.holder, self.interval)
        self.holding = True
        started = time.monotonic()
        report = run(self.ctx, EVERYTHING)
        failing = sum(1 for h in report.relays if h.status(report.at) == "failing")
        log.info(
            "relay health: %d relays checked, %d failing, %d organizations without mail (%.1f s)",
            len(report.relays),
            failing,
            report.without_mail(),
            time.monotonic() - started,
        )
        return "checked"
