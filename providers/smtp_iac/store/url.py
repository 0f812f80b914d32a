"""Store URLs: which backend, where, and how to show the URL without its password.

Accepted forms (SPEC "Store"):

- ``sqlite:///relative/path.db`` (relative to the working directory) and
  ``sqlite:////absolute/path.db``: the embedded store.
- ``postgresql://user[:pw]@host[:port]/db[?libpq-params]`` (``postgres://`` too): the shared
  store. Query parameters go to libpq unchanged, e.g. ``?options=-csearch_path%3Dsmtp`` to
  keep the tables in their own schema, ``?sslmode=require``.
- ``https://host[:port][/prefix]`` (``http://`` to a loopback address only): the settings
  service (``smtp-iac serve``), with a token in ``SMTP_IAC_TOKEN``; the store key never
  leaves the server. Plain HTTP elsewhere would send the token and passwords in clear.

Pure functions: nothing here touches a file or the network.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StoreUrlError

DEFAULT_URL = "sqlite:///.smtp-iac/store.db"
ENV_TOKEN = "SMTP_IAC_TOKEN"
"""Where a token for the settings service is read from when none is given (here, not with the
service's client, so that reading it imports no HTTP client)."""
ACCEPTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, postgresql://user[:password]@host[:port]/database, "
    "https://service[:port] (http:// on loopback only)"
)


@dataclass(frozen=True)
class StoreUrl:
    backend: str  # "sqlite" | "postgresql" | "service"
    url: str  # as given
    path: str | None = None  # sqlite: the database file path (relative or absolute)

    @property
    def display(self) -> str:
        return self.url if self.backend == "sqlite" else mask_url(self.url)

    @property
    def local_files(self) -> tuple[Path, ...]:
        """The files that hold this store or its key on this machine (sqlite: the database, its
        journal files and the key file beside it; PostgreSQL: none). A stack file may never
        make smtp-iac read them (``filerefs``)."""
        if self.path is None:
            return ()
        return tuple(Path(p) for p in (self.path, key_file_path(self.path), *(self.path + s for s in _SIDECARS)))


_SIDECARS = ("-wal", "-shm", "-journal")


def key_file_path(db_path: str) -> str:
    """The key file of a sqlite store without SMTP_IAC_STORE_KEY: beside the database."""
    return db_path + ".key"


def parse_store_url(url: str) -> StoreUrl:
    """Parse a store URL or raise ``StoreUrlError`` naming the accepted forms."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(url, "empty store URL")
    url = url.strip()
    if re.search(r"[\r\n\x00]", url):
        raise _bad(url, "control characters in store URL")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise _bad(url, "not a URL")
    if scheme == "sqlite":
        if not rest.startswith("/"):
            raise _bad(url, "sqlite URLs have no host: use three slashes (sqlite:///file.db)")
        path = rest[1:]
        if "?" in path or "#" in path:
            raise _bad(url, "sqlite URLs take no query or fragment")
        if not path or path.endswith("/"):
            raise _bad(url, "sqlite URL without a database file name")
        if path == ":memory:":
            raise _bad(url, "an in-memory database cannot hold settings between runs")
        return StoreUrl("sqlite", url, path)
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            _ = parts.port  # validates the port
        except ValueError as e:
            raise _bad(url, f"malformed PostgreSQL URL ({e})") from None
        if not parts.hostname and "host=" not in parts.query:
            raise _bad(url, "PostgreSQL URL without a host")
        if not parts.path.strip("/"):
            raise _bad(url, "PostgreSQL URL without a database name")
        return StoreUrl("postgresql", url)
    if scheme in ("https", "http"):
        return _service_url(url, scheme)
    raise _bad(url, f"unsupported store scheme {scheme!r}")


def _service_url(url: str, scheme: str) -> StoreUrl:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as e:
        raise _bad(url, f"malformed service URL ({e})") from None
    host = parts.hostname
    if not host:
        raise _bad(url, "service URL without a host")
    if parts.username or parts.password:
        raise _bad(url, "a service URL carries no credentials: put the token in SMTP_IAC_TOKEN")
    if parts.query or parts.fragment:
        raise _bad(url, "service URLs take no query or fragment")
    if scheme == "http" and not loopback(host):
        raise _bad(url, "plain http:// is allowed to a loopback address only (the token would travel in clear)")
    return StoreUrl("service", url.rstrip("/"))


def loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MASK = "***"
"""What ``mask_url`` writes in place of a password."""


def masked(url: str) -> bool:
    """Whether ``url`` is one ``mask_url`` hid a password in (a plan shows only such URLs: a
    command then takes the store from its own configuration, not from the plan)."""
    return MASK in url


def mask_url(url: str) -> str:
    """The URL with any password (in the user-info or a ``password=`` parameter) replaced by ``MASK``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:" + MASK + "@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _bad(url: object, why: str) -> StoreUrlError:
    shown = mask_url(url) if isinstance(url, str) else repr(url)
    return StoreUrlError(f"invalid store URL {shown!r}: {why}", hint=f"accepted forms: {ACCEPTED}")
