"""The engine's property values and the domain's plain dicts, both ways.

What arrives (``PropertyValue`` maps, unmarshalled by the SDK's experimental provider server):

- names are camelCase (``tlsMode``); the domain's are snake_case (``schema.FIELD_NAMES``);
- numbers are doubles: whole ones become ints again (``port``, ``version``, ``timeoutSeconds``);
- a secret is a flagged value (this provider accepts secrets): the flag is dropped on the way
  in and put back on the way out, on ``password`` and on nothing else;
- a value not known yet (preview) is ``PropertyValue.Computed`` or, from some engines, the
  plain UNKNOWN sentinel string: both become ``UNKNOWN`` (what ``properties.is_unknown`` tests).

What leaves: the same, reversed; ``None`` values are left out; ``COMPUTED`` stands for an output
only a real write can tell (version, fingerprint, ...), sent as the UNKNOWN sentinel string,
which is what the engine reads as unknown (the SDK's ``PropertyValue.marshal`` cannot marshal
its own ``Computed``: checked in pulumi 3.272).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.rpc import UNKNOWN

from .schema import FIELD_NAMES

WIRE_NAMES: Final = {snake: wire for wire, snake in FIELD_NAMES.items()}


class _Computed:
    """An output the engine learns only after the real operation (preview)."""


COMPUTED: Final = _Computed()


def domain_name(wire: str) -> str:
    return FIELD_NAMES.get(wire, wire)


def wire_name(name: str) -> str:
    return WIRE_NAMES.get(name, name)


def _plain(value: Any) -> Any:
    if isinstance(value, Computed):
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {domain_name(k): _plain(v.value) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v.value) for v in value]
    return value


def plain(props: Mapping[str, PropertyValue] | None) -> dict[str, Any]:
    """A property map as the domain's dict (module docstring). Nulls are left out."""
    return {domain_name(k): _plain(v.value) for k, v in (props or {}).items() if v.value is not None}


def _wire(value: Any) -> PropertyValue:
    if value is COMPUTED or value == UNKNOWN:
        return PropertyValue(UNKNOWN)  # the SDK cannot marshal its own ``Computed``
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return PropertyValue(value)
    if isinstance(value, (int, float)):
        return PropertyValue(float(value))
    if isinstance(value, Mapping):
        return PropertyValue({wire_name(k): _wire(v) for k, v in value.items() if v is not None})
    if isinstance(value, (list, tuple)):
        return PropertyValue([_wire(v) for v in value])
    return PropertyValue(str(value))


def wire(props: Mapping[str, Any], secret: Iterable[str] = ("password",)) -> dict[str, PropertyValue]:
    """The domain's dict as a property map; the names in ``secret`` (domain names) marked."""
    hidden = set(secret)
    out: dict[str, PropertyValue] = {}
    for key, value in props.items():
        if value is None:
            continue
        out[wire_name(key)] = _wire(value).with_secret(key in hidden)
    return out


def unknown_names(props: Mapping[str, PropertyValue] | None, declared: Iterable[str]) -> list[str]:
    """Wire names the schema does not declare (a typo in a program, or a hostile caller)."""
    allowed = set(declared)
    return sorted(k for k in (props or {}) if k not in allowed)
