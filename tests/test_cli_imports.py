"""What ``smtp-iac plan`` and ``validate`` load, and the collector of a command that ends.

Behaviour, not timing (the times are ``benchmarks/cli_speed.py``'s): each command runs through
the console script's entry (``app.run(..., owns_process=True)``) in a fresh interpreter, which
then reports ``sys.modules`` and whether the cyclic garbage collector is on.

- ``plan`` loads no SMTP, TLS or e-mail client (``smtplib``, ``ssl``, the verify check), no
  jsonschema (that explains a refused stack or reads a saved plan; a plan that is written with
  ``--out`` needs none), no markdown report unless asked; its output is the same as before
  (``tests/workflow`` holds the texts).
- ``validate`` of a valid stack loads no SMTP or TLS client either (``test_startup.py`` has
  the rest of its list).
- A command that ends runs without the cyclic collector; ``serve`` and ``sink``, which run
  until stopped, keep it; and a caller that goes on after ``run`` (a test) keeps it whatever
  the command.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_iac.cli.app import LONG_RUNNING, run
from smtp_iac.store import generate_key, open_store

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import gc, json, sys
from smtp_iac.cli import app
rc = app.run(sys.argv[1:], owns_process=True)
print("\\n" + json.dumps({"rc": rc, "gc": gc.isenabled(), "modules": sorted(sys.modules)}))
"""

NOT_FOR_PLAN = ("smtplib", "ssl", "_ssl", "jsonschema", "referencing", "aiosmtpd", "rich", "psycopg", "pulumi")
NOT_FOR_PLAN_OF_OURS = ("smtp_iac.verify.check", "smtp_iac.verify.batch", "smtp_iac.report.markdown")

STACK = """\
version: 1
name: small
controller:
  smtp: {host: smtp.example.com, port: 587, tls: true, username: u, password: {env: SMALL_PW}}
partners:
  acme:
    smtp: inherit
    organizations:
      blue:
        smtp: {host: smtp.blue.example, port: 465, tls: true, username: b, password: {env: SMALL_PW}}
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[int, bool, set[str], str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_IAC_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=base | (env or {}),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    head, _, last = done.stdout.rstrip().rpartition("\n")
    report = json.loads(last)
    return report["rc"], report["gc"], set(report["modules"]), head + done.stderr


def _tops(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in names})


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    stack = tmp_path / "small.yaml"
    stack.write_text(STACK, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = generate_key()
    with open_store(url, key=key) as store:
        store.load_tenants({"partners": {"acme": {"organizations": {"blue": {"smtp_enabled": True}}}}})
    return stack, url, {"SMTP_IAC_STORE_KEY": key, "SMALL_PW": "s3cret-small"}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_loads_no_smtp_tls_or_schema_library(workspace, fmt):
    stack, url, env = workspace
    rc, collecting, modules, out = _probe(
        "plan", str(stack), "--store", url, "--detailed-exitcode", "--format", fmt, env=env
    )
    assert rc == 2, out  # two scopes to create
    assert "controller" in out and "partners/acme/organizations/blue" in out
    assert "s3cret-small" not in out
    assert _tops(modules, NOT_FOR_PLAN) == [], out
    assert [m for m in NOT_FOR_PLAN_OF_OURS if m in modules] == []
    assert collecting is False  # a command that ends: no cyclic collector


def test_a_plan_saved_with_out_needs_no_schema_library_and_reads_back(workspace, tmp_path):
    stack, url, env = workspace
    saved = tmp_path / "plan.json"
    rc, _, modules, out = _probe("plan", str(stack), "--store", url, "--out", str(saved), env=env)
    assert rc == 0 and saved.exists(), out
    assert _tops(modules, NOT_FOR_PLAN) == [], out
    # reading it back checks it against the plan schema: jsonschema is lazy, not gone
    rc, _, modules, out = _probe("show", str(saved), "--store", url, env=env)
    assert rc == 0 and "partners/acme/organizations/blue" in out, out
    assert "jsonschema" in modules


def test_plan_in_markdown_loads_its_report(workspace):
    stack, url, env = workspace
    rc, _, modules, out = _probe("plan", str(stack), "--store", url, "--format", "markdown", env=env)
    assert rc == 0 and "partners/acme/organizations/blue" in out, out
    assert "smtp_iac.report.markdown" in modules


def test_validate_loads_no_smtp_or_tls_client(workspace):
    stack, _, _ = workspace
    rc, collecting, modules, out = _probe("validate", str(stack), "stacks/dev.yaml")
    assert rc == 0 and "small.yaml: valid" in out, out
    assert _tops(modules, NOT_FOR_PLAN) == [], out
    assert [m for m in modules if m.startswith("smtp_iac.verify")] == []
    assert collecting is False


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_commands_that_run_until_stopped_keep_the_collector(name):
    rc, collecting, _, out = _probe(name, "--help")
    assert rc == 0 and "Usage: smtp-iac " + name in out, out
    assert collecting is True


def test_a_caller_that_goes_on_keeps_the_collector(workspace, capsys):
    stack, _, _ = workspace
    assert gc.isenabled()
    assert run(["validate", str(stack)]) == 0
    assert gc.isenabled()
    assert "small.yaml: valid" in capsys.readouterr().out
