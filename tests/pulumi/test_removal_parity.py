"""A scope removed from a stack file: the CLI and Pulumi do the same thing (the IaC lifecycle).

Pulumi destroys a resource the program no longer declares; the CLI plans a record the stack
still manages but no longer mentions as ``delete`` (SPEC: "removed from the stack"). Here the
same edit goes both ways, from the same store: the CLI through ``plan``/``apply``, Pulumi as the
engine would do it (the program run under the SDK's mocks before and after the edit; every
resource it stops declaring deleted through the real provider). Both plan the same deletions
and leave the same records."""

from __future__ import annotations

import json
import shutil

import yaml
from pulumi.dynamic import Config, ConfigureRequest
from pulumi_support import TENANTS
from test_program import run_program

from smtp_iac.addresses import Address
from smtp_iac.cli.app import run
from smtp_iac.pulumi.provider import SmtpSettingsProvider
from smtp_iac.store import generate_key, open_store


def _smtp(host: str) -> dict:
    return {"host": host, "port": 587, "tls": True, "username": "u", "password": {"env": "PARITY_PW"}}


def _doc(with_org: bool) -> dict:
    acme: dict = {"smtp": _smtp("smtp.acme.example")}
    if with_org:
        acme["organizations"] = {"acme-us": {"smtp": _smtp("smtp.us.example")}}
    return {
        "version": 1,
        "name": "prod",
        "verify": {"mode": "off"},
        "controller": {"smtp": _smtp("smtp.example")},
        "partners": {"acme": acme},
    }


def _records(url: str, key: str) -> dict[str, tuple]:
    with open_store(url, key=key) as s:
        return {str(r.address): (r.host, r.managed_by, r.password_fingerprint) for r in s.list_records()}


def test_removing_a_scope_deletes_it_on_both_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PARITY_PW", "parity-Secret-77")
    key = generate_key()
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", key)
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    stack_file = root / "stacks" / "prod.yaml"
    cli_db, pulumi_db = tmp_path / "cli" / "store.db", tmp_path / "pulumi" / "store.db"
    cli_url, pulumi_url = f"sqlite:///{cli_db}", f"sqlite:///{pulumi_db}"

    stack_file.write_text(yaml.safe_dump(_doc(with_org=True)))
    with open_store(cli_url, key=key) as s:
        s.load_tenants(TENANTS)
    assert run(["apply", str(stack_file), "--yes", "--store", cli_url]) == 0
    pulumi_db.parent.mkdir()
    shutil.copy(cli_db, pulumi_db)  # the same starting store for both paths
    declared_before = set(run_program("prod", root, {}, []))

    stack_file.write_text(yaml.safe_dump(_doc(with_org=False)))  # the edit
    declared_after = set(run_program("prod", root, {}, []))
    capsys.readouterr()
    assert run(["plan", str(stack_file), "--format", "json", "--store", cli_url]) == 0
    planned = json.loads(capsys.readouterr().out)
    cli_deletes = {s["address"] for s in planned["scopes"] if s["action"] == "delete"}

    pulumi_deletes = declared_before - declared_after  # what the engine destroys
    assert cli_deletes == pulumi_deletes == {"partners/acme/organizations/acme-us"}

    assert run(["apply", str(stack_file), "--yes", "--store", cli_url]) == 0
    provider = SmtpSettingsProvider()
    provider.configure(ConfigureRequest(Config({"smtp-iac:store": pulumi_url, "smtp-iac:storeKey": key}, "smtp-iac")))
    for name in sorted(pulumi_deletes):
        with open_store(pulumi_url, key=key) as s:
            live = s.get(Address.parse(name))
        assert live is not None
        provider.delete(name, {"address": name, "stack": "prod", "version": float(live.version)})

    assert _records(cli_url, key) == _records(pulumi_url, key)
    assert "partners/acme/organizations/acme-us" not in _records(cli_url, key)
