"""What the provider reads at run time, resolved once per host process: the store URL, the
store key, the service token and the adopt switch.

``RunConfig.resolve`` runs once per provider, in ``configure`` (the host configures each
provider once, with the stack's whole config): stack config first (``smtp-iac:store``, secret
``smtp-iac:storeKey``, secret ``smtp-iac:token``, ``smtp-iac:adopt``), then the environment
(``SMTP_IAC_STORE``, ``SMTP_IAC_STORE_KEY``, ``SMTP_IAC_TOKEN``, ``SMTP_IAC_ADOPT``). The store
URL's order is the CLI's, written once in ``store.resolve_store_url`` with config
``smtp-iac:store`` in the place of ``--store``: config, ``SMTP_IAC_STORE``, the stack file's
``store:``, the default.

When neither config nor environment names a store, each call's stack file (its ``stack_file``
input, relative to the working directory) decides: ``STACK_STORES`` reads and validates a
stack file once per process per version of the file (its path and its ``os.stat`` identity:
inode, size, modification and change times), so hundreds of calls read it once and an edited
file is read again. A stack file is read only when its turn comes: with an explicit store,
``pulumi destroy`` needs no stack file at all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from ..store import ENV_KEY, ENV_STORE, resolve_store_url

CONFIG_STORE = "smtp-iac:store"
CONFIG_STORE_KEY = "smtp-iac:storeKey"
CONFIG_TOKEN = "smtp-iac:token"
CONFIG_ADOPT = "smtp-iac:adopt"
ENV_ADOPT = "SMTP_IAC_ADOPT"

_STACK_TURN = "\x00the stack file's store:"
"""Stands in for the stack file's ``store:`` when ``resolve_store_url`` is asked before any
stack file is read: it wins only when no explicit store is set. Never a store URL (NUL)."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class RunConfig:
    """One provider's run-time settings. ``store_url`` is None when no explicit store is set
    (config or environment): each call's stack file decides then (``store_for``)."""

    store_url: str | None = None
    store_key: str | None = None
    token: str | None = None
    adopt: bool = False

    @classmethod
    def resolve(cls, config: Callable[[str], Any]) -> RunConfig:
        """Stack config (``config``: a key's value or None), else the environment."""
        from ..store.url import ENV_TOKEN

        url = resolve_store_url(_text(config(CONFIG_STORE)), _STACK_TURN)
        adopt = config(CONFIG_ADOPT)
        return cls(
            store_url=None if url == _STACK_TURN else url,
            store_key=_text(config(CONFIG_STORE_KEY)) or os.environ.get(ENV_KEY) or None,
            token=_text(config(CONFIG_TOKEN)) or os.environ.get(ENV_TOKEN) or None,
            adopt=_truthy(adopt if adopt is not None else os.environ.get(ENV_ADOPT)),
        )

    def store_for(self, stack_file: Any) -> str:
        """The store URL of a call whose resource came from ``stack_file``: the explicit store,
        else the stack file's ``store:`` (``STACK_STORES``), else the default."""
        if self.store_url is not None:
            return self.store_url
        return resolve_store_url(None, STACK_STORES.store_of(str(stack_file)) if stack_file else None)


# ----- the stack file's store: -------------------------------------------------------------

Signature = tuple[int, int, int, int]
Reader = Callable[[str], "str | None"]


def read_store_line(stack_file: str) -> str | None:
    """The ``store:`` of the stack file at ``stack_file``. A named file that does not load is a
    ``StoreError`` rather than a silent fall back to the default store."""
    from ..reading.stackfile import read

    loaded, diags = read(stack_file)
    if loaded is None:
        first = diags[0].format() if diags else stack_file
        raise StoreError(
            f"cannot tell which store to use: the stack file {stack_file} does not load ({first})",
            hint=f"set `pulumi config set {CONFIG_STORE} URL` (or {ENV_STORE}) for this stack",
        )
    return loaded.stack.store


def _signature(path: str) -> Signature | None:
    """What tells one version of a file from the next without reading it (None: no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StackStores:
    """Each stack file's ``store:``, read once per process per version of the file (module
    docstring). A file that does not load is not kept: the next call reads it again. Reads are
    serialized (the host serves calls on 4 threads; the first read serves them all)."""

    def __init__(self, reader: Reader = read_store_line):
        self._reader = reader
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._seen: dict[str, tuple[Signature, str | None]] = {}
        self.reads = 0
        """How many times a stack file was read (the proof, for tests, that calls share one)."""

    def _known(self, path: str, signature: Signature | None) -> tuple[bool, str | None]:
        with self._lock:
            seen = self._seen.get(path)
        if seen is None or signature is None or seen[0] != signature:
            return False, None
        return True, seen[1]

    def store_of(self, stack_file: str) -> str | None:
        """The ``store:`` of ``stack_file`` (relative to the working directory)."""
        path = os.path.abspath(stack_file)
        signature = _signature(path)
        known, store = self._known(path, signature)
        if known:
            return store
        with self._reading:
            known, store = self._known(path, signature)  # read by another thread meanwhile
            if known:
                return store
            with self._lock:
                self.reads += 1
            store = self._reader(stack_file)  # raises: nothing kept
            with self._lock:
                if signature is not None:
                    self._seen[path] = (signature, store)
        return store

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


STACK_STORES = StackStores()
