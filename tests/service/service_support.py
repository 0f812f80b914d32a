"""The real service on a free loopback port, for tests: uvicorn serving ``create_app`` in a
thread (or ``smtp-iac serve`` in a process, for the command itself), a store on SQLite or
PostgreSQL with tenants, records and one token per role, and a real aiosmtpd relay (STARTTLS,
trustme certificate) that the records point at."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from live_service import ServerThread
from pydantic import SecretStr
from smtp_servers import TEST_PASSWORD, TEST_SENDER, TEST_USER, SmtpServer, smtp_server

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings
from smtp_iac.service.app import create_app
from smtp_iac.service.config import RateLimit, ServiceConfig
from smtp_iac.store import Store, open_store
from smtp_iac.tokens import Role, new_token

TENANTS = {
    "partners": {
        "acme": {
            "organizations": {
                "blue": {"smtp_enabled": True},
                "green": {"smtp_enabled": False},
            }
        },
        "initech": {"organizations": {"hq": {"smtp_enabled": True}}},
    }
}

CONTROLLER = Address()
ACME = Address("acme")
BLUE = Address("acme", "blue")
GREEN = Address("acme", "green")
INITECH = Address("initech")
HQ = Address("initech", "hq")
ADDRESSES = (CONTROLLER, ACME, BLUE, GREEN, INITECH, HQ)
ORGS = (BLUE, GREEN, HQ)

# name -> (role, partner, org)
TOKENS: dict[str, tuple[Role, str | None, str | None]] = {
    "sysadmin": (Role.SYSADMIN, None, None),
    "partner-admin": (Role.PARTNER_ADMIN, "acme", None),
    "org-admin": (Role.ORG_ADMIN, None, str(BLUE)),
    "org-admin-off": (Role.ORG_ADMIN, None, str(GREEN)),
    "mailer": (Role.MAILER, None, None),
    "viewer": (Role.VIEWER, None, None),
}


def relay_settings(relay: SmtpServer, password: str = TEST_PASSWORD, **kw: Any) -> ResolvedSettings:
    base: dict[str, Any] = dict(
        host="127.0.0.1",
        port=relay.port,
        tls=True,
        username=TEST_USER,
        password=SecretStr(password),
        sender=TEST_SENDER,
    )
    base.update(kw)
    return ResolvedSettings(**base)


def relay_body(relay: SmtpServer, password: str = TEST_PASSWORD, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(
        host="127.0.0.1", port=relay.port, tls=True, username=TEST_USER, password=password, sender=TEST_SENDER
    )
    body.update(kw)
    return body


def seed(store: Store, relay: SmtpServer) -> dict[str, str]:
    """Tenants, a record at the controller, acme, blue and initech, and one token per role."""
    store.load_tenants(TENANTS)
    for address in (CONTROLLER, ACME, BLUE, INITECH):
        store.put(address, relay_settings(relay), expected_version=None, stack=None, actor="seed")
    tokens = {}
    now = datetime.now(UTC)
    for name, (role, partner, org) in TOKENS.items():
        t = new_token(name=name, role=role, partner=partner, org=org, now=now)
        store.create_token(t, actor="seed")
        tokens[name] = t.text
    expired = new_token(name="expired", role=Role.SYSADMIN, now=now - timedelta(days=3), expires_in_days=1)
    store.create_token(expired, actor="seed")
    tokens["expired"] = expired.text
    revoked = new_token(name="revoked", role=Role.SYSADMIN, now=now)
    store.create_token(revoked, actor="seed")
    store.revoke_token(revoked.info.id, actor="seed")
    tokens["revoked"] = revoked.text
    return tokens


@dataclass
class Svc:
    """A running service and what a test needs around it."""

    url: str
    store: Store
    store_url: str
    tokens: dict[str, str]
    relay: SmtpServer
    ca_file: Path
    config: ServiceConfig
    app: Any = None  # the running application (its ``state.ctx``: the service's own store)

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens.get(token, token)}"} if token else {}
        kw.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, **kw)

    def shown(self, address: Address, fingerprint: str | None) -> str | None:
        """A store's fingerprint as the service shows it at ``address`` (bound to the scope)."""
        from smtp_iac.service.fingerprints import KEY_PURPOSE, ScopeFingerprints

        return ScopeFingerprints(self.store.derived_key(KEY_PURPOSE)).shown(address, fingerprint)

    def etag(self, address: Address) -> str:
        record = self.store.get(address)
        assert record is not None
        return f'"{record.version}"'


def config_for(store_url: str, ca_file: Path, **kw: Any) -> ServiceConfig:
    base = ServiceConfig(store_url=store_url, ca_file=ca_file, rate_limit=RateLimit(per_minute=60_000, burst=1000))
    return replace(base, **kw)


def path(address: Address) -> str:
    return str(address)


@contextlib.contextmanager
def running(store_url: str, relay, ca_path: Path, **config) -> Iterator[Svc]:
    store = open_store(store_url)
    tokens = seed(store, relay)
    cfg = config_for(store_url, ca_path, **config)
    app = create_app(cfg)
    server = ServerThread(app).start()
    try:
        yield Svc(server.url, store, store_url, tokens, relay, ca_path, cfg, app)
    finally:
        server.stop()
        store.close()


# Fixtures "key" and "relay" for a test dir's conftest.py (the service and console suites):
# ``from service_support import key_fixture, relay_fixture``


@pytest.fixture(name="key")
def key_fixture(monkeypatch) -> str:
    """A fresh store key in SMTP_IAC_STORE_KEY; no store URL or token from the environment."""
    k = Fernet.generate_key().decode()
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", k)
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    monkeypatch.delenv("SMTP_IAC_TOKEN", raising=False)
    return k


@pytest.fixture(name="relay")
def relay_fixture(ca) -> Iterator[SmtpServer]:
    """A real STARTTLS relay (aiosmtpd) with a certificate of the session's CA."""
    with smtp_server(tls="starttls", ca=ca) as srv:
        yield srv
