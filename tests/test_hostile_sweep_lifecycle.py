"""Hostile sweep of the IaC lifecycle additions (relays, --target, release, destroy, show,
drift who/when, import) through the real CLI: no traceback or internal error reaches the
user, and messages stay bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smtp_iac.cli.app import run

TENANTS = {
    "partners": {
        "acme": {"organizations": {"acme-us": {"smtp_enabled": True}, "acme-eu": {"smtp_enabled": True}}},
    }
}


def _smtp(host: str) -> dict:
    return {"host": host, "port": 587, "tls": True, "username": "u", "password": {"env": "HS_PW"}}


def _stack() -> dict:
    return {
        "version": 1,
        "name": "prod",
        "verify": {"mode": "off"},
        "controller": {"smtp": _smtp("smtp.example")},
        "partners": {"acme": {"smtp": _smtp("smtp.acme.example")}},
    }


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HS_PW", "hs-Plain-Secret-never-shown")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "tenants.yaml").write_text(yaml.safe_dump(TENANTS))
    assert run(["tenants", "load", str(tmp_path / "tenants.yaml"), "--store", url]) == 0
    stack = tmp_path / "prod.yaml"
    stack.write_text(yaml.safe_dump(_stack(), sort_keys=False))
    capsys.readouterr()

    def cli(*args: str) -> tuple[int, str]:
        rc = run([*args, "--store", url])
        cap = capsys.readouterr()
        return rc, cap.out + cap.err

    return cli, str(stack)


@pytest.mark.parametrize("target", ["partners//*", "partners/ /*", "partners/ACME/*", "partners/a b/*"])
@pytest.mark.parametrize("command", ["plan", "drift", "destroy", "apply"])
def test_target_wildcard_with_bad_partner_is_a_usage_error(world, command: str, target: str) -> None:
    cli, stack = world
    extra = ["--yes"] if command in ("apply", "destroy") else []
    rc, out = cli(command, stack, *extra, "--target", target)
    assert rc == 1
    assert "internal error" not in out and "Traceback" not in out
    assert "is not a scope" in out


def test_a_very_long_target_is_not_echoed_whole(world) -> None:
    cli, stack = world
    rc, out = cli("plan", stack, "--target", "a" * 100_000)
    assert rc == 1
    assert "is not a scope" in out
    assert len(out) < 2_000


@pytest.mark.parametrize("ref", [["a"], {"a": 1}])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_relay_reference_that_is_a_list_or_mapping_is_an_error_not_a_crash(
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, ref: object
) -> None:
    cli, _ = world
    doc = _stack()
    doc["relays"] = {"a": _smtp("smtp.relay.example")}
    doc["controller"] = {"smtp": {"relay": ref}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    if command == "plan":
        rc, out = cli(command, str(path))
    else:
        rc = run([command, str(path)])
        cap = capsys.readouterr()
        out = cap.out + cap.err
    assert rc == 1
    assert "internal error" not in out and "Traceback" not in out


HOSTILE_ACTOR = "mallory\x1b[31mRED\n| x | y |\r\x9b2J\u202e" + "Z" * 100_000


def _poison_actors(db: Path) -> None:
    """A store written by another tool (or by hand): the actor columns hold anything."""
    import sqlite3

    with sqlite3.connect(db) as c:
        c.execute("UPDATE records SET updated_by = ?", (HOSTILE_ACTOR,))
        c.execute("UPDATE audit SET actor = ?", (HOSTILE_ACTOR,))


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_drift_shows_a_hostile_actor_escaped_and_capped(world, tmp_path: Path, fmt: str) -> None:
    cli, stack = world
    assert cli("apply", stack, "--yes")[0] == 0
    doc = _stack()
    doc["controller"]["smtp"]["host"] = "smtp.changed.example"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert cli("apply", str(other), "--yes")[0] == 0
    _poison_actors(tmp_path / "store.db")
    rc, out = cli("drift", stack, "--format", fmt)
    assert rc == 2
    assert "mallory" in out
    for raw in ("\x1b", "\r", "\x9b", "\u202e", "mallory\n"):
        assert raw not in out
    assert len(out) < 5_000


def test_store_audit_shows_a_hostile_actor_escaped_and_capped(world, tmp_path: Path) -> None:
    cli, stack = world
    assert cli("apply", stack, "--yes")[0] == 0
    _poison_actors(tmp_path / "store.db")
    rc, out = cli("store", "audit")
    assert rc == 0
    assert "mallory" in out
    for raw in ("\x1b", "\r", "\x9b", "\u202e", "mallory\n"):
        assert raw not in out
    assert len(out) < 5_000


@pytest.mark.parametrize("command", [["show"], ["apply", "--yes"]])
def test_a_plan_file_nested_past_the_recursion_limit_is_refused_not_a_crash(
    world, tmp_path: Path, command: list[str]
) -> None:
    cli, _ = world
    plan = tmp_path / "deep.json"
    plan.write_text("[" * 100_000)
    rc, out = cli(command[0], str(plan), *command[1:])
    assert rc == 1
    assert "internal error" not in out and "Traceback" not in out
    assert "not a JSON plan file" in out


def test_release_echoes_its_arguments_escaped_and_capped(capsys):
    from smtp_iac.cli.app import run as cli_run

    assert cli_run(["release", "controller", "--stack", "pr\nod\x1b[31m"]) == 1
    err = capsys.readouterr().err
    assert "--stack 'pr\\nod\\x1b[31m' is not a stack name" in err and "\x1b" not in err
    assert cli_run(["release", "x" * 5000, "--stack", "prod"]) == 1
    err = capsys.readouterr().err
    assert "is not a scope address" in err and len(err) < 1000
