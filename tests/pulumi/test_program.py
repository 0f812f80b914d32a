"""The Pulumi program under ``pulumi.runtime.set_mocks``: resources, names, types and secret
inputs per stack file; and the exact ``__provider`` it produces, fed to the real host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi_engine import SECRET_SIG, SIG_KEY, ProviderHost
from pulumi_support import PASSWORD, ROOT, TENANTS, USER

from smtp_iac.addresses import Address
from smtp_iac.models import INHERIT
from smtp_iac.pulumi import program
from smtp_iac.pulumi.resources import INHERITANCE_TYPE, SETTINGS_TYPE
from smtp_iac.reading.stackfile import load
from smtp_iac.store import generate_key, open_store

pytestmark = pytest.mark.timeout(180)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping each RegisterResource request as the engine would get it
    (secrets still wrapped, additional secret outputs listed)."""

    def __init__(self, mocks):
        super().__init__(mocks)
        self.requests = []

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self.requests.append(request)
        return super().RegisterResource(request)


class EchoMocks(Mocks):
    def new_resource(self, args):
        return args.name, dict(args.inputs)

    def call(self, args):
        return {}, None


def run_program(stack: str, root: Path, config: dict[str, str], secret_keys: list[str]):
    monitor = RecordingMonitor(EchoMocks())
    pulumi.runtime.set_mocks(EchoMocks(), project="smtp-iac", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys)
    try:

        @pulumi.runtime.test
        def declare():
            resources = program.build(root=root)
            return pulumi.Output.all(*[r.urn for r in resources.values()])

        declare()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return {r.name: r for r in monitor.requests}


def raw(request) -> dict:
    return json_format.MessageToDict(request.object)


def is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap(props: dict) -> dict:
    return {k: (v["value"] if is_secret(v) else v) for k, v in props.items()}


@pytest.fixture
def example_env(monkeypatch, tmp_path):
    """A copy of the repository's stacks/ with the secrets its references need."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "stacks", root / "stacks")
    secret_values = {}
    for path in sorted((root / "stacks").glob("*.yaml")):
        loaded = load(path)
        for address, desired in loaded.stack.scopes().items():
            if desired == INHERIT:
                continue
            ref = desired.password
            value = f"secret-for-{path.stem}-{address}".replace("/", "-")
            if hasattr(ref, "env"):
                value = secret_values.setdefault(("env", ref.env), value)
                monkeypatch.setenv(ref.env, value)
            elif hasattr(ref, "file"):
                f = loaded.base_dir / ref.file
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(value + "\n")
                secret_values[("file", str(f))] = value
            else:
                secret_values[("pulumi_config", ref.pulumi_config)] = value
    config = {
        (k[1] if ":" in k[1] else f"smtp-iac:{k[1]}"): v for k, v in secret_values.items() if k[0] == "pulumi_config"
    }
    return root, config, secret_values


def expected_password(ref, loaded, config) -> str:
    if hasattr(ref, "env"):
        return os.environ[ref.env]
    if hasattr(ref, "file"):
        return (loaded.base_dir / ref.file).read_text().rstrip("\n")
    key = ref.pulumi_config
    return config[key if ":" in key else f"smtp-iac:{key}"]


STACKS = sorted(p.stem for p in (ROOT / "stacks").glob("*.yaml"))


def test_there_are_example_stacks():
    assert {"dev", "example"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_program_declares_one_resource_per_managed_scope(stack, example_env):
    root, config, secret_values = example_env
    loaded = load(root / "stacks" / f"{stack}.yaml")
    requests = run_program(stack, root, config, list(config))
    scopes = loaded.stack.scopes()
    assert set(requests) == {str(a) for a in scopes}, "named by address, one per managed scope"
    for address, desired in scopes.items():
        req = requests[str(address)]
        props = raw(req)
        assert props["address"] == str(address) and props["stack"] == loaded.name
        assert props["stack_file"] == f"stacks/{stack}.yaml"
        assert is_secret(props["__provider"])
        if desired == INHERIT:
            assert req.type == INHERITANCE_TYPE
            assert "password" not in props and "host" not in props
            continue
        assert req.type == SETTINGS_TYPE
        assert list(req.additionalSecretOutputs) == ["password"]
        assert is_secret(props["password"]), "the password reaches the resource as a secret"
        plain = json.dumps({k: v for k, v in props.items() if not is_secret(v)})
        assert all(v not in plain for v in secret_values.values())
        assert props["password"]["value"] == expected_password(desired.password, loaded, config)
        assert (props["host"], props["port"], props["tls"]) == (desired.host, desired.port, desired.tls)


def test_types_are_distinct_for_policy_packs():
    assert SETTINGS_TYPE == "pulumi-python:dynamic/smtp-iac:SmtpSettings"
    assert INHERITANCE_TYPE == "pulumi-python:dynamic/smtp-iac:SmtpInheritance"


def test_a_bad_stack_file_fails_with_the_validate_messages(tmp_path):
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "bad.yaml").write_text(
        "version: 1\ncontroller:\n  smtp:\n    hots: smtp.example.com\n    port: 465\n    tls: false\n"
        "    username: u\n    password: plain-text\n"
    )
    with pytest.raises(pulumi.RunError) as exc:
        run_program("bad", root, {}, [])
    lines = str(exc.value).splitlines()
    validate = subprocess.run(
        [str(Path(sys.executable).with_name("smtp-iac")), "validate", "stacks/bad.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 1
    expected = [
        ln
        for ln in validate.stdout.splitlines()
        if ln.startswith("stacks/bad.yaml:") and not ln.startswith("stacks/bad.yaml: ")
    ]
    assert lines == expected and any(": error: " in ln and "hots" in ln for ln in lines)
    assert "Traceback" not in str(exc.value)


def test_a_missing_stack_file_says_which(tmp_path):
    (tmp_path / "stacks").mkdir()
    with pytest.raises(pulumi.RunError, match=r"stacks/nope\.yaml: no stack file for Pulumi stack 'nope'"):
        run_program("nope", tmp_path, {}, [])


def test_an_unset_env_reference_fails_cleanly(tmp_path, monkeypatch):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "s.yaml").write_text(
        "version: 1\ncontroller:\n  smtp: {host: h.example, port: 587, tls: true, username: u, "
        "password: {env: SMTPIAC_TEST_UNSET_VAR}}\n"
    )
    monkeypatch.delenv("SMTPIAC_TEST_UNSET_VAR", raising=False)
    with pytest.raises(pulumi.RunError, match="controller: password reference env:SMTPIAC_TEST_UNSET_VAR"):
        run_program("s", tmp_path, {}, [])


@pytest.mark.slow
def test_the_programs_own_provider_works_in_the_real_host(tmp_path, monkeypatch, relay, ca):
    """The program's exact registrations (``__provider`` included) fed to the real host, whose
    working directory is a project root WITHOUT the package: the host imports the provider
    module from the installed package. The store comes from the stack file's ``store:``
    (relative to that root), the key from config."""
    root = tmp_path / "project"
    (root / "stacks" / "certs").mkdir(parents=True)
    (root / "stacks" / "secrets").mkdir()
    ca.cert_pem.write_to_path(str(root / "stacks" / "certs" / "ca.pem"))
    (root / "stacks" / "secrets" / "eu.txt").write_text(PASSWORD + "\n")
    monkeypatch.setenv("CI_RELAY_PASSWORD", PASSWORD)
    port = relay.port
    (root / "stacks" / "ci.yaml").write_text(f"""version: 1
store: sqlite:///state/store.db
verify: {{mode: login, ca_file: certs/ca.pem, timeout_seconds: 10}}
controller:
  smtp: {{host: 127.0.0.1, port: {port}, tls: true, username: {USER}, password: {{pulumi_config: relayPassword}}}}
partners:
  acme:
    smtp: {{host: localhost, port: {port}, tls: true, username: {USER}, password: {{env: CI_RELAY_PASSWORD}},
            sender: no-reply@acme.example}}
    organizations:
      acme-eu:
        smtp: {{host: 127.0.0.1, port: {port}, tls: true, tls_mode: starttls, username: {USER},
                password: {{file: secrets/eu.txt}}}}
      acme-us:
        smtp: inherit
""")
    key = generate_key()
    (root / "state").mkdir()
    store_url = f"sqlite:///{root / 'state' / 'store.db'}"
    with open_store(store_url, key=key) as s:
        s.load_tenants(TENANTS, actor="test")

    requests = run_program("ci", root, {"smtp-iac:relayPassword": PASSWORD}, ["smtp-iac:relayPassword"])
    assert len(requests) == 4

    host = ProviderHost(root, tmp_path / "stderr.log")
    try:
        host.configure(
            {"smtp-iac:storeKey": key, "smtp-iac:relayPassword": PASSWORD},
            secret_keys={"smtp-iac:storeKey", "smtp-iac:relayPassword"},
        )
        for name, req in requests.items():
            news = unwrap(raw(req))
            urn_ = f"urn:pulumi:ci::smtp-iac::{req.type}::{name}"
            checked, failures = host.check(urn_, {}, news)
            assert failures == [], (name, failures)
            id_, outs = host.create(urn_, checked)
            assert id_ == name
            assert PASSWORD not in str({k: v for k, v in outs.items() if k != "password"})
    finally:
        host.close()
    assert relay.stats.auth_attempts == 2, "one check per relay + credentials (controller and acme-eu share one)"
    with open_store(store_url, key=key) as s:
        records = {str(r.address): r for r in s.list_records()}
        assert set(records) == {"controller", "partners/acme", "partners/acme/organizations/acme-eu"}
        assert {r.managed_by for r in records.values()} == {"ci"}
        assert {r.password_fingerprint for r in records.values()} == {s.fingerprint(Address(), PASSWORD)}
        assert s.get(Address("acme", "acme-us")) is None


def test_pulumi_yaml_names_the_project_and_its_virtualenv():
    import yaml

    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert doc["name"] == "smtp-iac", "config keys then read smtp-iac:store"
    assert doc["runtime"]["name"] == "python"
    assert doc["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}


def test_the_project_entry_point_runs_the_program(example_env, monkeypatch):
    """``__main__.py`` at the project root, run the way the language host runs a project
    directory (runpy, working directory = project root)."""
    import runpy

    root, config, _ = example_env
    monitor = RecordingMonitor(EchoMocks())
    pulumi.runtime.set_mocks(EchoMocks(), project="smtp-iac", stack="dev", preview=True, monitor=monitor)
    pulumi.runtime.set_all_config(config, list(config))
    monkeypatch.chdir(root)
    try:

        @pulumi.runtime.test
        def run():
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
            return pulumi.Output.from_input(None)

        run()
    finally:
        pulumi.runtime.set_all_config({}, [])
    names = {r.name for r in monitor.requests}
    assert names == {str(a) for a in load(root / "stacks" / "dev.yaml").stack.scopes()}


RELAY_STACK = """version: 1
verify: {mode: off}
relays:
  main:
    host: smtp.example.com
    port: 465
    tls: true
    username: mailer
    password: {env: RELAY_TEST_MAIN_PW}
    sender: no-reply@example.com
  other:
    host: smtp.other.example
    port: 587
    tls: true
    tls_mode: starttls
    username: other
    password: {env: RELAY_TEST_OTHER_PW}
controller:
  smtp: {relay: main}
partners:
  acme:
    smtp: {relay: main, port: 587, tls_mode: starttls, sender: a@acme.example}
    organizations:
      acme-eu:
        smtp: {relay: other, password: {file: secrets/eu.txt}}
      acme-us:
        smtp: inherit
  globex:
    smtp: {relay: other}
"""


def test_a_relay_stack_declares_what_the_cli_plan_shows(any_store, tmp_path, monkeypatch, capsys):
    """The same relay-using stack through ``smtp-iac plan`` and through the Pulumi program:
    the same scopes, the same merged settings, the same passwords (by the store's fingerprint)."""
    from smtp_iac.cli.app import run

    root = tmp_path / "project"
    (root / "stacks" / "secrets").mkdir(parents=True)
    (root / "stacks" / "relays.yaml").write_text(RELAY_STACK)
    (root / "stacks" / "secrets" / "eu.txt").write_text("eu-" + PASSWORD + "\n")
    monkeypatch.setenv("RELAY_TEST_MAIN_PW", PASSWORD)
    monkeypatch.setenv("SMTP_IAC_STORE", any_store.url)
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", any_store.key)
    if any_store.token:
        monkeypatch.setenv("SMTP_IAC_TOKEN", any_store.token)
    monkeypatch.setenv("RELAY_TEST_OTHER_PW", "other-" + PASSWORD)
    monkeypatch.chdir(root)

    capsys.readouterr()
    assert run(["plan", "stacks/relays.yaml", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    planned = {s["address"]: s for s in plan["scopes"]}

    requests = run_program("relays", root, {}, [])
    assert (
        set(requests)
        == set(planned)
        == {
            "controller",
            "partners/acme",
            "partners/acme/organizations/acme-eu",
            "partners/acme/organizations/acme-us",
            "partners/globex",
        }
    )
    for address, scope in planned.items():
        req = requests[address]
        if scope["desired"] == "inherit":
            assert req.type == INHERITANCE_TYPE
            continue
        props = raw(req)
        declared = {k: props.get(k) for k in scope["fields"]}
        assert declared == scope["fields"], address
        fp = any_store.shown_fingerprint(Address.parse(address), props["password"]["value"])
        assert fp == scope["password_fingerprint"], address
    acme = planned["partners/acme"]["fields"]
    assert (acme["host"], acme["port"], acme["tls_mode"], acme["sender"]) == (
        "smtp.example.com",
        587,
        "starttls",
        "a@acme.example",
    )
    assert raw(requests["partners/acme/organizations/acme-eu"])["password"]["value"] == "eu-" + PASSWORD
