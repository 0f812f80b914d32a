"""``SmtpIacProvider``: the native plugin's ``pulumi.provider.experimental.Provider``.

It routes each call by type token to ``settings`` or ``inheritance``, and holds what
``Configure`` gave: the operations (``RunConfig``: store, store key, token, adopt; resolved
once, environment variables where config is absent), the verify options and the owner name.

Calls that touch the store run on a small thread pool (the store and SMTP are blocking I/O;
one thread per pooled connection, ``reuse.POOLED_PLUGIN``); ``Check`` is pure and answers on
the event loop. Errors are raised as the domain's ``SmtpIacError`` and turned into a gRPC
status once, at the edge (``server``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    InvokeRequest,
    InvokeResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pydantic import ValidationError

from ...errors import UsageError
from ...guard import valid_owner
from .. import properties as P
from ..operations import Operations
from ..runconfig import CONFIG_ADOPT, CONFIG_STORE, CONFIG_STORE_KEY, CONFIG_TOKEN, RunConfig
from . import inheritance, settings
from .effective import effective_outputs
from .schema import CONFIG_VARIABLES, GET_EFFECTIVE, INHERITANCE, SETTINGS, SETTINGS_INPUTS, schema_json
from .values import plain, unknown_names, wire, wire_name

T = TypeVar("T")

SCHEMA_TEXT = schema_json()


def owner_of(urn: str) -> str:
    """``pulumi/<project>/<stack>`` from a URN (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
    parts = urn.split("::")
    stack = parts[0].rsplit(":", 1)[-1] if parts else ""
    project = parts[1] if len(parts) > 1 else ""
    return f"pulumi/{project}/{stack}"


def verify_options(raw: Any) -> dict[str, Any] | None:
    """Provider config ``verify``: an object, or its JSON text (config passed as text);
    checked. None when absent."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise UsageError(f"smtp-iac:verify is not valid JSON: {e.msg}") from None
    if not isinstance(raw, dict):
        raise UsageError("smtp-iac:verify must be an object (mode, to, from, timeoutSeconds, caFile)")
    names = {"timeoutSeconds": "timeout_seconds", "caFile": "ca_file"}
    options = {names.get(str(k), str(k)): v for k, v in raw.items()}
    try:
        P.verify_options({"verify": options})
    except (ValidationError, TypeError) as e:
        raise UsageError(f"smtp-iac:verify: {P.pydantic_reason(e)}") from None
    return options


def _owner(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not valid_owner(raw):
        raise UsageError("smtp-iac:owner must be up to 200 letters, digits, '-', '_', '.' and '/'")
    return raw


def _failures(pairs: list[P.Failure]) -> list[CheckFailure]:
    return [CheckFailure(prop, reason) for prop, reason in pairs]


class SmtpIacProvider(Provider):
    """The plugin's provider (module docstring)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp-iac")
        self._ops: Operations | None = None
        self._owner: str | None = None
        self._verify: dict[str, Any] | None = None

    # ----- plumbing ----------------------------------------------------------------------------
    async def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Blocking work (the store, SMTP) on the provider's threads, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def ops(self) -> Operations:
        if self._ops is None:  # the engine configures first; a bare call takes the environment
            self._ops = Operations(RunConfig.resolve(lambda _key: None))
        return self._ops

    def owner(self, urn: str) -> str:
        return self._owner or owner_of(urn)

    def _with_verify(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**inputs, "verify": self._verify} if self._verify is not None else inputs

    # ----- schema and configuration ------------------------------------------------------------
    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=SCHEMA_TEXT)

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        failures = [
            CheckFailure(k, "not a configuration key of smtp-iac")
            for k in unknown_names(request.new_inputs, [*CONFIG_VARIABLES, "version"])
        ]
        news = plain(request.new_inputs)
        for key, check in (("verify", verify_options), ("owner", _owner)):
            try:
                check(news.get(key))
            except UsageError as e:
                failures.append(CheckFailure(key, e.message))
        return CheckResponse(inputs=request.new_inputs, failures=failures)

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        args = plain(request.args)
        text = {k.removeprefix("smtp-iac:"): v for k, v in request.variables.items()}
        config = {**text, **{wire_name(k): v for k, v in args.items()}}
        keys = {CONFIG_STORE: "store", CONFIG_STORE_KEY: "storeKey", CONFIG_TOKEN: "token", CONFIG_ADOPT: "adopt"}
        self._ops = Operations(RunConfig.resolve(lambda key: config.get(keys.get(key, key))))
        self._owner = _owner(config.get("owner"))
        self._verify = verify_options(config.get("verify"))
        return ConfigureResponse(
            accept_secrets=True, supports_preview=True, accept_resources=False, accept_outputs=False
        )

    # ----- resources -------------------------------------------------------------------------
    # ``checked`` and ``changed`` are Check and Diff on plain values: the servicer answers both
    # straight from the protobuf messages (``server``); ``check`` and ``diff`` are the same
    # through the SDK's ``PropertyValue`` requests.
    def checked(self, type_: str, names: Iterable[str], news: dict[str, Any]) -> tuple[dict[str, Any], list[P.Failure]]:
        """Check of ``news`` (plain, ``names``: the wire names sent): the checked inputs and the
        failures (wire names), undeclared inputs first."""
        kind = _kind(type_)
        declared = SETTINGS_INPUTS if kind is settings else ("address",)
        extra = [(k, "not an input of " + type_) for k in unknown_names(names, declared)]
        inputs, failures = kind.check(news)
        return inputs, extra + [(wire_name(prop), reason) for prop, reason in failures]

    async def changed(
        self, type_: str, urn: str, olds: dict[str, Any], news: dict[str, Any], ignore: Iterable[str]
    ) -> tuple[list[str], list[str]]:
        """Diff of the state ``olds`` and the inputs ``news`` (plain): the properties that
        differ and those that replace the resource (wire names)."""
        if _kind(type_) is settings:
            ops, owner = self.ops(), self.owner(urn)
            if ops.fingerprints_in_memory():  # no I/O: answered here, without a thread hop
                changed = settings.changes(ops, owner, olds, news)
            else:
                changed = await self._io(settings.changes, ops, owner, olds, news)
        else:
            changed = inheritance.changes(olds, news)
        ignored = set(ignore)
        changed = [c for c in changed if c not in ignored]
        return [wire_name(c) for c in changed], [wire_name(c) for c in P.replaces(changed)]

    async def check(self, request: CheckRequest) -> CheckResponse:
        inputs, failures = self.checked(request.type, request.new_inputs, plain(request.new_inputs))
        return CheckResponse(inputs=wire(inputs), failures=_failures(failures))

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds, news = plain(request.old_state), plain(request.new_inputs)
        changed, replaces = await self.changed(request.type, request.urn, olds, news, request.ignore_changes)
        update = {True: PropertyDiffKind.UPDATE_REPLACE, False: PropertyDiffKind.UPDATE}
        return DiffResponse(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=bool(replaces),
            diffs=changed,
            detailed_diff={c: PropertyDiff(update[c in replaces], True) for c in changed},
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        inputs, owner = plain(request.properties), self.owner(request.urn)
        if _kind(request.type) is settings:
            if request.preview:
                return CreateResponse("", wire(settings.preview(inputs, owner)))
            outs = await self._io(settings.write, self.ops(), owner, self._with_verify(inputs))
        else:
            if request.preview:
                return CreateResponse("", wire(inheritance.preview(inputs)))
            outs = await self._io(inheritance.remove, self.ops(), owner, inputs)
        return CreateResponse(str(outs["address"]), wire(outs))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        olds, news, owner = plain(request.olds), plain(request.news), self.owner(request.urn)
        if _kind(request.type) is settings:
            if request.preview:
                return UpdateResponse(wire(settings.preview(news, owner, olds)))
            outs = await self._io(
                settings.write, self.ops(), owner, self._with_verify(news), expected=olds.get("version")
            )
        else:
            if request.preview:
                return UpdateResponse(wire({**olds, **inheritance.preview(news)}))
            outs = await self._io(inheritance.remove, self.ops(), owner, news, olds)
        return UpdateResponse(wire(outs))

    async def read(self, request: ReadRequest) -> ReadResponse:
        state, kind = plain(request.properties), _kind(request.type)
        if kind is settings and not state:
            id_, outs, inputs = await self._io(settings.adopt, self.ops(), request.resource_id)
        else:
            id_, outs, inputs = await self._io(kind.refresh, self.ops(), request.resource_id, state)
        return ReadResponse(id_ or None, wire(outs), wire(inputs))

    async def delete(self, request: DeleteRequest) -> None:
        if _kind(request.type) is settings:
            await self._io(settings.delete, self.ops(), self.owner(request.urn), plain(request.properties))

    # ----- functions -------------------------------------------------------------------------
    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        if request.tok != GET_EFFECTIVE:
            raise UsageError(f"smtp-iac has no function {request.tok!r} (it has {GET_EFFECTIVE})")
        args = plain(request.args)
        organization = args.get("organization")
        if not isinstance(organization, str) or not organization:
            return InvokeResponse(failures=[CheckFailure("organization", "missing required argument")])
        resolution = await self._io(self.ops().effective, organization)
        return InvokeResponse(return_value=wire(effective_outputs(resolution), secret=()))


def _kind(type_: str) -> Any:
    """The module that handles a resource type."""
    if type_ == SETTINGS:
        return settings
    if type_ == INHERITANCE:
        return inheritance
    raise UsageError(f"smtp-iac has no resource type {type_!r} (it has {SETTINGS} and {INHERITANCE})")
