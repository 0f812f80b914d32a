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

``plain_struct`` and ``wire_struct`` do the same straight from and to the protobuf ``Struct``
(what ``Check`` and ``Diff`` use, once per resource per run): a value the SDK would turn into
anything but JSON or a secret (an asset, a resource reference, an output value, an unknown
signature or an unset kind) sends the whole map through the SDK's ``PropertyValue`` instead,
so the result, and any error, is the SDK path's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from google.protobuf.struct_pb2 import ListValue, Struct, Value  # type: ignore[import-untyped]  # no stubs
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.rpc import UNKNOWN, _special_secret_sig, _special_sig_key

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


def unknown_names(names: Iterable[str] | None, declared: Iterable[str]) -> list[str]:
    """Wire names (a property map's keys) the schema does not declare (a typo in a program, or
    a hostile caller)."""
    allowed = set(declared)
    return sorted(k for k in (names or ()) if k not in allowed)


# ----- straight from and to the protobuf Struct (module docstring) ---------------------------


class _NotJson(Exception):
    """A value only the SDK's ``PropertyValue`` reads (or refuses) as the SDK does."""


def _from_value(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "null_value":
        return None
    if kind == "struct_value":
        fields = value.struct_value.fields  # by key: the map's ``items()`` is a slow generator
        if _special_sig_key not in fields:
            return {FIELD_NAMES.get(k, k): _from_value(fields[k]) for k in fields}
        sig = fields[_special_sig_key]
        inner = fields.get("value")
        if sig.WhichOneof("kind") != "string_value" or sig.string_value != _special_secret_sig or inner is None:
            raise _NotJson
        return _from_value(inner)  # a secret: the flag is dropped on the way in
    if kind == "list_value":
        return [_from_value(v) for v in value.list_value.values]
    raise _NotJson


def plain_struct(struct: Struct) -> dict[str, Any]:
    """``plain(PropertyValue.unmarshal_map(struct))``, without the ``PropertyValue`` layer."""
    fields = struct.fields
    try:
        out = {}
        for key in fields:
            value = fields[key]
            kind = value.WhichOneof("kind")  # the scalars inline: most of a resource's inputs
            if kind == "string_value":
                out[FIELD_NAMES.get(key, key)] = value.string_value
            elif kind == "bool_value":
                out[FIELD_NAMES.get(key, key)] = value.bool_value
            else:
                item = _from_value(value)
                if item is not None:
                    out[FIELD_NAMES.get(key, key)] = item
        return out
    except _NotJson:
        return plain(PropertyValue.unmarshal_map(struct))


def _to_value(value: Any, out: Value) -> None:
    """``_wire(value).marshal()`` written into ``out``."""
    if value is COMPUTED or value == UNKNOWN:
        out.string_value = UNKNOWN
    elif value is None:
        out.null_value = 0
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, (int, float)):
        out.number_value = float(value)
    elif isinstance(value, Mapping):
        fields = out.struct_value.fields
        out.struct_value.SetInParent()
        for k, v in value.items():
            if v is not None:
                _to_value(v, fields[wire_name(k)])
    elif isinstance(value, (list, tuple)):
        items: ListValue = out.list_value
        items.SetInParent()
        for v in value:
            _to_value(v, items.values.add())
    else:
        out.string_value = str(value)


def wire_struct(props: Mapping[str, Any], secret: Iterable[str] = ("password",)) -> Struct:
    """``PropertyValue.marshal_map(wire(props, secret))``, without the ``PropertyValue`` layer."""
    hidden = set(secret)
    struct = Struct()
    fields = struct.fields
    for key, value in props.items():
        if value is None:
            continue
        if key in hidden:
            wrapper = fields[wire_name(key)].struct_value.fields
            wrapper[_special_sig_key].string_value = _special_secret_sig
            _to_value(value, wrapper["value"])
        else:
            _to_value(value, fields[wire_name(key)])
    return struct
