"""Helpers for stack-file tests: write a file, read it with ``stackfile.read``, find a
diagnostic by its exact ``FILE:LINE:COL: SEVERITY:`` prefix and JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_iac.reading.stackfile import read

SETTINGS_ORDER = ("host", "port", "tls", "username", "password")
DEFAULTS = {
    "host": "smtp.example.com",
    "port": "587",
    "tls": "true",
    "username": "mailer",
    "password": "{env: SMTP_PASSWORD}",
}


def settings_yaml(**fields) -> str:
    """A stack whose controller manages settings. Lines: 1 version, 2 name, 3 controller,
    4 smtp, 5 host, 6 port, 7 tls, 8 username, 9 password, then extra keys from line 10 in
    the order given. A field set to None is left out (later lines move up). Values are raw YAML."""
    values = dict(DEFAULTS)
    extra = []
    for k, v in fields.items():
        if k in values:
            values[k] = v
        else:
            extra.append((k, v))
    lines = ["version: 1", "name: t", "controller:", "  smtp:"]
    for k in SETTINGS_ORDER:
        if values[k] is not None:
            lines.append(f"    {k}: {values[k]}")
    lines += [f"    {k}: {v}" for k, v in extra if v is not None]
    return "\n".join(lines) + "\n"


class Checked:
    def __init__(self, path: Path):
        self.path = path
        self.file = str(path)
        self.loaded, self.diags = read(path)

    @property
    def lines(self) -> list[str]:
        return [d.format() for d in self.diags]

    @property
    def errors(self):
        return [d for d in self.diags if d.severity == "error"]

    @property
    def warnings(self):
        return [d for d in self.diags if d.severity == "warning"]

    def has(self, line: int, col: int, severity: str, fragment: str, path: str | None = None) -> str:
        """The one formatted diagnostic at LINE:COL with SEVERITY, holding FRAGMENT (and PATH)."""
        prefix = f"{self.file}:{line}:{col}: {severity}: "
        found = [
            s
            for s in self.lines
            if s.startswith(prefix) and fragment in s and (path is None or s.endswith(f" [at {path}]"))
        ]
        assert found, f"no {prefix}...{fragment}... [at {path}] in:\n" + "\n".join(self.lines)
        return found[0]

    def valid(self) -> None:
        assert self.loaded is not None and not self.errors, "\n".join(self.lines)

    def clean(self) -> None:
        assert self.loaded is not None and self.diags == [], "\n".join(self.lines)

    def invalid(self) -> None:
        assert self.loaded is None and self.errors, "\n".join(self.lines)


@pytest.fixture
def check(tmp_path):  # re-exported by conftest.py
    """``check(text, name="stack.yaml")`` writes TEXT (str: UTF-8; bytes: as is) and reads it."""

    def _check(text: str | bytes, name: str = "stack.yaml") -> Checked:
        p = tmp_path / name
        p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return Checked(p)

    return _check
