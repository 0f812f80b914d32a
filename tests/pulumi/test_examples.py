"""The two examples, ``examples/pulumi-yaml`` and ``examples/pulumi-typescript``, held to what
the Pulumi package schema declares and to ``stacks/example.yaml``, the stack they both write.
Last, ``tsc --noEmit`` type-checks the TypeScript example (it skips, saying why, without npm or
a reachable registry)."""

from __future__ import annotations

import copy
import fcntl
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtp_iac.pulumi.native.schema import FIELD_NAMES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "pulumi-schema.json"
STACK_FILE = ROOT / "stacks" / "example.yaml"
YAML_PROGRAM = ROOT / "examples" / "pulumi-yaml" / "Pulumi.yaml"
TS_DIR = ROOT / "examples" / "pulumi-typescript"
TS_SDK = TS_DIR / "sdk" / "index.ts"
TS_PROGRAM = TS_DIR / "index.ts"

NPM_TIMEOUT_S = 240
NPM_RETRY = ("--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000")
NPM_WORKDIR = Path.home() / ".cache" / "smtp-iac-tests" / "npm"  # node_modules kept between runs


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


# ----- the examples against the schema and stacks/example.yaml --------------------------------

PROVIDER_TYPE = "pulumi:providers:smtp-iac"
WIRE_NAMES: dict[str, str] = {domain: wire for wire, domain in FIELD_NAMES.items()}
REFERENCE = re.compile(r"\$\{([A-Za-z_][\w-]*)((?:\.[A-Za-z_]\w*|\[\d+\])*)\}")
PROJECT_KEYS = frozenset(
    {
        "name", "runtime", "description", "config", "variables", "resources", "outputs", "packages", "plugins",
        "options", "backend", "template", "author", "license", "main", "stackConfigDir",
    }
)  # fmt: skip
RESOURCE_OPTIONS = frozenset(
    {
        "provider", "providers", "dependsOn", "parent", "protect", "ignoreChanges", "replaceOnChanges",
        "deleteBeforeReplace", "retainOnDelete", "additionalSecretOutputs", "aliases", "customTimeouts",
        "import", "version", "pluginDownloadURL", "hideDiffs", "replaceWith", "deletedWith",
    }
)  # fmt: skip


def expected_scopes() -> dict[str, dict[str, Any] | None]:
    """stacks/example.yaml's scopes: address -> its settings in wire names without the password
    (relays expanded, the use's fields over the relay's), or None for ``inherit``."""
    stack = yaml.safe_load(STACK_FILE.read_text(encoding="utf-8"))
    relays = stack.get("relays", {})
    scopes: dict[str, dict[str, Any] | None] = {}

    def add(address: str, smtp: Any) -> None:
        if smtp is None:
            return
        if smtp == "inherit":
            scopes[address] = None
            return
        fields: dict[str, Any] = dict(smtp)
        if "relay" in fields:
            fields = {**relays[fields.pop("relay")], **fields}
        scopes[address] = {WIRE_NAMES.get(k, k): v for k, v in fields.items() if k != "password"}

    add("controller", stack["controller"].get("smtp"))
    for partner, p in stack.get("partners", {}).items():
        add(f"partners/{partner}", p.get("smtp"))
        for org, o in (p.get("organizations") or {}).items():
            add(f"partners/{partner}/organizations/{org}", o.get("smtp"))
    return scopes


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref", "")
    return schema["types"][ref.removeprefix("#/types/")] if ref.startswith("#/types/") else spec


def _value_problems(schema: dict[str, Any], where: str, spec: dict[str, Any], value: Any) -> list[str]:
    """A literal value against its property spec (``${...}`` interpolations are taken as typed)."""
    if isinstance(value, str) and REFERENCE.fullmatch(value):
        return []
    spec = _resolve(schema, spec)
    kind = spec.get("type")
    if kind == "object" and "properties" in spec:
        if not isinstance(value, dict):
            return [f"{where}: an object is expected"]
        out = [f"{where}.{k}: not a declared property" for k in value if k not in spec["properties"]]
        for k, v in value.items():
            if k in spec["properties"]:
                out += _value_problems(schema, f"{where}.{k}", spec["properties"][k], v)
        return out
    python_types: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool, "array": list}
    python_types["integer"] = int
    python_types["number"] = (int, float)
    ok = kind not in python_types or isinstance(value, python_types[kind])
    if kind in ("integer", "number") and isinstance(value, bool):
        ok = False
    return [] if ok else [f"{where}: {value!r} is not a {kind}"]


def yaml_program_problems(program: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What a Pulumi YAML program uses that the schema does not declare: resource types, input
    properties (the provider's: the config variables), required inputs, invoked functions, their
    arguments, and the result keys and resource outputs its expressions read."""
    problems = [f"top-level key {k!r} is not a Pulumi.yaml key" for k in program if k not in PROJECT_KEYS]
    if program.get("runtime") != "yaml":
        problems.append("runtime is not yaml")
    config = program.get("config") or {}
    resources = program.get("resources") or {}
    variables = program.get("variables") or {}
    invokes: dict[str, dict[str, Any]] = {}  # variable -> the function's spec

    for name, res in resources.items():
        where = f"resources.{name}"
        kind = res.get("type")
        props = res.get("properties") or {}
        if kind == PROVIDER_TYPE:
            declared, required = schema["config"]["variables"], []
        elif kind in schema["resources"]:
            declared = schema["resources"][kind]["inputProperties"]
            required = schema["resources"][kind]["requiredInputs"]
        else:
            problems.append(f"{where}: type {kind!r} is not declared")
            continue
        for prop, value in props.items():
            if prop not in declared:
                problems.append(f"{where}.properties.{prop}: not a declared input of {kind}")
            else:
                problems += _value_problems(schema, f"{where}.properties.{prop}", declared[prop], value)
        problems += [f"{where}: required input {r!r} missing" for r in required if r not in props]
        options = res.get("options") or {}
        problems += [f"{where}.options.{o}: not a resource option" for o in options if o not in RESOURCE_OPTIONS]
        if kind != PROVIDER_TYPE:
            provider = REFERENCE.fullmatch(str(options.get("provider", "")))
            if not provider or (resources.get(provider.group(1)) or {}).get("type") != PROVIDER_TYPE:
                problems.append(f"{where}.options.provider: not a reference to the {PROVIDER_TYPE} resource")

    for name, var in variables.items():
        call = var.get("fn::invoke") if isinstance(var, dict) else None
        if call is None:
            continue
        where = f"variables.{name}.fn::invoke"
        function = schema["functions"].get(call.get("function"))
        if function is None:
            problems.append(f"{where}: function {call.get('function')!r} is not declared")
            continue
        invokes[name] = function
        inputs = function.get("inputs", {})
        args = call.get("arguments") or {}
        problems += [f"{where}.arguments.{a}: not a declared argument" for a in args if a not in inputs["properties"]]
        problems += [f"{where}: argument {r!r} missing" for r in inputs.get("required", []) if r not in args]
        if "return" in call and call["return"] not in function["outputs"]["properties"]:
            problems.append(f"{where}.return: {call['return']!r} is not a declared output")

    for name, spec in config.items():
        if not isinstance(spec, dict) or not set(spec) <= {"type", "default", "secret", "description", "items"}:
            problems.append(f"config.{name}: not a config declaration")

    text = json.dumps({k: program.get(k) for k in ("resources", "variables", "outputs")})
    for match in REFERENCE.finditer(text):
        root, path = match.group(1), match.group(2)
        first = path[1:].split(".")[0].split("[")[0] if path.startswith(".") else None
        if root in invokes:
            if first not in invokes[root]["outputs"]["properties"]:
                problems.append(f"${{{root}{path}}}: {first!r} is not a declared output of the function")
        elif root in resources:
            kind = resources[root].get("type")
            declared = schema["resources"].get(kind, {}).get("properties", {})
            if first is not None and first not in declared and first not in ("id", "urn"):
                problems.append(f"${{{root}{path}}}: {first!r} is not a declared output of {kind}")
        elif root not in config and root not in variables and root != "pulumi":
            problems.append(f"${{{root}{path}}}: {root!r} is neither config, a resource nor a variable")
    return problems


@pytest.fixture(scope="module")
def yaml_program() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(YAML_PROGRAM.read_text(encoding="utf-8"))
    return data


def test_the_yaml_example_uses_only_what_the_schema_declares(
    yaml_program: dict[str, Any], schema: dict[str, Any]
) -> None:
    assert yaml_program_problems(yaml_program, schema) == []


def test_the_yaml_checker_catches_an_undeclared_name(yaml_program: dict[str, Any], schema: dict[str, Any]) -> None:
    broken = copy.deepcopy(yaml_program)
    broken["resources"]["acme"]["properties"]["tls_mode"] = "implicit"
    broken["resources"]["smtp"]["properties"]["verify"]["timeout"] = 15
    broken["variables"]["acmeSalesEffective"]["fn::invoke"]["arguments"]["org"] = "acme/acme-sales"
    broken["outputs"]["acmePassword"] = "${acmeSalesEffective.password}"
    broken["resources"]["acmeSales"]["type"] = "smtp-iac:index:SmtpInherit"
    problems = yaml_program_problems(broken, schema)
    for expected in (
        "resources.acme.properties.tls_mode: not a declared input",
        "resources.smtp.properties.verify.timeout: not a declared property",
        "arguments.org: not a declared argument",
        "'password' is not a declared output of the function",
        "type 'smtp-iac:index:SmtpInherit' is not declared",
    ):
        assert any(expected in p for p in problems), (expected, problems)


def test_the_yaml_example_is_stacks_example_yaml(yaml_program: dict[str, Any]) -> None:
    resources = yaml_program["resources"]
    scopes: dict[str, dict[str, Any] | None] = {}
    for res in resources.values():
        props = dict(res.get("properties") or {})
        if res["type"] == "smtp-iac:index:SmtpInheritance":
            scopes[props["address"]] = None
        elif res["type"] == "smtp-iac:index:SmtpSettings":
            password = props.pop("password")
            root = REFERENCE.fullmatch(password)
            assert root, f"{props['address']}: the password is not a config reference"
            assert yaml_program["config"][root.group(1)].get("secret") is True, f"{root.group(1)} is not secret"
            scopes[props.pop("address")] = props
    assert scopes == expected_scopes()
    stack = yaml.safe_load(STACK_FILE.read_text(encoding="utf-8"))
    (provider,) = [r for r in resources.values() if r["type"] == PROVIDER_TYPE]
    assert provider["properties"]["verify"] == {WIRE_NAMES.get(k, k): v for k, v in stack["verify"].items()}


def _block(text: str, start: int) -> str:
    """The text from ``start`` to the end of the brace block that opens at or after it."""
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[start : j + 1]
    raise AssertionError(f"unbalanced braces after offset {start}")


def ts_interfaces(text: str) -> dict[str, dict[str, bool]]:
    """``export interface Name { field?: ... }`` -> {Name: {field: required}} (top-level fields)."""
    out: dict[str, dict[str, bool]] = {}
    for m in re.finditer(r"^export interface (\w+) ", text, re.M):
        body = _block(text, m.start())
        fields = re.findall(r"^    (?:readonly )?(\w+)(\??):", body, re.M)
        out[m.group(1)] = {name: not optional for name, optional in fields}
    return out


def ts_classes(text: str) -> dict[str, dict[str, Any]]:
    """The resource classes of the SDK: token, base class, and the wire names each registers."""
    out: dict[str, dict[str, Any]] = {}
    for m in re.finditer(r"^export class (\w+) extends pulumi\.(\w+) ", text, re.M):
        body = _block(text, m.start())
        token = re.search(r'__pulumiType = "([^"]+)"', body)
        secrets = re.search(r"additionalSecretOutputs: \[([^\]]*)\]", body)
        out[m.group(1)] = {
            "base": m.group(2),
            "token": token.group(1) if token else None,
            "wire": set(re.findall(r'resourceInputs\["(\w+)"\]', body)),
            "outputs": set(re.findall(r"declare public readonly (\w+):", body)),
            "secret_outputs": set(re.findall(r'"(\w+)"', secrets.group(1))) if secrets else set(),
            "secret_inputs": set(re.findall(r"pulumi\.secret\(args\.(\w+)\)", body)),
        }
    return out


def ts_sdk_problems(text: str, schema: dict[str, Any]) -> list[str]:
    """Where the SDK's tokens, wire names, Args/State/Result fields and secrets differ from the schema."""
    problems: list[str] = []
    classes = ts_classes(text)
    interfaces = ts_interfaces(text)

    def same(what: str, got: Any, want: Any) -> None:
        if got != want:
            problems.append(f"{what}: the SDK has {got!r}, the schema declares {want!r}")

    def secret(props: dict[str, Any]) -> set[str]:
        return {n for n, p in props.items() if p.get("secret")}

    provider = schema["provider"]["inputProperties"]
    by_token = {c["token"]: (name, c) for name, c in classes.items()}
    same("resource tokens", set(by_token) - {schema["name"]}, set(schema["resources"]))
    if schema["name"] not in by_token:
        problems.append(f"no Provider class with __pulumiType {schema['name']!r}")
    else:
        name, c = by_token[schema["name"]]
        same(f"{name} base class", c["base"], "ProviderResource")
        same(f"{name} wire names", c["wire"], set(provider))
        same(f"{name} secret outputs", c["secret_outputs"], secret(provider))
        same(f"{name} secret inputs", c["secret_inputs"], secret(provider))
        same(f"{name}Args fields", interfaces.get(f"{name}Args"), dict.fromkeys(provider, False))
    for token, spec in schema["resources"].items():
        if token not in by_token:
            continue
        name, c = by_token[token]
        same(f"{name} class name", name, token.rsplit(":", 1)[-1])
        same(f"{name} base class", c["base"], "CustomResource")
        same(f"{name} wire names", c["wire"], set(spec["inputProperties"]) | set(spec["properties"]))
        same(f"{name} outputs", c["outputs"], set(spec["properties"]))
        same(f"{name} secret outputs", c["secret_outputs"], secret(spec["properties"]))
        same(f"{name} secret inputs", c["secret_inputs"], secret(spec["inputProperties"]))
        required = set(spec["requiredInputs"])
        same(f"{name}Args fields", interfaces.get(f"{name}Args"), {n: n in required for n in spec["inputProperties"]})
        same(f"{name}State fields", interfaces.get(f"{name}State"), dict.fromkeys(spec["properties"], False))
    for token, spec in schema["types"].items():
        name = token.rsplit(":", 1)[-1]
        required = set(spec.get("required", []))
        same(f"{name}Args fields", interfaces.get(f"{name}Args"), {n: n in required for n in spec["properties"]})

    invoked = re.findall(r'pulumi\.runtime\.invoke(?:Output)?\(\s*"([^"]+)",\s*(\{[^}]*\})', text)
    if not invoked:
        problems.append("no pulumi.runtime.invoke call")
    for token, args in invoked:
        function = schema["functions"].get(token)
        if function is None:
            problems.append(f"invoke of {token!r}: not a declared function")
            continue
        same(f"{token} arguments", set(re.findall(r"(\w+):", args)), set(function["inputs"]["properties"]))
    for token, function in schema["functions"].items():
        name = token.rsplit(":", 1)[-1]
        title = name[0].upper() + name[1:]
        inputs, outputs = function["inputs"], function["outputs"]
        want_args = {n: n in inputs.get("required", []) for n in inputs["properties"]}
        same(f"{title}Args fields", interfaces.get(f"{title}Args"), want_args)
        same(f"{title}OutputArgs fields", interfaces.get(f"{title}OutputArgs"), want_args)
        want_result = {n: n in outputs.get("required", []) for n in outputs["properties"]}
        same(f"{title}Result fields", interfaces.get(f"{title}Result"), want_result)
        if f'"{token}"' not in text:
            problems.append(f"function {token!r} has no wrapper")
    return problems


def test_the_typescript_sdk_registers_exactly_the_declared_names(schema: dict[str, Any]) -> None:
    assert ts_sdk_problems(TS_SDK.read_text(encoding="utf-8"), schema) == []


def test_the_typescript_checker_catches_a_wrong_name(schema: dict[str, Any]) -> None:
    text = TS_SDK.read_text(encoding="utf-8")
    broken = (
        text.replace('resourceInputs["tlsMode"] = args?.tlsMode', 'resourceInputs["tls_mode"] = args?.tlsMode')
        .replace('"smtp-iac:index:SmtpInheritance"', '"smtp-iac:index:Inheritance"')
        .replace('additionalSecretOutputs: ["password"]', "additionalSecretOutputs: []")
    )
    assert broken.count("tls_mode") == 1
    problems = ts_sdk_problems(broken, schema)
    for expected in ("SmtpSettings wire names", "resource tokens", "SmtpSettings secret outputs"):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_the_typescript_example_is_stacks_example_yaml(yaml_program: dict[str, Any]) -> None:
    text = TS_PROGRAM.read_text(encoding="utf-8")
    kinds = {"SmtpSettings": "settings", "SmtpInheritance": None}
    found = {
        address: kinds[kind]
        for kind, address in re.findall(r'new smtp\.(\w+)\(\s*"\w+",\s*\{[^}]*?address: "([^"]+)"', text)
    }
    assert found == {a: None if s is None else "settings" for a, s in expected_scopes().items()}
    assert not re.search(r"password: \"", text), "a password written into the program"
    secrets = set(re.findall(r'config\.requireSecret\("(\w+)"\)', text))
    yaml_secrets = {n for n, c in yaml_program["config"].items() if c.get("secret")}
    assert secrets == yaml_secrets
    project = yaml.safe_load((TS_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "nodejs"
    assert {n for n, c in project["config"].items() if c.get("secret")} == secrets


# ----- tsc --noEmit on the TypeScript example -------------------------------------------------


def _npm_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        NPM_WORKDIR.mkdir(parents=True, exist_ok=True)
        probe = NPM_WORKDIR / ".probe"
        probe.write_text("")
        probe.unlink()
        return NPM_WORKDIR
    except OSError:
        return tmp_path_factory.mktemp("npm")


def _sync(work: Path) -> None:
    """The example's files into ``work``, keeping only its node_modules and lock file."""
    for entry in work.iterdir():
        if entry.name in ("node_modules", "package-lock.json"):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    ignore = shutil.ignore_patterns("node_modules", "package-lock.json")
    shutil.copytree(TS_DIR, work, ignore=ignore, dirs_exist_ok=True)


def _npm_error(stderr: str) -> str:
    """npm's error code and first message line (``ENOTFOUND: network request to ... failed``)."""
    lines = [re.sub(r"^npm (?:error|ERR!)\s*", "", line) for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("npm warn", "syscall ", "errno "))]
    code = next((line.split()[1] for line in lines if line.startswith("code ")), "no error code")
    detail = next((line for line in lines if not line.startswith("code ")), "")
    return f"{code}: {detail}"


# npm error codes that mean the example's package.json is wrong, not that the registry is away.
OUR_FAULT = re.compile(r"npm (?:error|ERR!) code (ETARGET|E404|EJSONPARSE|ERESOLVE|EINVALIDTAGNAME)")


@pytest.mark.slow
@pytest.mark.timeout(NPM_TIMEOUT_S + 180)
def test_the_typescript_example_type_checks(tmp_path_factory: pytest.TempPathFactory) -> None:
    npm, npx = shutil.which("npm"), shutil.which("npx")
    if npm is None or npx is None:
        pytest.skip("npm is not installed: the TypeScript example is not type-checked")
    base = _npm_workdir(tmp_path_factory)
    with (base / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time in the shared cache
        work = base / "pulumi-typescript"
        work.mkdir(exist_ok=True)
        _sync(work)
        started = time.monotonic()
        try:
            installed = subprocess.run(
                # One quick retry: without a registry npm's default backoff takes minutes to give up.
                [npm, "install", "--no-audit", "--no-fund", *NPM_RETRY],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install did not finish in {NPM_TIMEOUT_S} s (is the npm registry reachable?)")
        took = time.monotonic() - started
        print(f"npm install: {took:.1f} s in {work}")
        if installed.returncode != 0:
            log = installed.stderr[-3000:]
            assert not OUR_FAULT.search(log), f"npm install refused examples/pulumi-typescript/package.json:\n{log}"
            pytest.skip(f"npm install failed after {took:.0f} s, is the npm registry reachable? {_npm_error(log)}")

        checked = subprocess.run(
            [npx, "--no", "--", "tsc", "--noEmit", "--pretty", "false", "-p", "."],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert checked.returncode == 0, f"tsc --noEmit found errors:\n{checked.stdout}{checked.stderr}"

        # And the SDK's types refuse what the schema refuses: a string port, a misspelt input.
        (work / "negative.ts").write_text(
            'import * as smtp from "./sdk";\n'
            'new smtp.SmtpSettings("s", { address: "controller", host: "h", port: "587", tls: true,'
            ' username: "u", password: "p" });\n'
            'new smtp.SmtpInheritance("i", { adress: "partners/acme" });\n',
            encoding="utf-8",
        )
        (work / "tsconfig.negative.json").write_text(
            json.dumps({"extends": "./tsconfig.json", "files": ["negative.ts"]}), encoding="utf-8"
        )
        refused = subprocess.run(
            [npx, "--no", "--", "tsc", "--noEmit", "--pretty", "false", "-p", "tsconfig.negative.json"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert refused.returncode != 0
        assert "negative.ts(2," in refused.stdout and "'Input<number>'" in refused.stdout, refused.stdout
        assert "negative.ts(3," in refused.stdout and "adress" in refused.stdout, refused.stdout
