"""``/v1/organizations/{org}``: the effective settings an organization gets (and the chain of
tiers behind them), its SMTP switch, and the platform's system e-mail sent through them.

The mailer never receives a password: the service resolves the organization's effective
settings (one consistent read of its tier chain, ``Store.effective``), decrypts the winning
record's password itself and talks to the relay, with the same classified failures as any
check. 202 once the relay accepted the message.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ..access import Act
from ..models import LiveRecord, ResolvedSettings
from ..resolve import Resolution
from ..store import AuditAction
from ..tokens import TokenInfo
from ..verify.message import UnsafeField, build_system_message, from_address
from .bodies import CheckOut, EffectiveOut, MessageIn, MessageOut, StepOut, SwitchIn, SwitchOut
from .context import Context, OrgPath, parse_address
from .fingerprints import ScopeFingerprints
from .permits import Allow, Attempt, Caller
from .problems import Problem
from .records import record_out
from .responses import errors, json_response

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])


@router.get("/{org:path}/effective", response_model=EffectiveOut, responses=errors(401, 403, 404, 503))
async def effective(org: OrgPath, allow: Allow) -> Response:
    """The settings in force for an organization, the address they come from, and the tiers looked at."""
    addr = parse_address(org, org=True)

    def read() -> Resolution[LiveRecord]:
        allow(Act.EFFECTIVE, addr)
        return allow.ctx.store.effective(addr)

    return json_response(effective_out(await allow.read(read), allow.caller, allow.ctx.fingerprints))


def effective_out(res: Resolution[LiveRecord], caller: TokenInfo, fingerprints: ScopeFingerprints) -> EffectiveOut:
    """The answer, built without validation from the resolution's typed fields."""
    return EffectiveOut.model_construct(
        organization=str(res.org),
        smtp_enabled=res.smtp_enabled,
        source=str(res.source) if res.source is not None else None,
        tier=str(res.tier),
        settings=record_out(res.record, caller, fingerprints) if res.record is not None else None,
        chain=[StepOut.model_construct(address=str(s.address), outcome=str(s.outcome)) for s in res.chain],
    )


@router.put(
    "/{org:path}/smtp-enabled", response_model=SwitchOut, responses=errors(400, 401, 403, 404, 413, 422, 429, 503)
)
def smtp_enabled(org: OrgPath, body: SwitchIn, caller: Caller, ctx: Context, allow: Allow) -> SwitchOut:
    """Switch organization-level SMTP on or off (audited)."""
    addr = parse_address(org, org=True)
    allow(Act.SWITCH, addr, audit=Attempt(AuditAction.ENABLE_SMTP if body.enabled else AuditAction.DISABLE_SMTP))
    ctx.store.set_smtp_enabled(addr, body.enabled, actor=caller.actor)
    return SwitchOut(organization=str(addr), smtp_enabled=body.enabled)


@router.post(
    "/{org:path}/messages",
    status_code=202,
    response_model=MessageOut,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 429, 502, 503),
)
def send_message(org: OrgPath, body: MessageIn, caller: Caller, ctx: Context, allow: Allow) -> JSONResponse:
    """Send a system e-mail through the organization's effective settings, From their sender
    (else the username when it is an address). The password never leaves the service."""
    addr = parse_address(org, org=True)
    allow(Act.SEND, addr)
    ctx.limiter.check(f"{caller.id}:smtp", "send")
    res = ctx.store.effective(addr)
    if res.record is None or res.source is None:
        raise Problem(409, "the organization has no effective SMTP settings (no tier has a record)", address=addr)
    rec = res.record
    sender = from_address(None, rec.sender, rec.username)
    if sender is None:
        raise Problem(
            422,
            f"no usable From address: {res.source} has no sender and its username is not a mail address",
            address=res.source,
            hint=f"set a sender on {res.source}",
        )
    try:
        msg = build_system_message(
            kind=body.kind, from_addr=sender, to_addr=body.to, subject=body.subject, text=body.text
        )
    except UnsafeField as e:
        raise Problem(422, str(e), address=res.source) from None
    settings = ResolvedSettings(**rec.public_fields(), password=ctx.store.reveal_password(res.source))
    options = ctx.options("send", body.to)
    ctx.relays.check(settings.host, settings.port, float(options.timeout_seconds))
    with ctx.slots.hold(caller.id):
        result = ctx.check(res.source, settings, options, message=(sender, body.to, msg), password_known=False)
    if not result.ok:
        raise Problem(
            502,
            f"the relay of {res.source} did not take the message ({result.failure}): {result.detail}",
            address=res.source,
            hint=result.advice,
            kind="relay_failed",
            verify=CheckOut.of(result).model_dump(mode="json"),
        )
    out = MessageOut(organization=str(addr), source=str(res.source), accepted=True, detail=result.detail)
    return JSONResponse(out.model_dump(mode="json"), status_code=202)
