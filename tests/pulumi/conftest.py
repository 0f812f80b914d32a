"""Fixtures for the Pulumi tests: a temporary store with tenants (``store``: SQLite, whose
files the tests can inspect; ``any_store``: SQLite and PostgreSQL, the store pipelines share),
real SMTP servers, and the real dynamic provider host (``python -m pulumi.dynamic``) driven
over gRPC."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for p in (str(_HERE.parent), str(_HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from datetime import UTC, datetime  # noqa: E402

from live_service import ServerThread  # noqa: E402
from pg_support import fresh_schema  # noqa: E402
from pulumi_engine import ProviderHost  # noqa: E402
from pulumi_support import PASSWORD, ROOT, TENANTS, USER, StoreInfo  # noqa: E402
from smtp_servers import ca_file_fixture, ca_fixture, smtp_server  # noqa: E402,F401 (the ca and ca_file fixtures)

from smtp_iac.service.app import create_app  # noqa: E402
from smtp_iac.service.config import RateLimit, ServiceConfig  # noqa: E402
from smtp_iac.store import generate_key  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402


def _with_tenants(info: StoreInfo) -> StoreInfo:
    with info.open() as s:
        s.load_tenants(TENANTS, actor="test")
    return info


def _sqlite_store(tmp_path: Path) -> StoreInfo:
    path = tmp_path / "state" / "store.db"
    path.parent.mkdir()
    return _with_tenants(StoreInfo(f"sqlite:///{path}", generate_key(), path, path.name))


@pytest.fixture
def store(tmp_path: Path) -> StoreInfo:
    return _sqlite_store(tmp_path)


@pytest.fixture(params=["sqlite", "postgres", "service"])
def any_store(request, tmp_path: Path, ca_file: Path):
    """The same tests on both backends, and through the settings service (over SQLite, its
    pipeline holding only a token); the PostgreSQL half skips, saying how, without a server."""
    if request.param == "sqlite":
        yield _sqlite_store(tmp_path)
        return
    if request.param == "service":
        yield from _service_store(tmp_path, ca_file)
        return
    with fresh_schema() as (url, _dsn, schema):
        yield _with_tenants(StoreInfo(url, generate_key(), None, schema))


def _service_store(tmp_path: Path, ca_file: Path):
    db = _sqlite_store(tmp_path)
    store = db.open()
    token = new_token(name="pulumi-prod", role=Role.SYSADMIN, now=datetime.now(UTC))
    store.create_token(token, actor="test")
    config = ServiceConfig(store_url=db.url, ca_file=ca_file, rate_limit=RateLimit(per_minute=60_000, burst=1000))
    server = ServerThread(create_app(config, store)).start()
    try:
        yield StoreInfo(server.url, db.key, db.path, db.marker, direct_url=db.url, token=token.text)
    finally:
        server.stop()
        store.close()


@pytest.fixture
def relay(ca):
    """A STARTTLS relay on loopback that knows ``USER``/``PASSWORD``."""
    with smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}) as srv:
        yield srv


@pytest.fixture
def host(tmp_path: Path):
    """The SDK's dynamic provider host, started as the engine starts it (cwd = project root)."""
    h = ProviderHost(ROOT, tmp_path / "host-stderr.log")
    try:
        yield h
    finally:
        h.close()
