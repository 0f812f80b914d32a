"""The platform's SMTP form (Host, Port, TLS, Username, Password) as the console shows it and as
the API takes it: ``ScopeForm`` is what a page renders (never a password), ``from_post`` reads
a submitted form, ``settings`` turns it into the API's body.

Values are passed as typed (the API checks them, as it checks any client); the only
conversion here is the form's own: a port field's text to a number, the TLS checkbox to a
bool, an empty optional field to none. An empty Password keeps the stored one (the API then
allows it only while Host, Port, TLS and Username stay the same).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

_VERSION = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit takes "²"), as an ETag's
FIELD_MAX = 2048
"""Longest value a form field may carry into an API call (the API's own limits are smaller)."""

TLS_MODES = {"": None, "starttls": "starttls", "implicit": "implicit"}


@dataclass(frozen=True)
class ScopeForm:
    host: str = ""
    port: str = "587"
    tls: bool = True
    tls_mode: str = ""
    username: str = ""
    sender: str = ""
    test_to: str = ""
    version: str = ""  # the record's version the form was made from ("": a new record)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_record(cls, record: Mapping[str, Any] | None) -> ScopeForm:
        if record is None:
            return cls()
        return cls(
            host=str(record["host"]),
            port=str(record["port"]),
            tls=bool(record["tls"]),
            tls_mode=record.get("tls_mode") or "",
            username=str(record["username"]),
            sender=record.get("sender") or "",
            version=str(record["version"]),
        )

    @classmethod
    def from_post(cls, data: Mapping[str, str]) -> tuple[ScopeForm, str]:
        """The submitted form and its password ("" when left empty)."""

        def text(name: str) -> str:
            return str(data.get(name, ""))[:FIELD_MAX].strip()

        form = cls(
            host=text("host"),
            port=text("port"),
            tls=data.get("tls") == "on",
            tls_mode=text("tls_mode") if text("tls_mode") in TLS_MODES else "",
            username=text("username"),
            sender=text("sender"),
            test_to=text("test_to"),
            version=text("version") if _VERSION.fullmatch(text("version")) else "",
        )
        return form, str(data.get("password", ""))[:FIELD_MAX]

    def settings(self, password: str) -> tuple[dict[str, Any] | None, ScopeForm]:
        """The API's settings body, or None and the form with what must be fixed first."""
        errors: dict[str, str] = {}
        port: int | str = self.port
        if self.port.isascii() and self.port.isdigit() and len(self.port) <= 5:
            port = int(self.port)
        else:
            errors["port"] = "a number from 1 to 65535 (587: STARTTLS, 465: SSL/TLS)"
        for name in ("host", "username"):
            if not getattr(self, name):
                errors[name] = "required"
        if errors:
            return None, replace(self, errors=errors)
        body: dict[str, Any] = {"host": self.host, "port": port, "tls": self.tls, "username": self.username}
        if TLS_MODES.get(self.tls_mode):
            body["tls_mode"] = self.tls_mode
        if self.sender:
            body["sender"] = self.sender
        if password:
            body["password"] = password
        return body, self

    def with_errors(self, errors: Mapping[str, str]) -> ScopeForm:
        return replace(self, errors=dict(errors))
