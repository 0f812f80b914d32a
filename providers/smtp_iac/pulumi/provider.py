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
  (``reuse``: what is cached, how it is keyed, thread safety, failures).

``check`` and ``diff`` (what ``pulumi preview`` calls) never open an SMTP connection and never
write; ``diff`` uses the store only to fingerprint the new password with the store's key.
``create``/``update`` run the verify check (shared, ``reuse.VerifyCache``) before the
compare-and-swap write; each scope's write and audit entry are its own.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
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
from ..errors import ConflictError
from ..models import LiveRecord, ResolvedSettings
from ..planning.write import ScopeResult, ScopeWrite, ScopeWriter, Verifier
from ..store import Store
from ..verify import VerifyResult
from . import properties as P
from .reuse import STORES, VerifyCache
from .runconfig import RunConfig

REFRESH_HINT = (
    "the live record changed since Pulumi last saw it: run `pulumi refresh` to read it, "
    "review the change, then `pulumi up` again"
)


def _diff_result(changed: list[str]) -> DiffResult:
    """Changed properties -> the engine's answer: an address change replaces the resource,
    removing the old scope's override before the new one is written."""
    replaces = P.replaces(changed)
    return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True if replaces else None)


def _written(result: ScopeResult) -> LiveRecord | None:
    """The record a write left, or the error that stopped it, raised the Pulumi way: a lost
    compare-and-swap says how to catch up (refresh, review, up again)."""
    if result.ok:
        return result.record
    err = result.error
    assert err is not None  # every outcome but APPLIED carries its error
    if isinstance(err, ConflictError):
        err.hint = REFRESH_HINT
    raise err


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
        self.__dict__["_run"] = RunConfig.resolve(req.config.get)

    # -- run-time settings (``runconfig``: resolved once, in configure) --------------------
    def _run_config(self) -> RunConfig:
        """What ``configure`` resolved; a provider made directly and never configured (tests)
        resolves the environment alone, once."""
        run: RunConfig | None = self.__dict__.get("_run")
        if run is None:
            with _CACHE_LOCK:
                run = self.__dict__.setdefault("_run", RunConfig.resolve(lambda _key: None))
        assert run is not None
        return run

    def _adopting(self) -> bool:
        return self._run_config().adopt

    def _store(self, props: dict[str, Any], *, create: bool = False) -> AbstractContextManager[Store]:
        """The process's open store for the block, made only by create and update (preview,
        refresh and delete never make one)."""
        run = self._run_config()
        return STORES.use(run.store_for(props.get("stack_file")), run.store_key, create=create, token=run.token)

    def _verify_cache(self) -> VerifyCache:
        """This provider's checks, shared by every resource of the run (made on first use:
        the host unpickles providers without calling ``__init__``)."""
        cache: VerifyCache | None = self.__dict__.get("_verify_results")
        if cache is None:
            with _CACHE_LOCK:
                cache = self.__dict__.setdefault("_verify_results", VerifyCache())
        assert cache is not None
        return cache

    def _verifier(self, props: dict[str, Any]) -> Verifier | None:
        """The check to run before a write, with the resource's verify options (none when
        off), shared with every other resource of the run that has the same settings."""
        options = P.verify_options(props)
        if options.mode == "off":
            return None
        base_dir, cache = _base_dir(props), self._verify_cache()

        def verify(address: Address, settings: ResolvedSettings) -> VerifyResult:
            return cache.verify(address, settings, options, base_dir)

        return verify


class SmtpSettingsProvider(_StoreProvider):
    """An override at one scope, owned by one stack."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = P.normalize({k: v for k, v in news.items() if k != "__provider" and v is not None})
        failures = P.check_identity(inputs) + P.check_settings(inputs)
        return CheckResult(inputs, [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = P.normalize(olds), P.normalize(news)

        def fingerprint(password: str) -> str:
            with self._store(olds) as store:
                return store.fingerprint(Address.parse(olds["address"]), password)

        return _diff_result(P.settings_changes(olds, news, fingerprint))

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = P.normalize(props)
        address = Address.parse(props["address"])
        with self._store(props, create=True) as store:
            live = store.get(address)
            expected = live.version if live is not None else None
            settings, adopt = P.resolved_settings(props), self._adopting()
            w = ScopeWrite.put(address, settings, expected, props["stack"], adopt, P.verify_options(props))
            record = _written(ScopeWriter(store).write(w, live, self._verifier(props)))
        assert record is not None
        return CreateResult(str(address), P.settings_outputs(props, record))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = P.normalize(olds), P.normalize(news)
        address = Address.parse(news["address"])
        with self._store(news, create=True) as store:
            live = store.get(address)
            settings, adopt, options = P.resolved_settings(news), self._adopting(), P.verify_options(news)
            w = ScopeWrite.put(address, settings, olds.get("version"), news["stack"], adopt, options)
            record = _written(ScopeWriter(store).write(w, live, self._verifier(news)))
        assert record is not None
        return UpdateResult(P.settings_outputs(news, record))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = P.normalize(props)
        address = Address.parse(props.get("address") or id_)
        with self._store(props) as store:
            record = store.get(address)
        if record is None:
            return ReadResult("", {})
        return ReadResult(id_ or str(address), P.settings_outputs(props, record), P.read_inputs(props, record))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Removes this stack's override only: a record that is gone, or that another stack
        (or someone outside any stack) has taken over since, is left alone."""
        props = P.normalize(props)
        address, stack_name = Address.parse(props["address"]), props["stack"]
        with self._store(props) as store:
            live = store.get(address)
            if live is None or live.managed_by != stack_name:
                return
            _written(ScopeWriter(store).commit(ScopeWrite.remove(address, props.get("version"), stack_name)))


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
        address, stack_name = Address.parse(props["address"]), props["stack"]
        with self._store(props, create=True) as store:
            live = store.get(address)
            if live is not None:
                w = ScopeWrite.remove(address, live.version, stack_name, self._adopting())
                _written(ScopeWriter(store).commit(w))
        return CreateResult(str(address), P.inheritance_outputs(props, None))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = P.normalize(olds), P.normalize(news)
        address, stack_name = Address.parse(news["address"]), news["stack"]
        expected = olds.get("version") if olds.get("override_present") else None
        with self._store(news, create=True) as store:
            live = store.get(address)
            if live is not None:
                w = ScopeWrite.remove(address, expected, stack_name, self._adopting())
                _written(ScopeWriter(store).write(w, live, None))
        return UpdateResult(P.inheritance_outputs(news, None))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = P.normalize(props)
        address = Address.parse(props.get("address") or id_)
        with self._store(props) as store:
            record = store.get(address)
        inputs = {k: props[k] for k in P.IDENTITY_KEYS if k in props}
        return ReadResult(id_ or str(address), P.inheritance_outputs(props, record), inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Stopping to manage an absence changes nothing in the store."""


# ----- helpers ------------------------------------------------------------------------------


def _base_dir(props: dict[str, Any]) -> Path:
    stack_file = props.get("stack_file")
    return (Path.cwd() / stack_file).parent if stack_file else Path.cwd()
