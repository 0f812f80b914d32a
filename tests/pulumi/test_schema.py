"""The committed Pulumi package schema (``schemas/pulumi-schema.json``): the one the plugin
serves, following the rules of Pulumi's package metaschema (``schema_rules``); broken copies of
it are caught, so the checks can fail."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from schema_rules import schema_problems

from smtp_iac.pulumi.native.schema import package_schema, schema_json

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "pulumi-schema.json"


# ----- the committed schema -------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def test_the_committed_schema_is_the_generated_one(schema: dict[str, Any]) -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json(), (
        "schemas/pulumi-schema.json is stale: python -m smtp_iac.pulumi.native.schema > schemas/pulumi-schema.json"
    )
    assert schema == json.loads(schema_json()) == package_schema()


def test_the_schema_follows_the_metaschema_and_the_package_rules(schema: dict[str, Any]) -> None:
    assert schema_problems(schema) == []


def test_the_schema_declares_what_the_provider_serves(schema: dict[str, Any]) -> None:
    assert schema["name"] == "smtp-iac"
    assert set(schema["resources"]) == {"smtp-iac:index:SmtpSettings", "smtp-iac:index:SmtpInheritance"}
    assert set(schema["functions"]) == {"smtp-iac:index:getEffectiveSettings"}
    assert set(schema["types"]) == {"smtp-iac:index:VerifyOptions"}
    variables = schema["config"]["variables"]
    assert set(variables) == {"store", "storeKey", "token", "owner", "adopt", "verify"}
    assert schema["provider"]["inputProperties"] == variables  # explicit provider = default provider's config
    secret = {n for n, p in variables.items() if p.get("secret")}
    assert secret == {"storeKey", "token"}
    settings = schema["resources"]["smtp-iac:index:SmtpSettings"]
    assert settings["inputProperties"]["password"]["secret"] is True
    assert settings["properties"]["password"]["secret"] is True
    assert [n for n, p in settings["properties"].items() if p.get("secret")] == ["password"]
    for spec in schema["resources"].values():  # every input is also an output, with the same spec
        assert {n: spec["properties"][n] for n in spec["inputProperties"]} == spec["inputProperties"]
        assert set(spec["requiredInputs"]) <= set(spec["required"])


def _mutations() -> Iterator[tuple[str, Callable[[dict[str, Any]], None], str]]:
    settings = "smtp-iac:index:SmtpSettings"

    def unmark_password(s: dict[str, Any]) -> None:
        del s["resources"][settings]["properties"]["password"]["secret"]

    def unmark_token(s: dict[str, Any]) -> None:
        s["provider"]["inputProperties"]["token"]["secret"] = False

    def require_undeclared(s: dict[str, Any]) -> None:
        s["resources"][settings]["requiredInputs"].append("hostname")

    def dangling_ref(s: dict[str, Any]) -> None:
        s["config"]["variables"]["verify"]["$ref"] = "#/types/smtp-iac:index:VerifyOption"

    def primitive_with_items(s: dict[str, Any]) -> None:
        s["resources"][settings]["inputProperties"]["port"]["items"] = {"type": "integer"}

    def array_without_items(s: dict[str, Any]) -> None:
        del s["functions"]["smtp-iac:index:getEffectiveSettings"]["outputs"]["properties"]["chain"]["items"]

    def foreign_token(s: dict[str, Any]) -> None:
        s["resources"]["smtp:index:Other"] = s["resources"][settings]

    def digit_token(s: dict[str, Any]) -> None:
        s["types"]["smtp-iac:index:9Verify"] = s["types"]["smtp-iac:index:VerifyOptions"]

    def snake_case(s: dict[str, Any]) -> None:
        inputs = s["resources"][settings]["inputProperties"]
        inputs["tls_mode"] = inputs.pop("tlsMode")

    def misspelt_secret(s: dict[str, Any]) -> None:
        s["resources"][settings]["inputProperties"]["host"]["secrte"] = True

    def top_level_typo(s: dict[str, Any]) -> None:
        s["resource"] = s.pop("resources")

    def not_semver(s: dict[str, Any]) -> None:
        s["version"] = "0.7"

    def result_requires_undeclared(s: dict[str, Any]) -> None:
        s["functions"]["smtp-iac:index:getEffectiveSettings"]["outputs"]["required"].append("relay")

    yield "password output not secret", unmark_password, ".properties.password: a password or key must be marked"
    yield "provider token not secret", unmark_token, "provider.inputProperties.token: a password or key"
    yield "required input undeclared", require_undeclared, "'hostname' is not in inputProperties"
    yield "dangling $ref", dangling_ref, "does not resolve into types"
    yield "primitive with items", primitive_with_items, "a primitive may not have 'items'"
    yield "array without items", array_without_items, "an array needs items"
    yield "token of another package", foreign_token, "is not in package 'smtp-iac'"
    yield "token starting with a digit", digit_token, "does not match"
    yield "snake_case property", snake_case, "tls_mode: property names are camelCase"
    yield "misspelt key", misspelt_secret, "unknown property key 'secrte'"
    yield "top-level typo", top_level_typo, "top-level key 'resource'"
    yield "version not semver", not_semver, "is not semver"
    yield "function result requires undeclared", result_requires_undeclared, "outputs.required: 'relay' is not in"


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in _mutations()], ids=[m[0] for m in _mutations()])
def test_a_broken_copy_of_the_schema_is_caught(
    schema: dict[str, Any], mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    broken = copy.deepcopy(schema)
    mutate(broken)
    problems = schema_problems(broken)
    assert any(expected in p for p in problems), problems
