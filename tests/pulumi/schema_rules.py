"""Pulumi's package metaschema rules (``pkg/codegen/schema/pulumi.json`` in pulumi/pulumi), checked
by hand: token and name patterns, the five kinds of type reference, property, resource and
function specs, plus this package's own rules (camelCase names, secrets marked). Where the
metaschema is lax the checker is stricter, and says so: an unknown key in a property spec (a
misspelt ``secrte``) is refused, not ignored; a ``$ref`` must resolve in this document or be
one of ``pulumi.json``'s built-in types. ``schema_problems(schema)`` lists every problem."""

from __future__ import annotations

import re
from typing import Any

# ----- the metaschema's rules -----------------------------------------------------------------

PACKAGE_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9_]*$")
TOKEN = re.compile(r"^[a-zA-Z][-a-zA-Z0-9_]*:([^0-9][a-zA-Z0-9._/-]*)?:[^0-9][a-zA-Z0-9._/-]*$")
_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER = re.compile(
    rf"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-{_IDENT}(?:\.{_IDENT})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")  # this package's rule: wire names as every Pulumi package has them

TOP_LEVEL_KEYS = frozenset(
    {
        "name", "displayName", "version", "description", "keywords", "homepage", "license", "attribution",
        "repository", "logoUrl", "pluginDownloadURL", "configurationDocsUrl", "validateCredentialsOnNew",
        "publisher", "namespace", "meta", "config", "types", "dependencies", "provider", "resources",
        "functions", "language", "parameterization", "allowedPackageNames",
    }
)  # fmt: skip
STRING_KEYS = (
    "displayName", "description", "homepage", "license", "attribution", "repository", "logoUrl",
    "pluginDownloadURL", "configurationDocsUrl", "publisher", "namespace",
)  # fmt: skip
PRIMITIVES = frozenset({"boolean", "integer", "number", "string"})
TYPE_SPEC_KEYS = frozenset({"type", "items", "additionalProperties", "$ref", "oneOf", "discriminator", "plain"})
PROPERTY_KEYS = TYPE_SPEC_KEYS | {
    "description", "const", "default", "defaultInfo", "deprecationMessage", "language", "secret",
    "replaceOnChanges", "willReplaceOnChanges",
}  # fmt: skip
OBJECT_TYPE_KEYS = frozenset(
    {"description", "properties", "type", "required", "language", "isOverlay", "overlaySupportedLanguages"}
)
COMPLEX_TYPE_KEYS = OBJECT_TYPE_KEYS | {"enum"}
RESOURCE_KEYS = OBJECT_TYPE_KEYS | {
    "inputProperties", "requiredInputs", "stateInputs", "listInputs", "aliases", "deprecationMessage",
    "isComponent", "methods",
}  # fmt: skip
FUNCTION_KEYS = frozenset(
    {
        "description", "inputs", "multiArgumentInputs", "outputs", "returnType", "deprecationMessage",
        "language", "isOverlay", "overlaySupportedLanguages", "plain",
    }
)  # fmt: skip
BUILTIN_REFS = frozenset({"pulumi.json#/Any", "pulumi.json#/Archive", "pulumi.json#/Asset", "pulumi.json#/Json"})

# This package's secrets: where each must be marked.
SECRET_NAMES = frozenset({"password", "storeKey", "token"})


def schema_problems(schema: Any) -> list[str]:
    """Every way ``schema`` breaks the metaschema's rules or this package's, as messages naming
    the place (``resources.smtp-iac:index:SmtpSettings.inputProperties.password``); [] if none."""
    problems: list[str] = []
    if not isinstance(schema, dict):
        return ["the schema is not an object"]
    for key in sorted(set(schema) - TOP_LEVEL_KEYS):
        problems.append(f"top-level key {key!r} is not one the metaschema allows")
    name = schema.get("name")
    if not isinstance(name, str) or not PACKAGE_NAME.match(name):
        problems.append(f"name {name!r} does not match {PACKAGE_NAME.pattern}")
        name = ""
    if "version" in schema and not (isinstance(schema["version"], str) and SEMVER.match(schema["version"])):
        problems.append(f"version {schema['version']!r} is not semver")
    for key in STRING_KEYS:
        if key in schema and not isinstance(schema[key], str):
            problems.append(f"{key} is not a string")
    keywords = schema.get("keywords", [])
    if not (isinstance(keywords, list) and all(isinstance(k, str) for k in keywords)):
        problems.append("keywords is not a list of strings")
    if not isinstance(schema.get("language", {}), dict):
        problems.append("language is not an object")

    types = schema.get("types", {})
    resources = schema.get("resources", {})
    functions = schema.get("functions", {})
    for section in ("types", "resources", "functions"):
        entries = schema.get(section, {})
        if not isinstance(entries, dict):
            problems.append(f"{section} is not an object")
            continue
        for token in entries:
            if not TOKEN.match(token):
                problems.append(f"{section}: token {token!r} does not match {TOKEN.pattern}")
            elif not token.startswith(f"{name}:"):
                problems.append(f"{section}: token {token!r} is not in package {name!r}")
    if not (isinstance(types, dict) and isinstance(resources, dict) and isinstance(functions, dict)):
        return problems
    checker = _Checker(problems, types, resources)

    config = schema.get("config", {})
    for key in sorted(set(config) - {"variables", "defaults"}):
        problems.append(f"config: key {key!r} is not one the metaschema allows")
    variables = config.get("variables", {})
    checker.properties("config.variables", variables)
    for default in config.get("defaults", []):
        if default not in variables:
            problems.append(f"config.defaults: {default!r} is not a config variable")

    for token, spec in types.items():
        checker.complex_type(f"types.{token}", spec)
    if "provider" in schema:
        checker.resource("provider", schema["provider"])
    for token, spec in resources.items():
        checker.resource(f"resources.{token}", spec)
    for token, spec in functions.items():
        checker.function(f"functions.{token}", spec)
    return problems


class _Checker:
    def __init__(self, problems: list[str], types: dict[str, Any], resources: dict[str, Any]) -> None:
        self.problems = problems
        self.types = types
        self.resources = resources

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def type_spec(self, where: str, spec: Any) -> None:
        """One of the metaschema's five type references: named ($ref), union (oneOf), array,
        map (object) or primitive, each with only the keys its kind allows."""
        if not isinstance(spec, dict):
            self.add(where, "a type reference must be an object")
            return
        present = set(spec) & TYPE_SPEC_KEYS
        if "plain" in spec and not isinstance(spec["plain"], bool):
            self.add(where, "plain must be a boolean")
        if "$ref" in spec:
            self._no(where, "a named type ($ref)", present, {"additionalProperties", "items", "oneOf"})
            self.ref(where, spec["$ref"])
        elif "oneOf" in spec:
            self._no(where, "a union (oneOf)", present, {"additionalProperties", "items"})
            if "type" in spec and spec["type"] not in PRIMITIVES:
                self.add(where, f"a union's type must be one of {sorted(PRIMITIVES)}")
            members = spec["oneOf"]
            if not isinstance(members, list) or len(members) < 2:
                self.add(where, "oneOf needs at least two types")
            else:
                for i, member in enumerate(members):
                    self.type_spec(f"{where}.oneOf[{i}]", member)
        elif spec.get("type") == "array":
            self._no(where, "an array", present, {"additionalProperties", "oneOf", "discriminator"})
            if "items" not in spec:
                self.add(where, "an array needs items")
            else:
                self.type_spec(f"{where}.items", spec["items"])
        elif spec.get("type") == "object":
            self._no(where, "a map (object)", present, {"items", "oneOf", "discriminator"})
            if "properties" in spec:
                self.add(where, "an inline object type is no type reference: declare it in types and $ref it")
            if "additionalProperties" in spec:
                self.type_spec(f"{where}.additionalProperties", spec["additionalProperties"])
        elif spec.get("type") in PRIMITIVES:
            self._no(where, "a primitive", present, {"additionalProperties", "items", "oneOf", "discriminator"})
        else:
            self.add(where, f"type {spec.get('type')!r} is none of {sorted(PRIMITIVES | {'array', 'object'})}")

    def _no(self, where: str, kind: str, present: set[str], forbidden: set[str]) -> None:
        for key in sorted(present & forbidden):
            self.add(where, f"{kind} may not have {key!r}")

    def ref(self, where: str, ref: Any) -> None:
        if not isinstance(ref, str):
            self.add(where, "$ref must be a string")
        elif ref.startswith("#/types/"):
            if ref.removeprefix("#/types/") not in self.types:
                self.add(where, f"$ref {ref!r} does not resolve into types")
        elif ref.startswith("#/resources/"):
            if ref.removeprefix("#/resources/") not in self.resources:
                self.add(where, f"$ref {ref!r} does not resolve into resources")
        elif ref not in BUILTIN_REFS:
            self.add(where, f"$ref {ref!r} is neither in this document nor one of {sorted(BUILTIN_REFS)}")

    def property(self, where: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            self.add(where, "a property must be an object")
            return
        for key in sorted(set(spec) - PROPERTY_KEYS):
            self.add(where, f"unknown property key {key!r}")
        self.type_spec(where, spec)
        for key in ("description", "deprecationMessage"):
            if key in spec and not isinstance(spec[key], str):
                self.add(where, f"{key} must be a string")
        for key in ("secret", "replaceOnChanges", "willReplaceOnChanges"):
            if key in spec and not isinstance(spec[key], bool):
                self.add(where, f"{key} must be a boolean")
        for key in ("const", "default"):
            if key in spec and not isinstance(spec[key], bool | int | float | str):
                self.add(where, f"{key} must be a boolean, number or string")
        name = where.rsplit(".", 1)[-1]
        if name in SECRET_NAMES and spec.get("secret") is not True:
            self.add(where, "a password or key must be marked secret: true")

    def properties(self, where: str, props: Any) -> None:
        if not isinstance(props, dict):
            self.add(where, "must be an object of properties")
            return
        for name, spec in props.items():
            if not CAMEL_CASE.match(name):
                self.add(f"{where}.{name}", "property names are camelCase (no underscores)")
            self.property(f"{where}.{name}", spec)

    def _names(self, where: str, names: Any, declared: Any, what: str) -> None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.add(where, "must be a list of names")
            return
        for n in names:
            if not isinstance(declared, dict) or n not in declared:
                self.add(where, f"{n!r} is not in {what}")

    def object_type(self, where: str, spec: dict[str, Any], allowed: frozenset[str]) -> None:
        for key in sorted(set(spec) - allowed):
            self.add(where, f"unknown key {key!r}")
        if "description" in spec and not isinstance(spec["description"], str):
            self.add(where, "description must be a string")
        props = spec.get("properties", {})
        self.properties(f"{where}.properties", props)
        self._names(f"{where}.required", spec.get("required", []), props, "properties")

    def complex_type(self, where: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            self.add(where, "a type must be an object")
        elif "enum" in spec:
            if spec.get("type") not in PRIMITIVES:
                self.add(where, f"an enum's type must be one of {sorted(PRIMITIVES)}")
            values = spec["enum"]
            if not isinstance(values, list) or not all(isinstance(v, dict) and "value" in v for v in values):
                self.add(where, "enum must be a list of {value: ...}")
        else:
            if spec.get("type") != "object":
                self.add(where, "an object type must have type: object")
            self.object_type(where, spec, COMPLEX_TYPE_KEYS)

    def resource(self, where: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            self.add(where, "a resource must be an object")
            return
        self.object_type(where, spec, RESOURCE_KEYS)
        inputs = spec.get("inputProperties", {})
        self.properties(f"{where}.inputProperties", inputs)
        self._names(f"{where}.requiredInputs", spec.get("requiredInputs", []), inputs, "inputProperties")
        for key in ("stateInputs", "listInputs"):
            if key in spec:
                self.object_type(f"{where}.{key}", spec[key], OBJECT_TYPE_KEYS)

    def function(self, where: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            self.add(where, "a function must be an object")
            return
        for key in sorted(set(spec) - FUNCTION_KEYS):
            self.add(where, f"unknown key {key!r}")
        inputs = spec.get("inputs", {})
        if inputs:
            self.object_type(f"{where}.inputs", inputs, OBJECT_TYPE_KEYS)
        arg_names = spec.get("multiArgumentInputs", [])
        self._names(f"{where}.multiArgumentInputs", arg_names, inputs.get("properties", {}), "inputs")
        for key in ("outputs", "returnType"):
            out = spec.get(key)
            if out is None:
                continue
            if isinstance(out, dict) and out.get("type") == "object" and "properties" in out:
                self.object_type(f"{where}.{key}", out, OBJECT_TYPE_KEYS)  # an objectTypeSpec
            else:
                self.type_spec(f"{where}.{key}", out)
            for name in out.get("properties", {}) if isinstance(out, dict) else ():
                if name in SECRET_NAMES - {"token"}:
                    self.add(f"{where}.{key}.properties.{name}", "a function result never carries a password")
