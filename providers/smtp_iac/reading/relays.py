"""``relays:``: named settings that scopes reuse with ``smtp: {relay: NAME, ...}`` (SPEC, "Stack
file"). ``models.Stack.scopes`` merges a reference with its relay, so everything downstream
(plan, apply, drift, the Pulumi program) sees complete settings; this module holds the rules
of a stack document that only the references and their relays can say:

- A reference names a relay that ``relays:`` defines (else an error at ``...smtp.relay``,
  with the closest name when there is one).
- Each relay's own settings pass ``rules.check_settings`` (located in ``relays:``).
- The merged settings of a scope that overrides fields pass them too. A problem that the
  relay alone already has is reported once, at the relay; a new one stands at the override
  that causes it: at the field when it is overridden, else at the first overridden field,
  with the relay's part named (``port 465 is implicit TLS ... (port from relay 'x')``).
- A relay that no scope uses is a warning at its name (it may be on its way in or out; it
  never writes anything).

Like ``rules``, this reads plain data and is defensive about types: the schema reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from . import rules
from .rules import MAX_IDN_HOSTS
from .schema import JsonPath, Problem

RELAY = "relay"
_CAUSES = ("tls", "port", "tls_mode")
"""The fields whose override can make a problem at another field (465 with ``tls: false``,
``tls_mode`` without TLS, ``implicit`` on 587, ``starttls`` on 465)."""


def references(data: Any) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """(path, mapping) of every ``smtp: {relay: ...}`` of a stack document, in file order."""
    for path, smtp in rules.iter_settings(data):
        if RELAY in smtp:
            yield path, smtp


def relays_of(data: Any) -> dict[Any, Any]:
    relays = data.get("relays") if isinstance(data, dict) else None
    return relays if isinstance(relays, dict) else {}


def check_document(
    data: Any, flagged: frozenset[JsonPath], skipped: frozenset[JsonPath], refs: list[tuple[JsonPath, dict[str, Any]]]
) -> list[Problem]:
    """The rules of ``relays:`` and of every reference in ``refs`` (``references(data)``).
    ``flagged``: paths the schema (or the invisible-character check) already reported;
    ``skipped``: parts past the error budget, not checked at all."""
    relays = relays_of(data)
    out: list[Problem] = []
    idn: set[str] = set()
    own: dict[str, list[Problem]] = {}
    for name, settings in relays.items():
        path = ("relays", name)
        if path in skipped or not isinstance(settings, dict):
            continue
        own[name] = rules.check_settings(_capped(settings, idn), path, flagged)
        out += own[name]
    used: set[Any] = set()
    for path, ref in refs:
        name = ref[RELAY]
        if isinstance(name, str):  # a list or mapping (a schema error) is not hashable
            used.add(name)
        if _part(path) in skipped or path + (RELAY,) in flagged or not isinstance(name, str):
            continue
        if name not in relays:
            out.append(Problem(path + (RELAY,), _unknown(name, relays)))
            continue
        relay = relays[name]
        overrides = {k: v for k, v in ref.items() if k != RELAY}
        if not overrides or name not in own:
            continue  # nothing but the relay's own settings, checked once above
        merged = _capped({**relay, **overrides}, idn)
        out += _relocated(rules.check_settings(merged, path, flagged), path, name, overrides, own[name])
    for name in relays:
        if name not in used and ("relays", name) not in skipped:
            out.append(
                Problem(
                    ("relays", name),
                    f"relay '{rules.shown(str(name))}' is not used by any scope",
                    severity="warning",
                    at_key=True,
                )
            )
    return out


def _part(path: JsonPath) -> JsonPath:
    """The part (``validation``) that a scope's ``smtp`` stands in."""
    return path[:-1] if path[0] != "partners" or len(path) == 5 else path


def _unknown(name: str, relays: dict[Any, Any]) -> str:
    known = sorted(k for k in relays if isinstance(k, str))
    shown = rules.shown(name)
    if not known:
        return f"unknown relay '{shown}': the stack defines no relays: (add it under relays:)"
    hint = difflib.get_close_matches(name, known, n=1) if len(name) <= 64 else []
    if hint:
        return f"unknown relay '{shown}' (did you mean '{hint[0]}'?)"
    listed = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    return f"unknown relay '{shown}' (defined: {listed})"


def _relocated(
    found: list[Problem], path: JsonPath, name: str, overrides: dict[str, Any], own: list[Problem]
) -> Iterator[Problem]:
    """The merged settings' problems that the relay alone does not have, each at the override
    that causes it."""
    relay_path = ("relays", name)
    already = {(p.path[len(relay_path) :], p.message, p.severity) for p in own}
    for p in found:
        tail = p.path[len(path) :]
        if tail and tail[0] in overrides:
            yield p
        elif (tail, p.message, p.severity) not in already:
            cause = next((k for k in _CAUSES if k in overrides), next(iter(overrides)))
            field = tail[0] if tail else "settings"
            yield Problem(path + (cause,), f"{p.message} ({field} from relay '{name}')", p.severity)


def _capped(settings: dict[str, Any], idn: set[str]) -> dict[str, Any]:
    """``settings`` without its host past ``MAX_IDN_HOSTS`` different internationalized hosts
    (each costs an IDNA 2008 check; ``rules.check_document`` caps the scopes' own the same way)."""
    host = settings.get("host")
    if isinstance(host, str) and not host.isascii() and host not in idn:
        if len(idn) >= MAX_IDN_HOSTS:
            return {k: v for k, v in settings.items() if k != "host"}
        idn.add(host)
    return settings
