"""Rules of SPEC's stack-file section that a JSON Schema cannot say (cross-field, host
syntax, warnings). They read plain data and are defensive about types: the schema reports
type errors; a rule skips a value of the wrong type."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from .schema import JsonPath, Problem

OWN_ENV_PREFIX = "SMTP_IAC_"
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def check_host(host: str) -> str | None:
    """Why ``host`` is not a DNS name (IDNA allowed) or an IP literal, or None if it is."""
    if host.startswith("[") and host.endswith("]"):
        return "write an IPv6 address without brackets (e.g. ::1)"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "host is neither a DNS name nor a valid IPv6 address (a port goes in port:, not in host)"
        return None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return "host looks like an IPv4 address but is not a valid one"
        return None
    if name.isascii():
        ascii_name = name  # checked label by label below, with a message that names the label
    else:
        try:
            ascii_name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return "host is not a valid DNS name (IDNA encoding failed)"
    if len(ascii_name) > 253:
        return "host is longer than 253 characters"
    for label in ascii_name.split("."):
        if not _LABEL.match(label):
            return f"host label '{label}' is not a valid DNS label (letters, digits, '-', 1 to 63 characters)"
    return None


def check_settings(s: Any, path: JsonPath = (), skip: frozenset[JsonPath] = frozenset()) -> list[Problem]:
    """Rules for one settings mapping at ``path``. ``skip``: paths the schema already flagged."""
    if not isinstance(s, dict):
        return []
    out: list[Problem] = []
    host, port, tls, mode = s.get("host"), s.get("port"), s.get("tls"), s.get("tls_mode")
    port_ok = isinstance(port, int) and not isinstance(port, bool) and path + ("port",) not in skip
    tls_ok = isinstance(tls, bool) and path + ("tls",) not in skip
    if isinstance(host, str) and host and path + ("host",) not in skip:
        why = check_host(host)
        if why:
            out.append(Problem(path + ("host",), why))
    ref = s.get("password")
    env = ref.get("env") if isinstance(ref, dict) else None
    if isinstance(env, str) and env.upper().startswith(OWN_ENV_PREFIX) and path + ("password", "env") not in skip:
        # Verify logs in to the stack's host with this value: a stack file in a pull request
        # must not be able to send smtp-iac's own store URL or key to a host it chooses.
        out.append(
            Problem(
                path + ("password", "env"),
                f"env {env} is one of smtp-iac's own settings ({OWN_ENV_PREFIX}*), not an SMTP password",
            )
        )
    if port_ok and tls_ok and port == 465 and tls is False:
        out.append(Problem(path + ("port",), "port 465 is implicit TLS: set tls: true (or use 587 with STARTTLS)"))
    if tls_ok and tls is False:
        if isinstance(mode, str):
            out.append(Problem(path + ("tls_mode",), "tls_mode is only allowed with tls: true"))
        out.append(
            Problem(path + ("tls",), "tls: false sends the SMTP password in clear text; enable TLS", severity="warning")
        )
    if port_ok and port == 25:
        out.append(
            Problem(
                path + ("port",), "port 25 is not recommended and often blocked by ISPs; use 587", severity="warning"
            )
        )
    if port_ok and tls_ok and tls and isinstance(mode, str):
        if mode == "implicit" and port == 587:
            out.append(
                Problem(
                    path + ("tls_mode",),
                    "tls_mode implicit on port 587, which normally speaks STARTTLS",
                    severity="warning",
                )
            )
        if mode == "starttls" and port == 465:
            out.append(
                Problem(
                    path + ("tls_mode",),
                    "tls_mode starttls on port 465, which normally speaks implicit TLS",
                    severity="warning",
                )
            )
    return out


def iter_settings(data: Any) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """Every ``smtp:`` settings mapping of a stack document, with its path."""
    if not isinstance(data, dict):
        return
    ctrl = data.get("controller")
    if isinstance(ctrl, dict) and isinstance(ctrl.get("smtp"), dict):
        yield ("controller", "smtp"), ctrl["smtp"]
    partners = data.get("partners")
    if not isinstance(partners, dict):
        return
    for p, pentry in partners.items():
        if not isinstance(pentry, dict):
            continue
        if isinstance(pentry.get("smtp"), dict):
            yield ("partners", p, "smtp"), pentry["smtp"]
        orgs = pentry.get("organizations")
        if isinstance(orgs, dict):
            for o, oentry in orgs.items():
                if isinstance(oentry, dict) and isinstance(oentry.get("smtp"), dict):
                    yield ("partners", p, "organizations", o, "smtp"), oentry["smtp"]


def check_document(data: Any, skip: frozenset[JsonPath] = frozenset()) -> list[Problem]:
    out: list[Problem] = []
    for path, settings in iter_settings(data):
        out.extend(check_settings(settings, path, skip))
    verify = data.get("verify") if isinstance(data, dict) else None
    if isinstance(verify, dict) and verify.get("mode") == "off":
        out.append(
            Problem(
                ("verify", "mode"), "verify mode off: changes are written without an SMTP check", severity="warning"
            )
        )
    return out
