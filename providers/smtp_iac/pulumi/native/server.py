"""``pulumi-resource-smtp-iac``: the plugin process the Pulumi engine starts.

Started as the engine starts any resource plugin (``pulumi-resource-smtp-iac ENGINE_ADDRESS
[--logtostderr] [-v=N] ...``), it serves ``pulumirpc.ResourceProvider`` on a free loopback
port and prints that port alone on the first line of stdout; the engine then drives it over
gRPC. The servicer is the SDK's (``pulumi.provider.experimental.server``), with two changes:
``Check`` and ``Diff``, the calls every resource gets on every run, are answered straight from
and to the protobuf messages (``values.plain_struct``/``wire_struct``) instead of through the
SDK's request objects and ``PropertyValue`` maps, with the same answers; and an error reaches
the engine as one clear message, never a Python traceback (the SDK appends the traceback to
every error's text). A domain error (``SmtpIacError``) keeps its message and
hint and gets a gRPC status by its kind, mapped once here; anything else is reported as an
internal error naming its type, and its text never carries secrets from the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime import proto
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from ... import __version__
from ...errors import ErrorKind, SmtpIacError, StoreUnavailable
from .provider import SmtpIacProvider
from .values import plain_struct, wire_struct

STATUS_OF: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.USAGE: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.INVALID_STACK: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.STORE_URL: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.FILE_REFUSED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.UNKNOWN_TENANT: grpc.StatusCode.NOT_FOUND,
    ErrorKind.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.OWNERSHIP: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.FEATURE_DISABLED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.VERIFY_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.STORE_KEY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.SECRET_UNAVAILABLE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
}
"""gRPC status of each kind of domain error; a store fault is UNAVAILABLE, any other UNKNOWN."""

GUARDED = (
    "GetSchema",
    "CheckConfig",
    "DiffConfig",
    "Configure",
    "Check",
    "Diff",
    "Create",
    "Read",
    "Update",
    "Delete",
    "Invoke",
)


def domain_error(exc: BaseException) -> SmtpIacError | None:
    """The domain error behind ``exc`` (the SDK re-raises every error as a new ``Exception``
    with the traceback in its text; the original is its ``__context__``)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SmtpIacError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def status_of(exc: BaseException, *, wrapped: bool = True) -> tuple[grpc.StatusCode, str]:
    """The status and the one message the engine shows for ``exc`` (``wrapped``: raised
    through the SDK's servicer, which wraps the error it got)."""
    err = domain_error(exc)
    if err is None:
        inner = (exc.__context__ or exc) if wrapped else exc
        return grpc.StatusCode.INTERNAL, f"smtp-iac plugin internal error ({type(inner).__name__})"
    if isinstance(err, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(err)
    return STATUS_OF.get(err.kind, grpc.StatusCode.UNKNOWN), str(err)


Handler = Callable[[Any, Any], Awaitable[Any]]


def _guard(name: str, method: Handler, *, wrapped: bool = True) -> Handler:
    async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await method(request, context)
        except NotImplementedError:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not implemented by smtp-iac")
        except Exception as exc:  # noqa: BLE001 - every error becomes one status, here at the edge
            code, message = status_of(exc, wrapped=wrapped)
            await context.abort(code, message)

    guarded.__name__ = name
    return guarded


DIRECT = ("Check", "Diff")
"""Answered by ``Servicer`` itself, not through the SDK's servicer."""


def type_of(urn: str) -> str:
    """The type token in a URN, as the SDK's requests read it."""
    parts = urn.split("::")
    return parts[-2] if len(parts) > 1 else ""


UPDATE = {True: proto.PropertyDiff.UPDATE_REPLACE, False: proto.PropertyDiff.UPDATE}


class Servicer(ProviderServicer):
    """The SDK's servicer, ``Check`` and ``Diff`` answered here, each call guarded by
    ``_guard`` (module docstring)."""

    def __init__(self, provider: SmtpIacProvider, args: list[str], engine_address: str):
        super().__init__(args, __version__, provider, engine_address)
        self._ours = provider
        for name in GUARDED:
            direct = name in DIRECT
            setattr(self, name, _guard(name, getattr(self if direct else super(), name), wrapped=not direct))

    async def Check(self, request: proto.CheckRequest, context: Any) -> proto.CheckResponse:
        plain_struct(request.olds)  # unused, but read as the SDK reads it (a malformed value fails)
        news = plain_struct(request.news)
        inputs, failures = self._ours.checked(type_of(request.urn), request.news.fields, news)
        return proto.CheckResponse(
            inputs=wire_struct(inputs),
            failures=[proto.CheckFailure(property=p, reason=r) for p, r in failures] or None,
        )

    async def Diff(self, request: proto.DiffRequest, context: Any) -> proto.DiffResponse:
        olds, news = plain_struct(request.olds), plain_struct(request.news)
        changed, replaces = await self._ours.changed(
            type_of(request.urn), request.urn, olds, news, request.ignoreChanges
        )
        return proto.DiffResponse(
            replaces=replaces,
            deleteBeforeReplace=bool(replaces),
            changes=proto.DiffResponse.DIFF_SOME if changed else proto.DiffResponse.DIFF_NONE,
            diffs=changed,
            detailedDiff={c: proto.PropertyDiff(kind=UPDATE[c in replaces], inputDiff=True) for c in changed},
            hasDetailedDiff=True,
        )


async def serve(engine_address: str, args: list[str]) -> None:
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(Servicer(SmtpIacProvider(), args, engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.buffer.write(f"{port}\n".encode())
    sys.stdout.buffer.flush()
    await server.wait_for_termination()


def main() -> None:
    """The console script: ``pulumi-resource-smtp-iac ENGINE_ADDRESS [engine flags...]``."""
    from ...cli.app import no_pydantic_plugins

    no_pydantic_plugins()
    args = sys.argv[1:]
    positional = [a for a in args if not a.startswith("-")]
    if not positional:
        sys.stderr.write(
            "usage: pulumi-resource-smtp-iac ENGINE_ADDRESS\n"
            "This is the smtp-iac Pulumi provider plugin; the Pulumi engine starts it.\n"
        )
        sys.exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(positional[0], args))


if __name__ == "__main__":
    main()
