"""``/v1/scopes/{address}``: read, write (verified first) and remove a scope's record, and the
platform's Send Test Email for it.

Writes go through ``write.ScopeWriter`` as every writer's do: refuse early (version moved,
another stack's scope) -> verify -> compare-and-swap -> audit, with the token's name and role
as the actor. A write names its stack with ``?stack=NAME`` (pipelines, which then own the
scope, as with a database store) or none (a person in the console: out of band, the scope's
owner is kept, so its stack sees the change as drift). A refused attempt (403) is audited too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import WithJsonSchema

from ..access import Act
from ..addresses import Address
from ..errors import ConflictError
from ..guard import OWNER_PATTERN
from ..models import LiveRecord, ResolvedSettings
from ..planning.write import Outcome, ScopeResult, ScopeWrite
from ..store import AuditAction, AuditOutcome
from ..verify import VerifyResult
from ..verify.message import UnsafeField, check_address, from_address
from .bodies import CheckOut, PutIn, PutOut, RecordOut, TestEmailIn
from .context import AddressPath, Context, parse_address
from .permits import Allow, Attempt, Caller
from .problems import Problem
from .records import checked_settings, etag, precondition, record_out
from .responses import ETAG, RECORD_LINKS, REQUIRED, errors, json_response

router = APIRouter(prefix="/v1/scopes", tags=["scopes"])

StackQuery = Query(
    min_length=1,
    max_length=200,
    pattern=OWNER_PATTERN,
    description="the stack making the write (it then manages the scope): a stack name, or a Pulumi owner "
    "such as pulumi/<project>/<stack>; none: a write out of band",
)
StackName = Annotated[str | None, StackQuery]
_IF_MATCH = {
    "type": "string",
    "pattern": r'^"[0-9]{1,18}"$',
    "description": 'the version the write expects, as GET\'s ETag gives it ("3"); any other tag matches no '
    "version (412)",
}
IfMatch = Annotated[str | None, Header(), WithJsonSchema(_IF_MATCH)]
IfMatchRequired = Annotated[str | None, Header(), WithJsonSchema({**_IF_MATCH, REQUIRED: True})]
"""Required, but checked by the route (428 without it, as RFC 6585 has it), not by FastAPI (422)."""
IfNoneMatch = Annotated[
    str | None,
    Header(),
    WithJsonSchema({"type": "string", "pattern": r"^\*$", "description": "*: create, the scope must have no record"}),
]


@router.post(
    "/{address:path}/test-email", response_model=CheckOut, responses=errors(400, 401, 403, 404, 413, 422, 429, 503)
)
def test_email(
    address: AddressPath, caller: Caller, ctx: Context, allow: Allow, body: TestEmailIn | None = None
) -> CheckOut:
    """The platform's Send Test Email: log in with the body's settings, or the scope's stored ones,
    and with ``to`` also send a test message there. Writes nothing."""
    addr = parse_address(address)
    body = body or TestEmailIn()
    allow(Act.TEST, addr)
    if body.settings is not None:
        live = ctx.store.get(addr) if body.settings.password is None else None
        version = live.version if live is not None else None
        # the password of the very record the relay was compared with (412 if it moved since)
        settings, _ = checked_settings(
            body.settings, "settings.", live, lambda: ctx.store.reveal_password(addr, version=version)
        )
    else:
        live = ctx.store.get(addr)
        if live is None:
            raise Problem(404, "no record at this scope: send settings to test", address=addr)
        settings = ResolvedSettings(**live.public_fields(), password=ctx.store.reveal_password(addr))
    if body.to is not None:
        _sendable(addr, body.to, body.from_, settings)
    ctx.limiter.check(f"{caller.id}:smtp", "SMTP check")
    options = ctx.options("send" if body.to else "login", body.to, body.from_, body.timeout_seconds)
    ctx.relays.check(settings.host, settings.port, float(options.timeout_seconds))
    known = body.settings is not None and body.settings.password is not None
    with ctx.slots.hold(caller.id):
        result = ctx.check(addr, settings, options, password_known=known)
    return CheckOut.of(result)


def _sendable(addr: Address, to: str, from_: str | None, settings: ResolvedSettings, field: str = "from") -> None:
    """422 before any connection when the test message has no usable From, or an address
    that cannot be a header (SPEC: test-email); a write checked in mode ``send`` alike."""
    sender = from_address(from_, settings.sender, settings.username)
    if sender is None:
        raise Problem(
            422,
            "no usable From address for the test message: the settings have no sender and their "
            "username is not a mail address; nothing was sent",
            address=addr,
            hint=f'give the test message a From address ("{field}"), or set the sender of these settings',
            kind="no_sender",
        )
    try:
        check_address("from", sender)
        check_address("to", to)
    except UnsafeField as e:
        raise Problem(422, f"{e}; nothing was sent", address=addr) from None


@router.post("/{address:path}/release", response_model=RecordOut, responses=errors(401, 403, 404, 422, 429, 503))
def release(
    address: AddressPath, caller: Caller, ctx: Context, allow: Allow, stack: Annotated[str, StackQuery]
) -> RecordOut:
    """``smtp-iac release``: the stack stops managing the scope; the record stays."""
    addr = parse_address(address)
    allow(Act.WRITE, addr, audit=Attempt(AuditAction.RELEASE, stack))
    return record_out(ctx.store.release(addr, stack=stack, actor=caller.actor), caller, ctx.fingerprints)


@router.get(
    "/{address:path}",
    response_model=RecordOut,
    responses=errors(
        401, 403, 404, 503, also={200: {"description": "the record", "headers": ETAG, "links": RECORD_LINKS}}
    ),
)
async def get_scope(address: AddressPath, allow: Allow) -> Response:
    """A scope's record (never its password); ``ETag`` is its version."""
    addr = parse_address(address)

    def read() -> LiveRecord | None:
        allow(Act.READ, addr)
        return allow.ctx.store.get(addr)

    record = await allow.read(read)
    if record is None:
        raise Problem(404, "no record at this scope (it inherits)", address=addr)
    body = record_out(record, allow.caller, allow.ctx.fingerprints)
    return json_response(body, headers={"ETag": etag(record.version)})


@router.put(
    "/{address:path}",
    response_model=PutOut,
    status_code=200,
    responses=errors(
        400,
        401,
        403,
        404,
        409,
        412,
        413,
        422,
        428,
        429,
        503,
        also={
            200: {"description": "replaced", "headers": ETAG, "links": RECORD_LINKS},
            201: {"model": PutOut, "description": "created", "headers": ETAG, "links": RECORD_LINKS},
        },
    ),
)
async def put_scope(
    address: AddressPath,
    body: PutIn,
    allow: Allow,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    stack: StackName = None,
    adopt: bool = False,
) -> Response:
    """Create (``If-None-Match: *``) or replace (``If-Match: "<version>"``) a scope's record;
    verified first, written only if the check passes."""
    caller, ctx = allow.caller, allow.ctx
    addr = parse_address(address)
    attempt = Attempt(AuditAction.CREATE if if_none_match is not None else AuditAction.UPDATE, stack)

    def prepare() -> tuple[int | None, LiveRecord | None, ResolvedSettings, list[dict[str, str]]]:
        allow(Act.WRITE, addr, audit=attempt)
        expected = precondition(if_match, if_none_match, addr)
        live = ctx.store.get(addr)
        try:  # a kept password is that of the version the write expects: 412 (audited) if it moved
            settings, warnings = checked_settings(
                body,
                "",
                live if expected is not None else None,
                lambda: ctx.store.reveal_password(addr, version=expected),
            )
        except ConflictError as e:
            ctx.audited(caller).record_attempt(
                addr,
                stack=stack,
                action=attempt.action,
                outcome=AuditOutcome.CONFLICT,
                detail=e.message,
                actor=caller.actor,
            )
            raise
        return expected, live, settings, warnings

    expected, live, settings, warnings = await allow.read(prepare)
    verify = body.verify
    mode = verify.mode if verify is not None else "login"
    if mode == "off" and not ctx.config.allow_unverified:
        raise Problem(
            403,
            "this service checks every write: verify mode off is not allowed",
            address=addr,
            hint="drop verify.mode off (or start the service with --allow-unverified)",
        )
    if verify is not None and verify.mode == "send" and verify.to is not None:
        _sendable(addr, verify.to, verify.from_, settings, "verify.from")
    options = ctx.options(mode, *((verify.to, verify.from_, verify.timeout_seconds) if verify else ()))
    w = ScopeWrite.put(addr, settings, expected, stack, adopt)

    def verified(a: Address, s: ResolvedSettings) -> VerifyResult:
        def run() -> VerifyResult:  # a check that runs counts against the rate limit; a reused one does not
            ctx.limiter.check(f"{caller.id}:smtp", "SMTP check")
            return ctx.check(a, s, options, password_known=body.password is not None)

        with ctx.slots.hold(caller.id):  # waiting for an identical check in flight holds a slot too
            return ctx.checks.check(a, s, options, run)

    def write() -> ScopeResult:
        if mode != "off":
            try:
                ctx.relays.check(settings.host, settings.port, float(options.timeout_seconds))
            except Problem as p:
                allow.record_refusal(addr, attempt, f"forbidden: {p.detail}")
                raise
        return ctx.writer(caller).write(w, live, verified)

    # unverified, the write alone: a store thread; a check talks to a relay for seconds: a worker thread
    result = await (ctx.threads.run(write) if mode == "off" else run_in_threadpool(write))
    _raise_unless_applied(result)
    assert result.record is not None
    outcome = CheckOut.of(result.verify) if result.verify is not None else None
    record = record_out(result.record, caller, ctx.fingerprints)
    out = PutOut.model_validate({"record": record, "verify": outcome, "warnings": warnings})
    return json_response(out, 201 if live is None else 200, {"ETag": etag(result.record.version)})


@router.delete("/{address:path}", status_code=204, responses=errors(401, 403, 404, 409, 412, 422, 428, 429, 503))
def delete_scope(
    address: AddressPath,
    caller: Caller,
    ctx: Context,
    allow: Allow,
    if_match: IfMatchRequired = None,
    stack: StackName = None,
    adopt: bool = False,
) -> Response:
    """Remove a scope's override (it then inherits); ``If-Match`` required."""
    addr = parse_address(address)
    allow(Act.WRITE, addr, audit=Attempt(AuditAction.DELETE, stack))
    expected = precondition(if_match, None, addr)
    live = ctx.store.get(addr)
    if live is None:
        raise Problem(412, "there is no record at this scope to remove", address=addr, kind="conflict")
    result = ctx.writer(caller).write(ScopeWrite.remove(addr, expected, stack, adopt), live, None)
    _raise_unless_applied(result)
    return Response(status_code=204)


def _raise_unless_applied(result: ScopeResult) -> None:
    if result.outcome is Outcome.APPLIED:
        return
    if result.outcome is Outcome.VERIFY_FAILED:
        assert result.verify is not None
        raise Problem(
            422,
            result.message,
            address=result.address,
            hint=result.hint,
            kind="verify_failed",
            verify=CheckOut.of(result.verify).model_dump(mode="json"),
        )
    assert result.error is not None
    raise result.error  # as any store error: problems.install answers it (and keeps tenants apart)
