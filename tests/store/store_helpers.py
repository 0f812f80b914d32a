"""Shared data and helpers of the store suite (imported by the tests and by conftest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

WORKER = Path(__file__).with_name("store_worker.py")

TENANTS = {
    "partners": {
        "acme": {
            "organizations": {
                "blue": {"smtp_enabled": True},
                "red": {"smtp_enabled": True},
                "green": {"smtp_enabled": False},
            }
        },
        "initech": {"organizations": {"hq": {"smtp_enabled": True}}},
    }
}

CONTROLLER = Address()
ACME = Address("acme")
BLUE = Address("acme", "blue")
RED = Address("acme", "red")
GREEN = Address("acme", "green")
INITECH = Address("initech")
HQ = Address("initech", "hq")


def settings(host: str = "smtp.example.com", password: str = "s3cret-pw", **kw) -> ResolvedSettings:
    base = dict(host=host, port=587, tls=True, username="apikey", password=SecretStr(password))
    base.update(kw)
    return ResolvedSettings(**base)


def run_worker(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )
