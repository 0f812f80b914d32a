"""Fixtures of the service suite: ``svc`` is the real service (uvicorn on a free loopback port)
over a seeded store, once on SQLite and once on PostgreSQL, with a real STARTTLS relay."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from pg_support import fresh_schema  # noqa: E402
from service_support import Svc, key_fixture, relay_fixture, running  # noqa: E402,F401
from smtp_servers import ca_fixture, write_ca_file  # noqa: E402,F401


@contextlib.contextmanager
def backend_url(name: str, tmp_path: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{tmp_path}/db/store.db"
    else:
        with fresh_schema() as (url, _dsn, _schema):
            yield url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path, key) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def ca_path(ca, tmp_path) -> Path:
    return write_ca_file(ca, tmp_path)


@pytest.fixture
def svc(backend, relay, ca_path, caplog) -> Iterator[Svc]:
    caplog.set_level(logging.INFO, logger="smtp_iac")
    with running(backend, relay, ca_path) as s:
        yield s
