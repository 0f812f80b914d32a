"""Fixtures for the verify tests (and reusable by any test dir that imports them):
a trustme CA, its PEM file, settings/options factories and real SMTP servers on loopback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/smtp_servers.py is shared by several test dirs
    sys.path.insert(0, _TESTS)

import smtp_servers  # noqa: E402
from smtp_servers import ca_file_fixture, ca_fixture  # noqa: E402,F401 (the ca and ca_file fixtures)

from smtp_iac.models import ResolvedSettings, VerifyOptions  # noqa: E402

PASSWORD = smtp_servers.TEST_PASSWORD
USER = smtp_servers.TEST_USER
SENDER = smtp_servers.TEST_SENDER
TO = smtp_servers.TEST_TO
TIMEOUT = 1
MARGIN = 6.0
"""A bound for "finished within the timeout", not a speed claim (CI machines are slow)."""


@pytest.fixture
def bound() -> float:
    """Every check must finish within this (timeout + margin): a bound, not a speed claim."""
    return TIMEOUT + MARGIN


@pytest.fixture
def settings() -> Callable[..., ResolvedSettings]:
    """settings(port, tls_mode="starttls"|"implicit"|"none", **overrides)"""

    def make(port: int, tls_mode: str = "starttls", **kw) -> ResolvedSettings:
        fields = dict(
            host="127.0.0.1",
            port=port,
            tls=tls_mode != "none",
            tls_mode=None if tls_mode == "none" else tls_mode,
            username=USER,
            password=SecretStr(PASSWORD),
            sender=SENDER,
        )
        if "password" in kw and isinstance(kw["password"], str):
            kw["password"] = SecretStr(kw["password"])
        fields.update(kw)
        return ResolvedSettings(**fields)

    return make


@pytest.fixture
def options(ca_file) -> Callable[..., VerifyOptions]:
    """options(mode="send", **overrides); trusts the test CA, 1 s timeout."""

    def make(mode: str = "send", **kw) -> VerifyOptions:
        fields = dict(mode=mode, to=TO, timeout_seconds=TIMEOUT, ca_file=str(ca_file))
        fields.update(kw)
        return VerifyOptions.model_validate(fields)

    return make


def _server(ca, tls: str, **kw):
    return smtp_servers.smtp_server(tls=tls, ca=ca, **kw)


@pytest.fixture
def smtp_server(ca):
    """smtp_server(tls=..., **SmtpServer kwargs) -> context manager; users default to USER/PASSWORD."""

    def make(tls: str = "starttls", **kw):
        return _server(ca, tls, **kw)

    return make


@pytest.fixture
def starttls_server(ca):
    with _server(ca, "starttls") as srv:
        yield srv


@pytest.fixture
def implicit_server(ca):
    with _server(ca, "implicit") as srv:
        yield srv


@pytest.fixture
def plain_server(ca):
    with _server(ca, "none") as srv:
        yield srv
