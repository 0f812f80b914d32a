"""The platform's SMTP form (Host, Port, TLS, Username, Password) as the console shows it and as
the API takes it: ``ScopeForm`` is what a page renders (never a password), ``from_post`` reads
a submitted form, ``settings`` turns it into the API's body.

Values are passed as typed (the API checks them, as it checks any client); the only
conversion here is the form's own: a port field's text to a number, the TLS checkbox to a
bool, an empty optional field to none, and TLS mode dropped while TLS is off (SPEC: tls_mode
only with tls: true; the page disables the field then). An empty Password keeps the stored
one (the API then allows it only while Host, Port, TLS and Username stay the same).

``no_from``: with a Test recipient, the test message needs a From address (the Sender, else
the Username when it is a mail address, as the API and the relay check decide it); without
one the page says so in the form's words before anything is sent or saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..verify.message import from_address

_VERSION = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit takes "²"), as an ETag's
FIELD_MAX = 2048
"""Longest value a form field may carry into an API call (the API's own limits are smaller)."""

TLS_MODES = {"": None, "starttls": "starttls", "implicit": "implicit"}

LABELS = {
    "host": "Host",
    "port": "Port",
    "tls": "TLS",
    "tls_mode": "TLS mode",
    "username": "Username",
    "password": "Password",
    "sender": "Sender",
    "to": "Test recipient",
}
"""The form's labels of the API's field names: what a page calls a field in its words."""
FIELD_IDS = {"to": "test_to"}
"""The page's field id of an API field name, where they differ."""

NO_FROM = (
    "No From address: fill in Sender, or clear Test recipient to only log in (the Username is not a "
    "mail address, so it cannot be the From address); nothing was sent."
)
"""What a page says when a test message would have no From address (before any connection)."""


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

        tls = data.get("tls") == "on"
        form = cls(
            host=text("host"),
            port=text("port"),
            tls=tls,
            tls_mode=text("tls_mode") if tls and text("tls_mode") in TLS_MODES else "",
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
        if self.tls and TLS_MODES.get(self.tls_mode):
            body["tls_mode"] = self.tls_mode
        if self.sender:
            body["sender"] = self.sender
        if password:
            body["password"] = password
        return body, self

    def with_errors(self, errors: Mapping[str, str]) -> ScopeForm:
        return replace(self, errors=dict(errors))

    def no_from(self) -> ScopeForm | None:
        """The form with the Sender marked, when a test message would have no From address;
        None when it has one (or no test message is asked for)."""
        if not self.test_to or from_address(None, self.sender or None, self.username) is not None:
            return None
        return self.with_errors(
            self.errors | {"sender": "needed for a test message: the Username is not a mail address"}
        )
