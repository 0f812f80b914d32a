"""What both Pulumi providers do to the store: one provider's operations, through the one
write path (``planning.write.ScopeWriter``), shared by the dynamic provider (``provider``) and
the native plugin (``native``), so that both behave alike by construction.

An ``Operations`` holds one provider's run-time settings (``RunConfig``, resolved once) and its
verify checks (``VerifyCache``, one per provider and run); the open store is the process's
(``reuse.STORES``). Only ``put``/``remove`` make a store that is not there (create, update);
reads, preview and delete never do. Every refusal is raised as the domain error the write path
audited; a lost compare-and-swap carries ``REFRESH_HINT``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from ..addresses import Address
from ..errors import ConflictError
from ..models import LiveRecord, ResolvedSettings, VerifyOptions
from ..planning.write import ScopeResult, ScopeWrite, ScopeWriter, Verifier
from ..resolve import Resolution
from ..store import Store
from ..store.url import parse_store_url
from ..verify import VerifyResult
from .reuse import STORES, VerifyCache, store_digest
from .runconfig import RunConfig

REFRESH_HINT = (
    "the live record changed since Pulumi last saw it: run `pulumi refresh` to read it, "
    "review the change, then `pulumi up` again"
)


class _Live:
    """``expected=LIVE``: the write replaces whatever version is there now (a create, which
    the ownership rule still guards)."""


LIVE: Final = _Live()
Expected = int | _Live | None
"""The version a write replaces: a number, ``None`` (no record there) or ``LIVE``."""


def written(result: ScopeResult) -> LiveRecord | None:
    """The record a write left, or the error that stopped it, raised the Pulumi way: a lost
    compare-and-swap says how to catch up (refresh, review, up again)."""
    if result.ok:
        return result.record
    err = result.error
    assert err is not None  # every outcome but APPLIED carries its error
    if isinstance(err, ConflictError):
        err.hint = REFRESH_HINT
    raise err


class Operations:
    """One configured provider's work (module docstring)."""

    def __init__(self, run: RunConfig, checks: VerifyCache | None = None):
        self.run = run
        self.checks = checks if checks is not None else VerifyCache()
        self._last: tuple[str, str] | None = None
        """The last store URL used and its ``store_digest`` (every call of a run but the first
        uses the same store: the digest is computed once)."""
        self._last_backend: tuple[str, bool] | None = None
        """The last store URL ``fingerprints_in_memory`` saw and whether it is a database."""

    def _store_of(self, stack_file: str | None) -> tuple[str, str]:
        url = self.run.store_for(stack_file)
        last = self._last
        if last is None or last[0] != url:
            last = self._last = (url, store_digest(url, self.run.store_key, self.run.token))
        return last

    @contextmanager
    def store(self, stack_file: str | None = None, *, create: bool = False) -> Iterator[Store]:
        """The process's open store for the block (``stack_file``: whose ``store:`` applies
        when no store is configured)."""
        run = self.run
        url, digest = self._store_of(stack_file)
        with STORES.use(url, run.store_key, create=create, token=run.token, digest=digest) as store:
            yield store

    def verifier(self, options: VerifyOptions, base_dir: Path) -> Verifier | None:
        """The check to run before a write (none when off), shared with every other resource of
        the run that has the same settings."""
        if options.mode == "off":
            return None
        cache = self.checks

        def verify(address: Address, settings: ResolvedSettings) -> VerifyResult:
            return cache.verify(address, settings, options, base_dir)

        return verify

    # ----- reads ---------------------------------------------------------------------------
    def get(self, address: Address, stack_file: str | None = None) -> LiveRecord | None:
        with self.store(stack_file) as store:
            return store.get(address)

    def fingerprint(self, address: Address, password: str, stack_file: str | None = None) -> str:
        """``password``'s fingerprint under the store's key (what the record keeps)."""
        with self.store(stack_file) as store:
            return store.fingerprint(address, password)

    def fingerprints_in_memory(self, stack_file: str | None = None) -> bool:
        """Whether ``fingerprint`` would take no I/O now: the store is open and is a database
        (a keyed HMAC under a key it holds), not the settings service (an HTTP request)."""
        url, digest = self._store_of(stack_file)
        backend = self._last_backend
        if backend is None or backend[0] != url:
            backend = self._last_backend = (url, parse_store_url(url).backend != "service")
        return backend[1] and STORES.is_open(url, self.run.store_key, token=self.run.token, digest=digest)

    def effective(self, organization: str, stack_file: str | None = None) -> Resolution[LiveRecord]:
        """The settings in force for an organization (any reference ``find_org`` takes)."""
        with self.store(stack_file) as store:
            org = store.find_org(organization)
            return store.effective(org.address)

    # ----- writes --------------------------------------------------------------------------
    def put(
        self,
        address: Address,
        settings: ResolvedSettings,
        *,
        stack: str,
        options: VerifyOptions,
        base_dir: Path,
        expected: Expected = LIVE,
        stack_file: str | None = None,
    ) -> LiveRecord:
        """Verify, then write ``settings`` at ``address`` (compare-and-swap on ``expected``)."""
        with self.store(stack_file, create=True) as store:
            live = store.get(address)
            version = (live.version if live is not None else None) if isinstance(expected, _Live) else expected
            w = ScopeWrite.put(address, settings, version, stack, self.run.adopt, options)
            record = written(ScopeWriter(store).write(w, live, self.verifier(options, base_dir)))
        assert record is not None
        return record

    def remove(
        self, address: Address, *, stack: str, expected: Expected = LIVE, stack_file: str | None = None
    ) -> LiveRecord | None:
        """Remove the override at ``address`` if there is one; the record removed (None: there
        was none). ``LIVE``: whichever version is there (a create); else compare-and-swap."""
        with self.store(stack_file, create=True) as store:
            live = store.get(address)
            if live is None:
                return None
            writer = ScopeWriter(store)
            if isinstance(expected, _Live):
                written(writer.commit(ScopeWrite.remove(address, live.version, stack, self.run.adopt)))
            else:
                written(writer.write(ScopeWrite.remove(address, expected, stack, self.run.adopt), live, None))
        return live

    def release(self, address: Address, *, stack: str, version: int | None, stack_file: str | None = None) -> None:
        """Stop managing ``address``: remove this stack's override only. A record that is gone,
        or that another stack (or someone outside any stack) has taken over, is left alone."""
        with self.store(stack_file) as store:
            live = store.get(address)
            if live is None or live.managed_by != stack:
                return
            written(ScopeWriter(store).commit(ScopeWrite.remove(address, version, stack)))
