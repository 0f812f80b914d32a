"""Fixtures of the faults suite: a store key, a real STARTTLS relay and its CA (the service
checks every write over SMTP before writing it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_SERVICE = str(Path(__file__).resolve().parents[1] / "service")
if _SERVICE not in sys.path:
    sys.path.insert(0, _SERVICE)

from service_support import key_fixture, relay_fixture  # noqa: E402,F401
from smtp_servers import ca_fixture, write_ca_file  # noqa: E402,F401


@pytest.fixture
def ca_path(ca, tmp_path) -> Path:
    return write_ca_file(ca, tmp_path)
