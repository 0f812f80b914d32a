"""The plugin's straight protobuf conversions (``values.plain_struct``/``wire_struct``, what
Check and Diff use) give exactly what the SDK's ``PropertyValue`` path gives
(``plain(PropertyValue.unmarshal_map(...))``, ``PropertyValue.marshal_map(wire(...))``): the
same values, the same secret marking, and for what the SDK refuses, the same error."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi_engine import SECRET_SIG, SIG_KEY, UNKNOWN, to_struct

from smtp_iac.pulumi.native.values import COMPUTED, plain, plain_struct, wire, wire_struct

ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def struct_of(props: dict[str, Any]) -> struct_pb2.Struct:
    return to_struct(props, (), wrap_secrets=False)


def unset_kind() -> struct_pb2.Struct:
    s = struct_of({"address": "partners/acme"})
    s.fields["host"].CopyFrom(struct_pb2.Value())  # a Value with no kind set
    return s


STRUCTS = [
    struct_of({}),
    struct_of(
        {
            "address": "partners/acme",
            "host": "smtp.example.com",
            "port": 587.0,
            "tls": True,
            "tlsMode": None,
            "password": secret("s3cret"),
        }
    ),
    struct_of({"port": 587.5, "tls": False, "username": "", "sender": UNKNOWN, "x": float("inf")}),
    struct_of({"verify": {"mode": "send", "timeoutSeconds": 10.0, "caFile": None, "deep": {"caFile": [1.0, None]}}}),
    struct_of({"password": secret(None), "nested": {"inner": secret({"timeoutSeconds": 3.0})}}),
    struct_of({"list": [1.0, "a", True, None, [secret(2.0)], {"managedBy": "x"}], "empty": [], "obj": {}}),
    struct_of({"address": {"nested": [1.0, 2.0]}, "password": ["p"], "username": 7.0}),
    struct_of({"a": {SIG_KEY: SECRET_SIG}}),  # a secret without its value
    struct_of({"a": {SIG_KEY: "not-a-signature", "value": 1.0}}),
    struct_of({"a": {SIG_KEY: 3.0, "value": 1.0}}),
    struct_of({"a": {SIG_KEY: ASSET_SIG, "text": "hello"}}),
    struct_of({"a": {SIG_KEY: ASSET_SIG}}),
    struct_of({"host": {SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:s::p::t::n"}}),
    struct_of({"host": {SIG_KEY: OUTPUT_SIG, "value": "h", "secret": True, "dependencies": ["u"]}}),
    struct_of({"ok": "x", "bad": {"deeper": {SIG_KEY: OUTPUT_SIG, "value": "h", "secret": "yes"}}}),
    unset_kind(),
]


def shape(value: Any) -> Any:
    """``value`` compared by content and type (an asset has no equality of its own; and
    1 == 1.0 == True would hide a difference)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if hasattr(value, "__dict__"):
        return type(value).__name__, shape(dict(vars(value)))
    return type(value).__name__, repr(value)


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", shape(fn(*args))
    except Exception as e:  # noqa: BLE001 - the error itself is what is compared
        return "error", (type(e), str(e))


@pytest.mark.parametrize("struct", STRUCTS, ids=range(len(STRUCTS)))
def test_plain_struct_is_the_sdk_path(struct):
    expected = outcome(lambda s: plain(PropertyValue.unmarshal_map(s)), struct)
    got = outcome(plain_struct, struct)
    assert got == expected


class Opaque:
    def __str__(self) -> str:
        return "opaque"


PROPS = [
    {},
    {"address": "partners/acme", "port": 587, "tls": True, "password": "s3cret", "tls_mode": None},
    {"version": COMPUTED, "password_fingerprint": UNKNOWN, "managed_by": "pulumi/p/s", "updated_at": 1.5},
    {"verify": {"timeout_seconds": 10, "ca_file": None, "mode": COMPUTED}, "chain": ["a", None, 3, False]},
    {"password": {"nested": [1, {"ca_file": "x"}]}, "tuple": (1, "b"), "empty": {}, "none_list": []},
    {"odd": Opaque(), "big": 2**60, "neg": -0.0, "flag": False, "override_present": True},
    {"password": UNKNOWN, "verify": COMPUTED, "host": None},
]


@pytest.mark.parametrize("props", PROPS, ids=range(len(PROPS)))
@pytest.mark.parametrize("hidden", [("password",), (), ("password", "verify")])
def test_wire_struct_is_the_sdk_path(props, hidden):
    expected = PropertyValue.marshal_map(wire(props, secret=hidden))
    got = wire_struct(props, secret=hidden)
    assert got == expected
    assert got.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
