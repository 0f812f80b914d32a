"""Helpers of the relay health tests (imported by the tests and by conftest): a ``World`` is one
test's store (SQLite or PostgreSQL), its tenants and records written directly as an
administrator would, and the real CLI run in-process with every output kept (for the
password searches)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/smtp_servers.py is shared by several test dirs
    sys.path.insert(0, _TESTS)

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.cli.app import run  # noqa: E402
from smtp_iac.models import ResolvedSettings  # noqa: E402
from smtp_iac.store import DatabaseStore, open_database  # noqa: E402

USER = "health-user"
PASSWORD = "hl-Plain-Secret-41c7e!never-shown"
"""What the relays accept; searched for in every output and in the database file."""
WRONG = "hl-Wrong-Secret-9d2a0!never-shown"
SECRETS = (PASSWORD, WRONG)


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class World:
    """One test's store and every output its commands printed."""

    url: str
    db: Path | None  # the SQLite file (None on PostgreSQL)
    capsys: Any
    outputs: list[str] = field(default_factory=list)

    def open(self) -> DatabaseStore:
        return open_database(self.url, purpose="the health tests")

    def tenants(self, partners: dict[str, dict[str, bool]]) -> None:
        """{partner: {org: smtp_enabled}}"""
        doc = {
            "partners": {
                p: {"organizations": {o: {"smtp_enabled": on} for o, on in orgs.items()}}
                for p, orgs in partners.items()
            }
        }
        with self.open() as s:
            s.load_tenants(doc, actor="test")

    def switch(self, org: str, enabled: bool) -> None:
        with self.open() as s:
            s.set_smtp_enabled(Address.parse(org), enabled, actor="test")

    def put(
        self, address: str, port: int, *, user: str = USER, password: str = PASSWORD, tls_mode: str = "starttls"
    ) -> None:
        settings = ResolvedSettings(
            host="127.0.0.1",
            port=port,
            tls=tls_mode != "none",
            tls_mode=None if tls_mode == "none" else tls_mode,
            username=user,
            password=SecretStr(password),
            sender="no-reply@example.com",
        )
        with self.open() as s:
            a = Address.parse(address)
            live = s.get(a)
            s.put(a, settings, expected_version=live.version if live else None, stack=None, actor="test")

    def run(self, *args: str) -> Result:
        """The real CLI entry point, in-process."""
        self.capsys.readouterr()
        rc = run(list(args))
        cap = self.capsys.readouterr()
        self.outputs += [cap.out, cap.err]
        return Result(rc, cap.out, cap.err)

    def health(self, ca_file: Path, *args: str) -> Result:
        return self.run("health", "--ca-file", str(ca_file), "--timeout", "2", *args)
