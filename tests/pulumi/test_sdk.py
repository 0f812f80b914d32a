"""The Python SDK of the native provider (``pulumi_smtp_iac``) under ``pulumi.runtime.set_mocks``:
what each resource, the provider and the invoke send the engine (tokens, camelCase names,
secrets, the plugin version), what they read back (snake_case attributes), and that the SDK
takes every input the package schema (``schemas/pulumi-schema.json``) declares and no other."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor, Mocks

import pulumi_smtp_iac as sdk
import smtp_iac
from pulumi_smtp_iac import _names
from pulumi_smtp_iac.provider import verify_json
from smtp_iac.pulumi.native import schema as native_schema

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "pulumi-schema.json").read_text())
SETTINGS = "smtp-iac:index:SmtpSettings"
INHERITANCE = "smtp-iac:index:SmtpInheritance"
GET_EFFECTIVE = "smtp-iac:index:getEffectiveSettings"
PROVIDER = "pulumi:providers:smtp-iac"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
PASSWORD = "hunter2-not-in-plain"

# What the fake engine answers: the provider's computed outputs and the invoke's result, camelCase.
SETTINGS_COMPUTED = {
    "version": 3,
    "passwordFingerprint": "hmac:ab12",
    "managedBy": "pulumi/smtp-iac/test",
    "updatedAt": "2025-01-02T03:04:05Z",
    "updatedBy": "ci@example.com",
}
INHERITANCE_COMPUTED = {"removedVersion": 4, "overridePresent": False}
EFFECTIVE = {
    "organization": "partners/acme/organizations/acme-eu",
    "source": "partners/acme",
    "tier": "partner",
    "host": "smtp.acme.example",
    "port": 465,
    "tls": True,
    "tlsMode": "implicit",
    "username": "mailer",
    "sender": "no-reply@acme.example",
    "chain": ["partners/acme/organizations/acme-eu", "partners/acme"],
}
READ_STATE = {
    "address": "partners/acme",
    "host": "smtp.read.example",
    "port": 2525,
    "tls": True,
    "tlsMode": "starttls",
    "username": "reader",
    "password": PASSWORD,
    **SETTINGS_COMPUTED,
}


class FakeEngine(Mocks):
    """Echoes the inputs and adds the computed outputs; a read gets ``READ_STATE``."""

    def new_resource(self, args):
        if args.resource_id:
            return args.resource_id, dict(READ_STATE)
        computed = {SETTINGS: SETTINGS_COMPUTED, INHERITANCE: INHERITANCE_COMPUTED}.get(args.typ, {})
        return f"{args.name}-id", {**args.inputs, **computed}

    def call(self, args):
        return dict(EFFECTIVE)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping every request as the engine would get it (secrets still
    wrapped, additional secret outputs listed, the version asked for)."""

    def __init__(self, mocks):
        super().__init__(mocks)
        self.registered: dict[str, Any] = {}
        self.read: dict[str, Any] = {}
        self.invokes: list[Any] = []

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self.registered[request.name] = request
        return super().RegisterResource(request)

    def ReadResource(self, request):
        self.read[request.name] = request
        return super().ReadResource(request)

    def Invoke(self, request):
        if request.tok != "pulumi:pulumi:getResource":
            self.invokes.append(request)
        return super().Invoke(request)


def run(program: Callable[[], dict[str, pulumi.Output[Any]]]) -> tuple[RecordingMonitor, dict[str, tuple[Any, bool]]]:
    """Runs ``program`` under mocks (not a preview); returns the monitor and, for each output
    the program returns, its value and whether it is secret."""
    mocks = FakeEngine()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="smtp-iac", stack="test", preview=False, monitor=monitor)
    seen: dict[str, tuple[Any, bool]] = {}

    @pulumi.runtime.test
    def main():
        outputs = program()

        async def collect():
            for key, out in outputs.items():
                seen[key] = (await out.future(), await out.is_secret())

        return pulumi.Output.from_input(collect())

    main()
    return monitor, seen


def wire(request) -> dict[str, Any]:
    """The request's properties as the engine sees them (numbers are doubles)."""
    return json_format.MessageToDict(request.object if hasattr(request, "object") else request.args)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def sample(name: str, spec: dict[str, Any]) -> Any:
    """A value for a schema property, distinct per name; objects get snake_case keys, as a
    Python program writes them."""
    if "$ref" in spec:
        type_ = SCHEMA["types"][spec["$ref"].removeprefix("#/types/")]
        return {_names.to_snake(k): sample(k, v) for k, v in type_["properties"].items()}
    return {
        "string": f"{name}-value",
        "integer": 1000 + len(name),
        "boolean": True,
        "array": [f"{name}-item"],
    }[spec["type"]]


def sample_inputs(properties: dict[str, Any]) -> dict[str, Any]:
    return {_names.to_snake(name): sample(name, spec) for name, spec in properties.items()}


def keyword_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(fn).parameters.items()
        if name not in ("self", "resource_name", "opts") and p.kind is not inspect.Parameter.VAR_KEYWORD
    }


RESOURCES = {SETTINGS: sdk.SmtpSettings, INHERITANCE: sdk.SmtpInheritance}


# ----- names ----------------------------------------------------------------------------------


def all_schema_names() -> set[str]:
    names = set(SCHEMA["provider"]["inputProperties"])
    for spec in SCHEMA["resources"].values():
        names |= set(spec["inputProperties"]) | set(spec["properties"])
    for spec in SCHEMA["functions"].values():
        names |= set(spec["inputs"]["properties"]) | set(spec["outputs"]["properties"])
    for spec in SCHEMA["types"].values():
        names |= set(spec["properties"])
    return names


def test_the_name_rule_round_trips_every_schema_name_and_agrees_with_the_provider():
    names = all_schema_names()
    assert {"tlsMode", "passwordFingerprint", "storeKey", "timeoutSeconds", "caFile"} <= names
    for name in names:
        assert _names.to_camel(_names.to_snake(name)) == name
    for wire_name, python_name in native_schema.FIELD_NAMES.items():
        assert _names.to_snake(wire_name) == python_name
    assert _names.to_camel("from_") == "from"
    assert _names.to_camel("__provider") == "__provider"


def test_tokens_and_version_are_the_schemas():
    assert _names.SETTINGS in SCHEMA["resources"] and _names.INHERITANCE in SCHEMA["resources"]
    assert set(SCHEMA["resources"]) == {_names.SETTINGS, _names.INHERITANCE}
    assert set(SCHEMA["functions"]) == {_names.GET_EFFECTIVE_SETTINGS}
    assert SCHEMA["name"] == _names.PACKAGE
    assert "pulumi:providers:" + SCHEMA["name"] == _names.PROVIDER
    assert sdk.__version__ == smtp_iac.__version__ == SCHEMA["version"]
    assert SCHEMA["language"]["python"]["packageName"] == sdk.__name__


# ----- SmtpSettings ---------------------------------------------------------------------------


def test_smtp_settings_registers_its_token_with_the_schemas_camel_case_inputs():
    monitor, seen = run(
        lambda: {
            "resource": (
                r := sdk.SmtpSettings(
                    "acme",
                    address="partners/acme",
                    host="smtp.acme.example",
                    port=587,
                    tls=True,
                    tls_mode="starttls",
                    username="mailer",
                    password=PASSWORD,
                    sender="no-reply@acme.example",
                )
            ).urn,
            **{name: getattr(r, name) for name in ("address", "port", "tls_mode", "password", "version")},
            **{name: getattr(r, name) for name in ("password_fingerprint", "managed_by", "updated_at", "updated_by")},
        }
    )
    request = monitor.registered["acme"]
    assert request.type == SETTINGS and request.custom
    assert request.version == smtp_iac.__version__, "the engine loads the plugin this SDK was released with"
    props = wire(request)
    assert set(props) == set(SCHEMA["resources"][SETTINGS]["inputProperties"])
    assert props["tlsMode"] == "starttls" and "tls_mode" not in props
    assert (props["address"], props["host"], props["port"], props["tls"]) == (
        "partners/acme",
        "smtp.acme.example",
        587,
        True,
    )
    assert is_secret(props["password"]) and props["password"]["value"] == PASSWORD
    assert PASSWORD not in json.dumps({k: v for k, v in props.items() if k != "password"})
    assert list(request.additionalSecretOutputs) == ["password"]

    assert seen["resource"][0].endswith(f"{SETTINGS}::acme")
    assert seen["address"] == ("partners/acme", False)
    assert seen["port"] == (587, False) and isinstance(seen["port"][0], int)
    assert seen["tls_mode"] == ("starttls", False)
    assert seen["password"] == (PASSWORD, True), "the password reads back secret"
    assert seen["version"] == (3, False) and isinstance(seen["version"][0], int)
    assert seen["password_fingerprint"][0] == "hmac:ab12"
    assert seen["managed_by"][0] == "pulumi/smtp-iac/test"
    assert seen["updated_at"][0] == "2025-01-02T03:04:05Z"
    assert seen["updated_by"][0] == "ci@example.com"


def test_smtp_settings_leaves_out_optional_inputs_not_given_and_keeps_an_output_password_secret():
    def program():
        password = pulumi.Output.from_input(PASSWORD)  # e.g. another resource's output, not marked secret
        r = sdk.SmtpSettings(
            "c", address="controller", host="h.example", port=25, tls=False, username="u", password=password
        )
        return {"tls_mode": r.tls_mode, "sender": r.sender, "password": r.password}

    monitor, seen = run(program)
    props = wire(monitor.registered["c"])
    assert set(props) == {"address", "host", "port", "tls", "username", "password"}
    assert is_secret(props["password"]) and props["password"]["value"] == PASSWORD
    assert seen["tls_mode"] == (None, False) and seen["sender"] == (None, False)
    assert seen["password"] == (PASSWORD, True)


def test_a_required_input_given_as_none_fails_like_a_generated_sdk():
    with pytest.raises(TypeError, match="Missing required property 'host'"):
        run(
            lambda: {
                "urn": sdk.SmtpSettings(
                    "x", address="controller", host=None, port=25, tls=False, username="u", password="p"
                ).urn
            }
        )


def test_smtp_settings_get_reads_an_existing_record_into_snake_case_attributes():
    def program():
        r = sdk.SmtpSettings.get("existing", "partners/acme")
        return {"id": r.id, "host": r.host, "tls_mode": r.tls_mode, "fp": r.password_fingerprint, "pw": r.password}

    monitor, seen = run(program)
    assert "existing" not in monitor.registered
    request = monitor.read["existing"]
    assert (request.type, request.id, request.version) == (SETTINGS, "partners/acme", smtp_iac.__version__)
    assert list(request.additionalSecretOutputs) == ["password"]
    assert seen["id"][0] == "partners/acme"
    assert (seen["host"][0], seen["tls_mode"][0], seen["fp"][0]) == ("smtp.read.example", "starttls", "hmac:ab12")


# ----- SmtpInheritance ------------------------------------------------------------------------


def test_smtp_inheritance_registers_its_token_with_address_only():
    def program():
        r = sdk.SmtpInheritance("us", address="partners/acme/organizations/acme-us")
        return {"address": r.address, "removed_version": r.removed_version, "override_present": r.override_present}

    monitor, seen = run(program)
    request = monitor.registered["us"]
    assert (request.type, request.version) == (INHERITANCE, smtp_iac.__version__)
    assert wire(request) == {"address": "partners/acme/organizations/acme-us"}
    assert list(request.additionalSecretOutputs) == []
    assert seen["address"][0] == "partners/acme/organizations/acme-us"
    assert seen["removed_version"] == (4, False) and isinstance(seen["removed_version"][0], int)
    assert seen["override_present"] == (False, False)


# ----- Provider -------------------------------------------------------------------------------


def test_the_provider_sends_verify_as_json_with_camel_case_keys_and_its_keys_secret():
    def program():
        p = sdk.Provider(
            "explicit",
            store="https://settings.example",
            store_key="the-store-key",
            token="the-token",
            owner="team-mail",
            adopt=True,
            verify={"mode": "send", "to": "ops@example.com", "timeout_seconds": 20, "ca_file": "certs/ca.pem"},
        )
        r = sdk.SmtpInheritance("x", address="controller", opts=pulumi.ResourceOptions(provider=p))
        return {"store_key": p.store_key, "token": p.token, "owner": p.owner, "urn": r.urn}

    monitor, seen = run(program)
    request = monitor.registered["explicit"]
    assert (request.type, request.version) == (PROVIDER, smtp_iac.__version__)
    props = wire(request)
    assert set(props) == {"store", "storeKey", "token", "owner", "adopt", "verify"}
    assert isinstance(props["verify"], str), "an object-valued provider input goes as a JSON string"
    assert json.loads(props["verify"]) == {
        "mode": "send",
        "to": "ops@example.com",
        "timeoutSeconds": 20,
        "caFile": "certs/ca.pem",
    }
    assert props["adopt"] == "true", "as generated SDKs send a non-string provider input"
    assert (props["store"], props["owner"]) == ("https://settings.example", "team-mail")
    assert is_secret(props["storeKey"]) and props["storeKey"]["value"] == "the-store-key"
    assert is_secret(props["token"]) and props["token"]["value"] == "the-token"
    assert sorted(request.additionalSecretOutputs) == ["storeKey", "token"]
    assert seen["store_key"] == ("the-store-key", True) and seen["token"] == ("the-token", True)
    assert seen["owner"] == ("team-mail", False)
    assert monitor.registered["x"].provider.endswith(f"{PROVIDER}::explicit::explicit-id"), "a provider reference"


def test_verify_may_be_an_output_with_camel_case_keys_and_an_unknown_key_fails():
    def program():
        verify = pulumi.Output.from_input(
            {"mode": pulumi.Output.from_input("login"), "timeoutSeconds": 5, "from_": "a@b"}
        )
        return {"urn": sdk.Provider("p", verify=verify).urn}

    monitor, _ = run(program)
    props = wire(monitor.registered["p"])
    assert json.loads(props["verify"]) == {"mode": "login", "timeoutSeconds": 5, "from": "a@b"}
    assert set(props) == {"verify"}, "what is not given is left to the provider's defaults"

    with pytest.raises(TypeError, match=r"unknown option\(s\) timeout;"):
        sdk.Provider("bad", verify={"mode": "login", "timeout": 5})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError, match=r"unknown option\(s\) timeout;"):
        verify_json({"timeout": 5})  # what an output's keys get, once known


# ----- getEffectiveSettings -------------------------------------------------------------------


def test_get_effective_settings_invokes_its_token_and_maps_camel_case_to_fields():
    found: list[sdk.GetEffectiveSettingsResult] = []

    def program():
        found.append(sdk.get_effective_settings("acme/acme-eu"))
        return {}

    monitor, _ = run(program)
    [request] = monitor.invokes
    assert (request.tok, request.version) == (GET_EFFECTIVE, smtp_iac.__version__)
    assert wire(request) == {"organization": "acme/acme-eu"}
    [result] = found
    assert result == sdk.GetEffectiveSettingsResult(
        organization="partners/acme/organizations/acme-eu",
        source="partners/acme",
        tier="partner",
        host="smtp.acme.example",
        port=465,
        tls=True,
        tls_mode="implicit",
        username="mailer",
        sender="no-reply@acme.example",
        chain=("partners/acme/organizations/acme-eu", "partners/acme"),
    )
    assert isinstance(result.port, int)


def test_get_effective_settings_output_waits_for_an_output_organization():
    def program():
        org = pulumi.Output.from_input("acme/acme-eu")
        return {"result": sdk.get_effective_settings_output(org)}

    monitor, seen = run(program)
    [request] = monitor.invokes
    assert (request.tok, request.version) == (GET_EFFECTIVE, smtp_iac.__version__)
    assert wire(request) == {"organization": "acme/acme-eu"}
    result = seen["result"][0]
    assert isinstance(result, sdk.GetEffectiveSettingsResult)
    assert (result.tier, result.tls_mode, result.chain[-1]) == ("partner", "implicit", "partners/acme")


# ----- schema-driven: every declared input accepted, no other -----------------------------------


@pytest.mark.parametrize("token", sorted(RESOURCES))
def test_a_resource_takes_exactly_the_schemas_inputs(token):
    spec = SCHEMA["resources"][token]
    cls = RESOURCES[token]
    params = keyword_params(cls.__init__)
    assert set(params) == {_names.to_snake(n) for n in spec["inputProperties"]}
    required = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
    assert required == {_names.to_snake(n) for n in spec["requiredInputs"]}

    inputs = sample_inputs(spec["inputProperties"])
    monitor, seen = run(
        lambda: {name: getattr(cls("all", **inputs), name) for name in map(_names.to_snake, spec["properties"])}
    )
    sent = {k: (v["value"] if is_secret(v) else v) for k, v in wire(monitor.registered["all"]).items()}
    assert sent == {n: sample(n, s) for n, s in spec["inputProperties"].items()}
    for name in spec["inputProperties"]:
        assert seen[_names.to_snake(name)][0] == sample(name, spec["inputProperties"][name])
    secret = {n for n, s in spec["properties"].items() if s.get("secret")}
    assert set(monitor.registered["all"].additionalSecretOutputs) == secret
    assert {_names.to_snake(n) for n, (_, is_sec) in seen.items() if is_sec} == {_names.to_snake(n) for n in secret}


def test_the_provider_takes_exactly_the_schemas_inputs():
    spec = SCHEMA["provider"]["inputProperties"]
    assert set(keyword_params(sdk.Provider.__init__)) == {_names.to_snake(n) for n in spec}
    inputs = sample_inputs(spec)
    monitor, _ = run(lambda: {"urn": sdk.Provider("all", **inputs).urn})
    request = monitor.registered["all"]
    sent = wire(request)
    assert set(sent) == set(spec)
    for name, prop in spec.items():
        value = sent[name]["value"] if prop.get("secret") else sent[name]
        expected = sample(name, prop)
        if "$ref" in prop:
            type_ = SCHEMA["types"][prop["$ref"].removeprefix("#/types/")]
            expected = {k: sample(k, v) for k, v in type_["properties"].items()}
        if prop.get("type") != "string":
            value = json.loads(value)
        assert value == expected, name
        assert is_secret(sent[name]) == bool(prop.get("secret")), name
    assert set(request.additionalSecretOutputs) == {n for n, p in spec.items() if p.get("secret")}


def test_the_function_takes_the_schemas_inputs_and_has_a_field_per_output():
    spec = SCHEMA["functions"][GET_EFFECTIVE]
    for fn in (sdk.get_effective_settings, sdk.get_effective_settings_output):
        params = keyword_params(fn)
        assert set(params) == {_names.to_snake(n) for n in spec["inputs"]["properties"]}
        assert {n for n, p in params.items() if p.default is inspect.Parameter.empty} == set(spec["inputs"]["required"])
    fields = {f.name: f for f in dataclasses.fields(sdk.GetEffectiveSettingsResult)}
    assert set(fields) == {_names.to_snake(n) for n in spec["outputs"]["properties"]}
    without_default = {n for n, f in fields.items() if f.default is dataclasses.MISSING}
    assert without_default == {_names.to_snake(n) for n in spec["outputs"]["required"]}

    outputs = {n: sample(n, s) for n, s in spec["outputs"]["properties"].items()}
    result = sdk.GetEffectiveSettingsResult.from_wire(outputs)
    for name, value in outputs.items():
        got = getattr(result, _names.to_snake(name))
        assert (list(got) if isinstance(got, tuple) else got) == value, name
