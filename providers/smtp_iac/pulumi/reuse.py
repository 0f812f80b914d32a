"""What the provider host shares between calls: the open store and the verify checks.

The SDK's dynamic provider host (``python -m pulumi.dynamic``) is one process per Pulumi
operation; it keeps one configured provider per ``__provider`` string and serves the engine's
gRPC calls on a thread pool. Before this module every call opened the store and every
create/update opened its own SMTP session; ``smtp-iac apply`` opens one store and one session
per distinct relay and credentials. Here the provider gets the same economy (and the stack
file's ``store:``, when no store is configured, is read once too: ``runconfig.STACK_STORES``):

``STORES`` (process-wide, shared by both provider classes)
    One open store per (store URL, store key), keyed by a keyed digest of both (the key never
    sits in a dict key). The stores are opened with ``limits.POOLED``, as the service's are: a
    PostgreSQL store holds a small pool of connections (the host's 4 threads each get their
    own; a lost one is replaced in the background) under the service's time limits, and a
    SQLite store serializes its one connection, waited for a bounded time (the SMTP check,
    the slow part, runs outside any store transaction). A failed open is not cached: the next call opens
    again, with its own ``create`` (a store that preview, refresh or delete could not find,
    ``create=False``, is still made by the next create or update). An open store is fully
    migrated whichever way it was opened, so one entry serves both. An operation that fails
    with a plain store error (``ErrorKind.STORE``: a database error) retires the entry: the
    next call opens afresh; a passing fault (``StoreUnavailable``: a lost connection, a lock
    past its limit) does not, since the pool recovers by itself. A retired store is closed once its last user is
    done. At most ``MAX_IDLE_STORES`` idle stores are kept (least recently used closed first;
    only test processes ever see more than one). Everything is closed at interpreter exit
    (``atexit``); a host killed by a signal leaves that to the OS (SQLite commits are durable,
    PostgreSQL drops the session when the socket closes).

``VerifyCache`` (one per configured settings provider, i.e. one per host process and run)
    One SMTP check per distinct settings and verify options, like ``verify.batch.verify_many``:
    host (case-insensitive), port, tls, effective TLS mode, username, password, sender, the
    verify options and the directory ``ca_file`` is relative to. The key is an HMAC-SHA256
    under a random per-process secret: the password is never a dict key, never logged.
    Concurrent creates/updates with the same key wait for the one check in flight (a lock per
    key) instead of each opening a session. Failed checks are shared too, for the rest of the
    run: the same relay with the same credentials fails the same way, and ``apply`` shares a
    failure among the scopes of a group the same way; each scope still gets its own
    ``verify_failed`` audit entry, because the shared result goes through ``ScopeWriter``
    per scope. A check that RAISES (an unreadable ``ca_file``: a usage error, before any
    connection) is not cached. The cache lives as long as the provider instance: the host
    keeps one per ``__provider`` string for its whole life (one Pulumi operation), while a
    provider made directly (tests) starts with an empty cache.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..addresses import Address
from ..errors import ErrorKind, SmtpIacError, StoreUnavailable
from ..models import ResolvedSettings, VerifyOptions
from ..store import Store
from ..store.limits import POOLED
from ..verify import VerifyResult

MAX_IDLE_STORES = 8
POOLED_PLUGIN = POOLED.with_pool_size(4)
"""The host serves the engine's calls on 4 threads: a connection each."""

_SECRET = secrets.token_bytes(32)
"""Keys the digests of this process's cache keys (store key, SMTP password)."""


def _digest(*parts: object) -> str:
    text = json.dumps(parts, separators=(",", ":"), default=str)
    return hmac.new(_SECRET, text.encode("utf-8"), hashlib.sha256).hexdigest()


# ----- the store ---------------------------------------------------------------------------


def store_digest(url: str, key: str | None, token: str | None) -> str:
    """What ``STORES`` knows an open store by (a keyed digest: no key or URL as a dict key)."""
    return _digest("store", url, key, token)


@dataclass(eq=False)
class _Entry:
    store: Store
    users: int = 0
    retired: bool = False


Opener = Callable[[str, str | None, bool, str | None], Store]


def _open_store(url: str, key: str | None, create: bool, token: str | None) -> Store:
    from ..store import open_store

    return open_store(url, key=key, create=create, token=token, limits=POOLED_PLUGIN)


class StoreRegistry:
    """Open stores shared by every call of this process (see the module's docstring)."""

    def __init__(self, opener: Opener = _open_store, max_idle: int = MAX_IDLE_STORES):
        self._opener = opener
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._opening: dict[str, threading.Lock] = {}
        self.opened = 0
        """How many stores this registry opened (the proof, for tests, that calls share one)."""

    @contextlib.contextmanager
    def use(
        self, url: str, key: str | None, *, create: bool, token: str | None = None, digest: str | None = None
    ) -> Iterator[Store]:
        """The open store at ``url`` for the duration of the block. ``create``: make it if it
        is not there (create/update), else a missing store is the ``StoreError`` of
        ``open_store(create=False)``. ``digest``: ``store_digest`` of the three, when the
        caller keeps it."""
        digest = digest or store_digest(url, key, token)
        entry = self._acquire(digest, url, key, create, token)
        try:
            yield entry.store
        except SmtpIacError as e:
            if e.kind is ErrorKind.STORE and not isinstance(e, StoreUnavailable):
                self._retire(digest, entry)
            raise
        finally:
            self._release(entry)

    def is_open(self, url: str, key: str | None, *, token: str | None = None, digest: str | None = None) -> bool:
        """Whether the store at ``url`` is open in this process now (using it takes no I/O to
        open it)."""
        digest = digest or store_digest(url, key, token)
        with self._lock:
            return digest in self._entries

    def _take(self, digest: str) -> _Entry | None:
        """The live entry for ``digest``, counted as used; call with ``_lock`` held."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        entry.users += 1
        self._entries.move_to_end(digest)
        return entry

    def _acquire(self, digest: str, url: str, key: str | None, create: bool, token: str | None) -> _Entry:
        with self._lock:
            entry = self._take(digest)
            if entry is not None:
                return entry
            opening = self._opening.setdefault(digest, threading.Lock())
        with opening:  # one open per store at a time; the others wait for it, then reuse it
            with self._lock:
                entry = self._take(digest)
                if entry is not None:
                    return entry
            store = self._opener(url, key, create, token)  # raises: nothing cached, the next call retries
            with self._lock:
                entry = _Entry(store, users=1)
                self._entries[digest] = entry
                self.opened += 1
                evicted = self._trim()
        _close_all(evicted)
        return entry

    def _trim(self) -> list[Store]:
        """Drop the least recently used idle stores beyond ``max_idle``; call with ``_lock``."""
        evicted: list[Store] = []
        for digest, entry in list(self._entries.items()):
            if len(self._entries) <= self._max_idle:
                break
            if entry.users == 0:
                del self._entries[digest]
                evicted.append(entry.store)
        return evicted

    def _retire(self, digest: str, entry: _Entry) -> None:
        with self._lock:
            if self._entries.get(digest) is entry:
                del self._entries[digest]
            entry.retired = True

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            close = entry.retired and entry.users == 0
        if close:
            _close_all([entry.store])

    def close(self) -> None:
        """Close every store (at exit; tests). A later call opens again."""
        with self._lock:
            stores = [e.store for e in self._entries.values()]
            for e in self._entries.values():
                e.retired = True
            self._entries.clear()
        _close_all(stores)

    def open_count(self) -> int:
        with self._lock:
            return len(self._entries)


def _close_all(stores: list[Store]) -> None:
    for store in stores:
        with contextlib.suppress(Exception):
            store.close()


STORES = StoreRegistry()
atexit.register(STORES.close)


# ----- the verify check --------------------------------------------------------------------

Check = Callable[[ResolvedSettings, VerifyOptions, Address, Path], VerifyResult]


def _run_check(settings: ResolvedSettings, options: VerifyOptions, address: Address, base_dir: Path) -> VerifyResult:
    from ..verify import run_check

    return run_check(settings, options, address=address, base_dir=base_dir)


def verify_key(settings: ResolvedSettings, options: VerifyOptions, base_dir: Path) -> str:
    """What makes two scopes' checks the same SMTP conversation, as a keyed digest."""
    return _digest(
        "verify",
        settings.host.strip().lower(),
        settings.port,
        settings.tls,
        settings.effective_tls_mode,
        settings.username,
        settings.password.get_secret_value(),
        settings.sender,
        options.model_dump(mode="json", by_alias=True),
        str(base_dir),
    )


class VerifyCache:
    """One check per distinct settings, shared by every scope of the run (module docstring)."""

    def __init__(self, check: Check = _run_check):
        self._check = check
        self._lock = threading.Lock()
        self._results: dict[str, VerifyResult] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self.checks = 0
        """How many checks actually ran (for tests)."""

    def verify(
        self, address: Address, settings: ResolvedSettings, options: VerifyOptions, base_dir: Path
    ) -> VerifyResult:
        """The check's result for ``address``: the run's shared one, or a fresh check."""
        key = verify_key(settings, options, base_dir)
        with self._lock:
            done = self._results.get(key)
            if done is not None:
                return done.for_address(address)
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a check of the same settings in flight: wait for it
            with self._lock:
                done = self._results.get(key)
            if done is not None:
                return done.for_address(address)
            result = self._check(settings, options, address, base_dir)  # raises: not cached
            with self._lock:
                self._results[key] = result
                self.checks += 1
        return result

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
