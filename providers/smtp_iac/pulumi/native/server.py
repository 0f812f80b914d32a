"""``pulumi-resource-smtp-iac``: the plugin process the Pulumi engine starts.

Started as the engine starts any resource plugin (``pulumi-resource-smtp-iac ENGINE_ADDRESS
[--logtostderr] [-v=N] ...``), it serves ``pulumirpc.ResourceProvider`` on a free loopback
port and prints that port alone on the first line of stdout; the engine then drives it over
gRPC. The servicer is the SDK's (``pulumi.provider.experimental.server``), with one change:
an error reaches the engine as one clear message, never a Python traceback (the SDK appends
the traceback to every error's text). A domain error (``SmtpIacError``) keeps its message and
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
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from ... import __version__
from ...errors import ErrorKind, SmtpIacError, StoreUnavailable
from .provider import SmtpIacProvider

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


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and the one message the engine shows for ``exc``."""
    err = domain_error(exc)
    if err is None:
        inner = exc.__context__ or exc
        return grpc.StatusCode.INTERNAL, f"smtp-iac plugin internal error ({type(inner).__name__})"
    if isinstance(err, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(err)
    return STATUS_OF.get(err.kind, grpc.StatusCode.UNKNOWN), str(err)


Handler = Callable[[Any, Any], Awaitable[Any]]


def _guard(name: str, method: Handler) -> Handler:
    async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await method(request, context)
        except NotImplementedError:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not implemented by smtp-iac")
        except Exception as exc:  # noqa: BLE001 - every error becomes one status, here at the edge
            code, message = status_of(exc)
            await context.abort(code, message)

    guarded.__name__ = name
    return guarded


class Servicer(ProviderServicer):
    """The SDK's servicer, each call guarded by ``_guard`` (module docstring)."""

    def __init__(self, provider: SmtpIacProvider, args: list[str], engine_address: str):
        super().__init__(args, __version__, provider, engine_address)
        for name in GUARDED:
            setattr(self, name, _guard(name, getattr(super(), name)))


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
