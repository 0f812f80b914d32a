"""Whether a request may go on, decided in one place: the ``Allow`` dependency gives each route
a ``Permit`` (the caller's token and the service), which turns what the route names (an act, an
address) into nothing or a 403 problem with ``access.decide``'s reason and hint. Routes state
what they need in one line, once the request is read (so a malformed body or address is still
422 or 404 before any 403, as it always was):

    allow(Act.READ, addr)
    allow(Act.WRITE, addr, audit=Attempt(AuditAction.UPDATE, stack))
    scope, where = allow.granted(audit_scope(caller))

The rules, in this order:

- The token's reach is judged first, before anything is looked up, so that no answer (404 or
  403) tells a token what exists beyond its reach.
- Then the SMTP switch, for what an org admin does only while it is on (``access.SWITCHED``) at
  an organization: looked up whoever asks, so an organization the store does not know is 404
  before anything else is looked up or audited. A question about many addresses (``may``: which
  passwords a plan may compare) looks it up only where the answer turns on it, with no 404.
- A refused attempt to write (``audit=``) is audited, charged against the token's budget (past
  it the answer is 429 and nothing is written), at the address tried when it lies within the
  token's reach, else at the token's own scope (``access.recorded_at``).

Who may do what is never decided here: that is ``access``, pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from ..access import SWITCHED, Act, Denied, decide, recorded_at, turns_on_switch
from ..addresses import CONTROLLER, Address
from ..store import AuditAction, AuditOutcome
from ..tokens import TokenInfo
from .auth import Claim, authenticate
from .context import Ctx
from .problems import Problem

T = TypeVar("T")


def forbidden(denied: Denied, address: Address | None) -> Problem:
    """The 403 of a refusal: its reason, the address it was judged at (None: none named), its hint."""
    return Problem(403, denied.reason, address=address, hint=denied.hint)


@dataclass(frozen=True)
class Attempt:
    """How a refused attempt is audited: the write it would have been, and the stack making it
    (None: out of band)."""

    action: AuditAction
    stack: str | None = None


@dataclass(frozen=True)
class Permit:
    """What ``caller`` may do, asked of ``access`` (``allow(act, address)``: nothing, or 403).

    Its answers are given where the route's store work runs: the first one confirms
    that the token is still usable (``auth.Claim``: one store read, 401 if it was revoked), so
    nothing is decided, looked up or audited for a revoked token. An ``async`` route asks its
    checks and point reads together (``read``), never on the event loop when they would wait."""

    caller: TokenInfo
    ctx: Ctx
    claim: Claim | None = None  # None: confirmed by whoever made the permit

    def confirm(self) -> None:
        """401 unless the token is still usable (read once per request)."""
        if self.claim is not None:
            self.claim.confirm(self.ctx.store, self.ctx.tokens)

    async def read(self, work: Callable[[], T]) -> T:
        """``work()``: this permit's checks, then the route's point reads, together
        (``Ctx.read``: on the event loop where they need no wait, else in one hand-off)."""
        return await self.ctx.read(work)

    def __call__(self, act: Act, address: Address = CONTROLLER, *, audit: Attempt | None = None) -> None:
        """403 with the reason unless the caller may ``act`` at ``address`` (``refusal``); with
        ``audit``, the refused attempt is audited first (``record_refusal``)."""
        denied = self.refusal(act, address)
        if denied is None:
            return
        if audit is not None:
            self.record_refusal(address, audit, f"forbidden: {denied.reason}")
        raise forbidden(denied, address)

    def refusal(self, act: Act, address: Address = CONTROLLER) -> Denied | None:
        """Why the caller may not ``act`` at ``address``, or None: its reach first, before
        anything is looked up; the SMTP switch of an organization after, for the acts that
        depend on it (404 for an organization the store does not know)."""
        self.confirm()
        denied = decide(self.caller, act, address)
        if denied is None and address.org and act in SWITCHED:
            denied = decide(self.caller, act, address, smtp_enabled=self.ctx.smtp_enabled(address))
        return denied

    def may(self, act: Act, address: Address) -> bool:
        """Whether the caller may ``act`` at ``address``, as ``refusal`` judges it, but looking the
        switch up only where the answer turns on it (``access.turns_on_switch``: an org admin's
        own organization): asked of many addresses, it costs one lookup at most and answers no 404."""
        self.confirm()
        if decide(self.caller, act, address) is not None:
            return False
        if not turns_on_switch(self.caller, act, address):
            return True
        return decide(self.caller, act, address, smtp_enabled=self.ctx.smtp_enabled(address)) is None

    def granted(self, decision: T | Denied) -> T:
        """What an ``access`` helper grants the caller (the part of the audit log or the partners
        it reads), or 403 with its reason, naming no address."""
        self.confirm()
        if isinstance(decision, Denied):
            raise forbidden(decision, None)
        return decision

    def record_refusal(self, address: Address, attempt: Attempt, why: str) -> None:
        """Audit a refused attempt at ``address``, charged (``Ctx.audited``): past the token's
        budget the answer is 429 and nothing is written. An attempt beyond the token's reach is
        recorded at its own scope (``access.recorded_at``); ``why``, the entry's detail, says
        what was refused and where."""
        self.ctx.audited(self.caller).record_attempt(
            recorded_at(self.caller, address),
            stack=attempt.stack,
            action=attempt.action,
            outcome=AuditOutcome.REFUSED,
            detail=why,
            actor=self.caller.actor,
        )


class Permits(HTTPBearer):
    """The one dependency a route asks (``Allow``): the bearer token (documented as the
    ``HTTPBearer`` security scheme), authenticated (``auth.authenticate``), as a ``Permit``.
    ``async``: making a ``Permit`` does no I/O beyond a token's first read in this process (its
    checks run with the route's own store work)."""

    async def __call__(self, request: Request) -> Permit:  # type: ignore[override]
        claim = await authenticate(request, await super().__call__(request))
        return Permit(claim.info, request.app.state.ctx, claim)


permit = Permits(auto_error=False, scheme_name="HTTPBearer", description="a service token: smtp-iac tokens create")

Allow = Annotated[Permit, Depends(permit)]
"""The one way a route asks whether it may go on (``Permit``)."""


async def caller(allow: Allow) -> TokenInfo:
    """The caller, confirmed usable now (one store read, off the event loop)."""
    if allow.claim is not None and not allow.claim.confirmed:
        await allow.read(allow.confirm)
    return allow.caller


Caller = Annotated[TokenInfo, Depends(caller)]
"""Who is asking, confirmed; what it may do, a route asks ``Allow`` (which confirms the token
itself, in the route's own thread or store hand-off, where a route does not name ``Caller``)."""
