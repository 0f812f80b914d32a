"""Commands as clients of the real service (SMTP_IAC_STORE an http:// loopback URL, a token in
SMTP_IAC_TOKEN), beyond what the workflow suite runs through it: what a token's reach does to
a plan, that plan and drift stay a constant number of requests, and what cannot be done
through the service."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from service_support import Svc, running
from smtp_servers import TEST_PASSWORD, TEST_USER

from smtp_iac.addresses import Address
from smtp_iac.cli.app import run
from smtp_iac.service.telemetry import RequestTelemetry


@pytest.fixture
def many_orgs(backend, relay, ca_path, tmp_path, monkeypatch, capsys) -> Iterator[Svc]:
    with running(backend, relay, ca_path, allow_unverified=True) as s:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SMTP_IAC_STORE", s.url)
        monkeypatch.setenv("RELAY_PW", TEST_PASSWORD)
        yield s


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # stack files refuse anchors


def _stack(path: Path, relay, partners: dict, controller: bool = False, sender: str = "no-reply@example.com") -> str:
    settings = {
        "host": "127.0.0.1",
        "port": relay.port,
        "tls": True,
        "username": TEST_USER,
        "password": {"env": "RELAY_PW"},
        "sender": sender,
    }
    doc: dict = {"version": 1, "name": "prod", "verify": {"mode": "login"}}
    if controller:
        doc["controller"] = {"smtp": settings}
    doc["partners"] = {
        p: {"smtp": settings, "organizations": {o: {"smtp": "inherit"} for o in orgs}} for p, orgs in partners.items()
    }
    path.write_text(yaml.dump(doc, Dumper=_NoAliases))
    return str(path)


def _settled(lines: list[dict]) -> list[str]:
    """The routes logged, once the service has logged its last answer (it logs a request after
    its response went out, so the client can be done a moment before the line is written)."""
    seen, deadline = -1, time.monotonic() + 5
    while len(lines) != seen and time.monotonic() < deadline:
        seen = len(lines)
        time.sleep(0.2)
    return [ln["route"] for ln in lines]


def _as(monkeypatch, svc: Svc, token: str) -> None:
    monkeypatch.setenv("SMTP_IAC_TOKEN", svc.tokens[token])


def test_a_partner_token_plans_its_partner_and_is_refused_beyond(many_orgs: Svc, monkeypatch, capsys, tmp_path) -> None:
    svc = many_orgs
    _as(monkeypatch, svc, "partner-admin")
    mine = _stack(tmp_path / "acme.yaml", svc.relay, {"acme": ["blue", "green"]})
    capsys.readouterr()
    assert run(["plan", mine, "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {s["address"] for s in plan["scopes"]} == {
        "partners/acme",
        "partners/acme/organizations/blue",
        "partners/acme/organizations/green",
    }
    blast = plan["blast_radius"]
    assert blast["organizations"] == 2  # acme's two, not the store's three: its blast radius is its own
    assert all(i["org"].startswith("partners/acme/") for i in blast["impacts"])

    both = _stack(tmp_path / "both.yaml", svc.relay, {"acme": [], "initech": ["hq"]}, controller=True)
    assert run(["plan", both, "--format", "json"]) == 1
    refused = {s["address"]: s["refusal"] for s in json.loads(capsys.readouterr().out)["scopes"] if s.get("refusal")}
    assert set(refused) == {"controller", "partners/initech", "partners/initech/organizations/hq"}
    assert all(r["kind"] == "forbidden" and "partner-admin of partners/acme" in r["message"] for r in refused.values())
    assert run(["apply", both, "--yes"]) == 1
    assert svc.store.get(Address("initech")).updated_by == "seed"


def test_plan_and_drift_are_a_constant_number_of_requests(
    backend, relay, ca_path, tmp_path, monkeypatch, capsys
) -> None:
    lines: list[dict] = []
    original = RequestTelemetry.__init__

    def counting(self, app, metrics, log=None):  # every request the service answers
        original(self, app, metrics, lines.append)

    monkeypatch.setattr(RequestTelemetry, "__init__", counting)
    counts = {}
    with running(backend, relay, ca_path, allow_unverified=True) as svc:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SMTP_IAC_STORE", svc.url)
        monkeypatch.setenv("RELAY_PW", TEST_PASSWORD)
        _as(monkeypatch, svc, "sysadmin")
        for n in (5, 400):
            partners = {f"p{i}": [f"o{i}-{j}" for j in range(n // 5)] for i in range(5)}
            svc.store.load_tenants(
                {
                    "partners": {
                        p: {"organizations": {o: {"smtp_enabled": True} for o in os}} for p, os in partners.items()
                    }
                }
            )
            f = _stack(tmp_path / f"s{n}.yaml", relay, partners)
            for command in (["plan", f, "--out", f"plan{n}.json"], ["drift", f]):
                lines.clear()
                assert run(command) == (0 if command[0] == "plan" else 2)
                counts[(command[0], n)] = _settled(lines)
    assert counts[("plan", 5)] == counts[("plan", 400)] == ["/v1/snapshot", "/v1/fingerprints", "/v1/seals"]
    assert counts[("drift", 5)] == counts[("drift", 400)], counts


def test_what_only_the_store_itself_does(many_orgs: Svc, monkeypatch, capsys, tmp_path) -> None:
    svc = many_orgs
    _as(monkeypatch, svc, "sysadmin")
    capsys.readouterr()
    assert run(["store", "rotate-keys"]) == 1
    assert "runs against the store directly" in capsys.readouterr().err
    assert run(["tokens", "list"]) == 1
    monkeypatch.delenv("SMTP_IAC_TOKEN")
    assert run(["effective", "partners/acme/organizations/blue"]) == 1
    assert "SMTP_IAC_TOKEN" in capsys.readouterr().err


def test_tenants_release_and_switches_through_the_service(many_orgs: Svc, monkeypatch, capsys, tmp_path) -> None:
    svc = many_orgs
    _as(monkeypatch, svc, "sysadmin")
    (tmp_path / "t.yaml").write_text("partners:\n  umbrella:\n    organizations:\n      u1: {smtp_enabled: true}\n")
    capsys.readouterr()
    assert run(["tenants", "load", "t.yaml"]) == 0
    assert "1 partner(s) added, 1 organization(s) added" in capsys.readouterr().out
    assert run(["tenants", "disable-smtp", "partners/umbrella/organizations/u1"]) == 0
    assert svc.store.tenants().smtp_enabled(Address("umbrella", "u1")) is False
    _as(monkeypatch, svc, "partner-admin")
    assert run(["tenants", "load", "t.yaml"]) == 1
    assert "sysadmin" in capsys.readouterr().err
    f = _stack(tmp_path / "acme.yaml", svc.relay, {"acme": []}, sender="acme@example.com")
    assert run(["apply", f, "--yes"]) == 0
    assert svc.store.get(Address("acme")).managed_by == "prod"
    assert run(["release", "partners/acme", "--stack", "prod"]) == 0
    assert svc.store.get(Address("acme")).managed_by is None


def test_a_viewer_token_cannot_plan_passwords(many_orgs: Svc, monkeypatch, capsys, tmp_path) -> None:
    svc = many_orgs
    _as(monkeypatch, svc, "viewer")
    f = _stack(tmp_path / "acme.yaml", svc.relay, {"acme": []})
    capsys.readouterr()
    assert run(["plan", f]) == 1
    assert "only reads" in capsys.readouterr().err
    assert run(["effective", "partners/acme/organizations/green"]) == 0
    assert "partners/acme" in capsys.readouterr().out


def test_refusals_come_back_as_the_errors_a_database_store_raises(svc: Svc) -> None:
    from service_support import relay_settings

    from smtp_iac.errors import ConflictError, FeatureDisabled, Forbidden, OwnershipError, UnknownTenant
    from smtp_iac.models import VerifyOptions
    from smtp_iac.store import open_store

    acme, green = Address("acme"), Address("acme", "green")
    v = svc.store.get(acme).version
    svc.store.put(acme, relay_settings(svc.relay), expected_version=v, stack="prod", actor="pipeline")
    login = VerifyOptions(mode="login")
    with open_store(svc.url, token=svc.tokens["sysadmin"]) as remote:
        with pytest.raises(OwnershipError) as own:
            remote.put(acme, relay_settings(svc.relay), expected_version=v + 1, stack="staging", verify=login)
        assert own.value.owner == "prod" and own.value.stack == "staging"
        with pytest.raises(ConflictError) as moved:
            remote.put(acme, relay_settings(svc.relay), expected_version=v, stack="prod", verify=login)
        assert (moved.value.expected, moved.value.actual, moved.value.last_writer) == (v, v + 1, "pipeline")
        with pytest.raises(FeatureDisabled):
            remote.put(green, relay_settings(svc.relay), expected_version=None, stack="prod", verify=login)
        with pytest.raises(UnknownTenant):
            remote.put(Address("umbrella"), relay_settings(svc.relay), expected_version=None, stack="prod")
        assert not hasattr(remote, "reveal_password")  # a Store, not a DatabaseStore: nothing to refuse
    with open_store(svc.url, token=svc.tokens["viewer"]) as remote, pytest.raises(Forbidden):
        remote.put(acme, relay_settings(svc.relay), expected_version=v + 1, stack="prod", verify=login)
