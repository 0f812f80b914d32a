"""Fixtures for the workflow tests: a workspace per test (working directory, SQLite store, key
from a key file or SMTP_IAC_STORE_KEY, passwords in env vars) and real SMTP relays on loopback.
Helpers and constants are in ``workflow_helpers``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import smtp_servers  # noqa: E402
from live_service import ServerThread  # noqa: E402
from smtp_servers import ca_file_fixture, ca_fixture  # noqa: E402,F401 (the ca and ca_file fixtures)
from workflow_helpers import (  # noqa: E402
    OTHER_ENV,
    OTHER_PASSWORD,
    PASSWORD,
    PW_ENV,
    USER,
    USER2,
    WRONG_ENV,
    WRONG_PASSWORD,
    Workspace,
)

from smtp_iac.service.app import create_app  # noqa: E402
from smtp_iac.service.config import RateLimit, ServiceConfig  # noqa: E402
from smtp_iac.store import generate_key, open_store  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402


@pytest.fixture(params=["keyfile", "env"])
def key_mode(request) -> str:
    return request.param


def _make_ws(tmp_path: Path, monkeypatch, capsys, key_mode: str) -> Workspace:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    db = tmp_path / "state" / "store.db"
    db.parent.mkdir()
    url = f"sqlite:///{db}"  # absolute path: sqlite:////tmp/...
    monkeypatch.setenv("SMTP_IAC_STORE", url)
    monkeypatch.delenv("SMTP_IAC_DEBUG", raising=False)
    if key_mode == "env":
        monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
    else:
        monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    monkeypatch.setenv(PW_ENV, PASSWORD)
    monkeypatch.setenv(OTHER_ENV, OTHER_PASSWORD)
    monkeypatch.setenv(WRONG_ENV, WRONG_PASSWORD)
    return Workspace(work, db, url, key_mode, capsys)


@pytest.fixture(params=["db", "service"])
def ws(request, tmp_path, monkeypatch, capsys, ca_file):
    """A workspace whose store key is in a key file beside the database; its commands reach the
    store directly (``db``) and, once more, through the settings service (``service``: the real
    service on a loopback port over that database, SMTP_IAC_STORE its URL, SMTP_IAC_TOKEN a
    sysadmin token). Proofs read the database directly either way."""
    w = _make_ws(tmp_path, monkeypatch, capsys, "keyfile")
    if request.param == "db":
        yield w
        return
    with through_service(w, monkeypatch, ca_file):
        yield w


@contextlib.contextmanager
def through_service(w: Workspace, monkeypatch, ca_file: Path) -> Iterator[None]:
    with open_store(w.url) as store:  # made here, as an administrator would, with the first token
        token = new_token(name="pipeline", role=Role.SYSADMIN, now=datetime.now(UTC))
        store.create_token(token, actor="test")
    config = ServiceConfig(
        store_url=w.url,
        ca_file=ca_file,
        allow_unverified=True,  # stacks with verify mode off are the pipeline's choice here
        rate_limit=RateLimit(per_minute=60_000, burst=1000),
    )
    server = ServerThread(create_app(config)).start()
    monkeypatch.setenv("SMTP_IAC_STORE", server.url)
    monkeypatch.setenv("SMTP_IAC_TOKEN", token.text)
    w.via = server.url
    try:
        yield
    finally:
        server.stop()


@pytest.fixture
def ws_any_key(tmp_path, monkeypatch, capsys, key_mode) -> Workspace:
    """A workspace, once with a key file and once with SMTP_IAC_STORE_KEY."""
    return _make_ws(tmp_path, monkeypatch, capsys, key_mode)


# ----- SMTP servers ----------------------------------------------------------------------


@pytest.fixture
def relay(ca):
    """A real STARTTLS relay on loopback: USER logs in with PASSWORD, USER2 with OTHER_PASSWORD."""
    with smtp_servers.smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD, USER2: OTHER_PASSWORD}) as srv:
        yield srv


@pytest.fixture
def closed_port() -> int:
    return smtp_servers.closed_port()
