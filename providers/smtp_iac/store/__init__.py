"""The live settings store: records by address, tenants, audit; SQLite or PostgreSQL by URL.

    from smtp_iac.store import open_store, resolve_store_url
    with open_store(resolve_store_url(cli_url, stack.store)) as store:
        snap = store.snapshot()              # every record + tenant, constant number of queries
        snap.effective(Address("acme", "blue"))

Layout: ``protocol`` (``Store``: what the rest of smtp-iac may ask of a store), ``url``
(parse / mask URLs), ``keys`` (Fernet + keyed fingerprints, key file), ``schema`` (portable DDL
as numbered migrations, the tiny dialect layer), ``limits`` (how long a database may make a
store wait; one connection or a pool), ``db`` (transactions and SQL, once; faults that pass),
the parts of ``sql.SqlStore``: ``opening`` (migrations, key check), ``records`` (reads and
compare-and-swap writes), ``tenancy`` (tenants and SMTP switches), ``audit`` (the audit log and
its vocabulary), ``rotation`` (key rotation); ``sqlite`` / ``postgres`` (connections and what
their driver's errors mean; ``pgconnect``: PostgreSQL's connections, pooled or not),
``snapshot`` (Snapshot, Tenants, TenantsChange), ``rows`` (trusted rows to objects, fast),
``tenants_doc`` (the tenants file, checked purely), ``detail`` (what the audit says of a
write), ``tokens`` (service tokens); ``remote`` (``RemoteStore``: the same protocol over the
settings service, for ``https://`` URLs), with ``remote_wire`` (its answers read back) and
``remote_tenants`` (a token's reach, as the planner sees it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import lazy
from ..errors import StoreKeyError, StoreUrlError, UsageError
from .url import DEFAULT_URL, StoreUrl, key_file_path, mask_url, parse_store_url

if TYPE_CHECKING:
    from .audit import AuditAction, AuditEntry, AuditOutcome
    from .keys import ENV_KEY, Keyring, generate_key
    from .limits import Limits
    from .protocol import Administration, DatabaseStore, Directory, RecordStore, Store, Written
    from .snapshot import Snapshot, Tenants, TenantsChange

ENV_STORE = "SMTP_IAC_STORE"

# Imported on first use (PEP 562), not with the package: ``url`` (pure) is all that
# ``stackfile.file_scope`` needs, and ``smtp-iac validate`` must not load cryptography
# (``keys``) or the drivers (tests/test_startup.py).
_LAZY = {
    "AuditAction": "audit",
    "AuditEntry": "audit",
    "AuditOutcome": "audit",
    "ENV_KEY": "keys",
    "Keyring": "keys",
    "generate_key": "keys",
    "Store": "protocol",
    "RecordStore": "protocol",
    "Directory": "protocol",
    "Administration": "protocol",
    "DatabaseStore": "protocol",
    "Written": "protocol",
    "Snapshot": "snapshot",
    "Tenants": "snapshot",
    "TenantsChange": "snapshot",
}


__getattr__ = lazy.names(__name__, _LAZY)


__all__ = [
    "DEFAULT_URL",
    "ENV_KEY",
    "ENV_STORE",
    "Administration",
    "AuditAction",
    "AuditEntry",
    "AuditOutcome",
    "DatabaseStore",
    "Directory",
    "Keyring",
    "RecordStore",
    "Snapshot",
    "Store",
    "StoreUrl",
    "Tenants",
    "TenantsChange",
    "Written",
    "generate_key",
    "mask_url",
    "open_database",
    "open_store",
    "parse_store_url",
    "resolve_store_url",
    "store_files",
]


def resolve_store_url(cli_url: str | None, stack_url: str | None) -> str:
    """SPEC order: ``--store``, then ``SMTP_IAC_STORE``, then the stack's ``store:``, then the default."""
    for candidate in (cli_url, os.environ.get(ENV_STORE), stack_url):
        if candidate and candidate.strip():
            return candidate.strip()
    return DEFAULT_URL


def store_files(url: str) -> tuple[Path, ...]:
    """The local files of the store ``url`` names (none for PostgreSQL or a URL that does not
    parse), without opening it: what a stack file may never name (``filerefs``)."""
    try:
        return parse_store_url(url).local_files
    except StoreUrlError:
        return ()


def open_store(
    url: str, *, key: str | None = None, create: bool = True, token: str | None = None, limits: Limits | None = None
) -> Store:
    """Open (migrating if needed) the store at ``url``; with ``create``, make it if it is not there.

    ``key``: Fernet key list (comma-separated, the first encrypts); default ``SMTP_IAC_STORE_KEY``;
    for sqlite without either, the key file ``<db>.key`` (mode 0600, made on first use).
    ``create=False`` is for commands that only read (SPEC: they never create a store): a URL
    that names no store (no database file; a database without smtp-iac's tables) is a
    ``StoreError`` that says so, and nothing is made, not even a directory or a key file.
    An ``https://`` URL (loopback ``http://``) is the settings service (``remote``), reached
    with ``token`` (default ``SMTP_IAC_TOKEN``); it needs no key and creates nothing.
    ``limits``: how long a database may make the store wait, and whether PostgreSQL
    connections are pooled (``limits.POOLED`` for long-lived processes: the service, the
    Pulumi plugin); default ``limits.ONE_CONNECTION`` (a command's run).
    Raises StoreUrlError, StoreKeyError or StoreError."""
    parsed = parse_store_url(url)
    if parsed.backend == "service":
        from .remote import RemoteStore

        return RemoteStore(parsed.url, token)
    return _open_database(parsed, key=key, create=create, limits=limits)


def open_database(
    url: str, *, purpose: str, key: str | None = None, create: bool = True, limits: Limits | None = None
) -> DatabaseStore:
    """``open_store`` for what only the database itself does (``Administration``: tokens, key
    rotation, the service): a settings-service URL is a ``UsageError`` naming ``purpose``
    before anything is asked of it."""
    parsed = parse_store_url(url)
    if parsed.backend == "service":
        raise UsageError(
            f"{purpose} runs against the store directly, not through the settings service",
            hint="run it where the store's database URL and key are (the platform's administrator CLI)",
        )
    return _open_database(parsed, key=key, create=create, limits=limits)


def _open_database(parsed: StoreUrl, *, key: str | None, create: bool, limits: Limits | None) -> DatabaseStore:
    from .keys import ENV_KEY, create_key_file, keyring_from, load_key_file
    from .limits import ONE_CONNECTION
    from .opening import no_store
    from .sql import SqlStore

    limits = limits or ONE_CONNECTION
    ring = keyring_from(key)
    if parsed.backend == "sqlite":
        from .sqlite import SqliteDb, has_key_check

        path = parsed.path
        assert path is not None
        if not create and not os.path.isfile(path):
            raise no_store(parsed.display, f"there is no database file {path}")
        if ring is None:
            kf = key_file_path(path)
            try:
                ring = load_key_file(kf)
                if ring is None:
                    if os.path.exists(path) and has_key_check(path):
                        raise StoreKeyError(
                            f"the store {parsed.display} holds encrypted passwords but its key file {kf} is missing",
                            hint=f"restore {kf}, or set {ENV_KEY} to the store's key",
                        )
                    if not create:
                        raise no_store(parsed.display, f"{path} holds no smtp-iac store")
                    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                    ring = create_key_file(kf)
            except OSError as e:
                raise StoreKeyError(
                    f"cannot read or make the key file {kf}: {e.strerror or e}",
                    hint=f"check the directory's permissions, or set {ENV_KEY}",
                ) from None
        return SqlStore(SqliteDb(path, ring, parsed.display, limits=limits), create=create)
    from .postgres import PostgresDb

    if ring is None:
        raise StoreKeyError(
            f"a PostgreSQL store needs a key: set {ENV_KEY}",
            hint=f"{ENV_KEY} is a Fernet key (comma-separated list to rotate); every pipeline sharing "
            "this store needs the same key; make one with: python -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())'",
        )
    return SqlStore(PostgresDb(parsed.url, ring, parsed.display, limits=limits), create=create)
