"""The dynamic providers: ``SmtpSettingsProvider`` and ``SmtpInheritanceProvider``.

Stateless. The SDK pickles a provider instance (with dill) into every resource's
``__provider`` property, which lands in the Pulumi state; the provider host
(``python -m pulumi.dynamic``) unpickles it, calls ``configure`` once with the stack's whole
config, then the CRUD methods. So:

- nothing is captured at pickling time: ``__getstate__`` returns an empty dict, and the
  classes live in this importable module, so dill pickles them BY REFERENCE (the host imports
  ``smtp_iac.pulumi.provider`` by name: from the project root, its working directory, or
  from the installed package);
- the store URL, the store key, the service token and the adopt switch are resolved once, in
  ``configure`` (``runconfig``), from stack config (``smtp-iac:store``, secret
  ``smtp-iac:storeKey``, secret ``smtp-iac:token`` for an ``https://`` store, the settings
  service, ``smtp-iac:adopt``), falling back to ``SMTP_IAC_STORE`` / ``SMTP_IAC_STORE_KEY`` /
  ``SMTP_IAC_TOKEN`` / ``SMTP_IAC_ADOPT``, then to the stack file's ``store:`` (the
  ``stack_file`` input names it; read once per process per version of the file), then to the
  default sqlite store;
- the store is opened once per host process (per store URL and key) and shared by every call
  and both provider classes, and each distinct relay + credentials is checked once per run
  (``reuse``: what is cached, how it is keyed, thread safety, failures);
- the work itself is ``operations.Operations``, which the native plugin shares.

``check`` and ``diff`` (what ``pulumi preview`` calls) never open an SMTP connection and never
write; ``diff`` uses the store only to fingerprint the new password with the store's key.
``create``/``update`` run the verify check (shared, ``reuse.VerifyCache``) before the
compare-and-swap write; each scope's write and audit entry are its own.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from ..addresses import Address
from . import properties as P
from .operations import LIVE, REFRESH_HINT, Expected, Operations
from .runconfig import RunConfig

__all__ = ["REFRESH_HINT", "SmtpInheritanceProvider", "SmtpSettingsProvider"]


def _diff_result(changed: list[str]) -> DiffResult:
    """Changed properties -> the engine's answer: an address change replaces the resource,
    removing the old scope's override before the new one is written."""
    replaces = P.replaces(changed)
    return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True if replaces else None)


_CACHE_LOCK = threading.Lock()


class _StoreProvider(ResourceProvider):
    """Common part: configuration read at run time, the process's shared store."""

    def __init__(self) -> None:
        super().__init__()

    # -- pickling: nothing of the run time goes into ``__provider`` -----------------------
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    def configure(self, req: ConfigureRequest) -> None:
        self.__dict__["_operations"] = Operations(RunConfig.resolve(req.config.get))

    def _ops(self) -> Operations:
        """What ``configure`` made (the run's config and checks); a provider made directly and
        never configured (tests) resolves the environment alone, once. Made on first use: the
        host unpickles providers without calling ``__init__``."""
        ops: Operations | None = self.__dict__.get("_operations")
        if ops is None:
            with _CACHE_LOCK:
                ops = self.__dict__.setdefault("_operations", Operations(RunConfig.resolve(lambda _key: None)))
        assert ops is not None
        return ops


class SmtpSettingsProvider(_StoreProvider):
    """An override at one scope, owned by one stack."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = P.normalize({k: v for k, v in news.items() if k != "__provider" and v is not None})
        failures = P.check_identity(inputs) + P.check_settings(inputs)
        return CheckResult(inputs, [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = P.normalize(olds), P.normalize(news)
        address = Address.parse(olds["address"])

        def fingerprint(password: str) -> str:
            return self._ops().fingerprint(address, password, olds.get("stack_file"))

        return _diff_result(P.settings_changes(olds, news, fingerprint))

    def _put(self, props: dict[str, Any], expected: Expected = LIVE) -> dict[str, Any]:
        record = self._ops().put(
            Address.parse(props["address"]),
            P.resolved_settings(props),
            stack=props["stack"],
            options=P.verify_options(props),
            base_dir=_base_dir(props),
            stack_file=props.get("stack_file"),
            expected=expected,
        )
        return P.settings_outputs(props, record)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = P.normalize(props)
        return CreateResult(str(Address.parse(props["address"])), self._put(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = P.normalize(olds), P.normalize(news)
        return UpdateResult(self._put(news, expected=olds.get("version")))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = P.normalize(props)
        record = self._ops().get(Address.parse(props.get("address") or id_), props.get("stack_file"))
        if record is None:
            return ReadResult("", {})
        return ReadResult(id_ or str(record.address), P.settings_outputs(props, record), P.read_inputs(props, record))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Removes this stack's override only (``Operations.release``)."""
        props = P.normalize(props)
        address = Address.parse(props["address"])
        self._ops().release(
            address, stack=props["stack"], version=props.get("version"), stack_file=props.get("stack_file")
        )


class SmtpInheritanceProvider(_StoreProvider):
    """The ABSENCE of an override at one scope: create/update remove one, read reports one
    that appeared, delete leaves the scope as it is."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = P.normalize({k: v for k, v in news.items() if k != "__provider" and v is not None})
        failures = P.check_identity(inputs)
        return CheckResult(inputs, [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = P.inheritance_changes(P.normalize(olds), P.normalize(news))
        return _diff_result(changed)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = P.normalize(props)
        address = Address.parse(props["address"])
        self._ops().remove(address, stack=props["stack"], stack_file=props.get("stack_file"))
        return CreateResult(str(address), P.inheritance_outputs(props, None))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = P.normalize(olds), P.normalize(news)
        expected = olds.get("version") if olds.get("override_present") else None
        address = Address.parse(news["address"])
        self._ops().remove(address, stack=news["stack"], expected=expected, stack_file=news.get("stack_file"))
        return UpdateResult(P.inheritance_outputs(news, None))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = P.normalize(props)
        address = Address.parse(props.get("address") or id_)
        record = self._ops().get(address, props.get("stack_file"))
        inputs = {k: props[k] for k in P.IDENTITY_KEYS if k in props}
        return ReadResult(id_ or str(address), P.inheritance_outputs(props, record), inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Stopping to manage an absence changes nothing in the store."""


# ----- helpers ------------------------------------------------------------------------------


def _base_dir(props: dict[str, Any]) -> Path:
    stack_file = props.get("stack_file")
    return (Path.cwd() / stack_file).parent if stack_file else Path.cwd()
