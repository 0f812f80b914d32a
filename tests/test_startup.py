"""Start-up (performance at scale): the command line imports a command's module, and what it needs, only
when that command runs. These are behaviour tests (what is in ``sys.modules``, what ``--help``
says), never timing ones; the times are ``benchmarks/startup.py``'s.

- ``smtp-iac validate`` of a small valid stack loads none of the store's drivers and
  cryptography, the reports' rich, the SMTP sink's aiosmtpd, Pulumi and gRPC, nor jsonschema
  (the model decides; the schema only explains a refused document).
- ``smtp-iac --help`` and ``--version`` load no command module.
- ``--help`` still lists every command with its short help: the group's table
  (``cli.app.COMMANDS``) must say what each command's own help says.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import click
import pytest

import smtp_iac.cli
from smtp_iac.cli.app import COMMANDS, LazyGroup, cli, load_command, run

ROOT = Path(__file__).resolve().parents[1]
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"

NOT_FOR_VALIDATE = ("cryptography", "psycopg", "rich", "aiosmtpd", "pulumi", "grpc", "jsonschema")
COMMAND_MODULES = sorted({f"smtp_iac.cli.{e.module}" for e in COMMANDS.values()})

# Runs the console script's own entry point in a fresh interpreter, then reports what was imported.
_PROBE = """
import json, sys
from smtp_iac.cli import app
try:
    rc = app.run(sys.argv[1:])
except SystemExit as e:  # (click's --help/--version exit through run's handler; just in case)
    rc = e.code
print("\\n" + json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""


def _probe(*args: str) -> tuple[int, set[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_IAC_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout.rstrip().rsplit("\n", 1)[-1])
    return report["rc"], set(report["modules"]), done.stdout + done.stderr


def _tops(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in names})


SMALL_STACK = """\
version: 1
name: small
controller:
  smtp: {host: smtp.example.com, port: 587, tls: true, username: u, password: {env: SMTP_PASSWORD}}
partners:
  acme:
    smtp: inherit
"""


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_validate_of_a_small_valid_stack_loads_no_heavy_dependency(tmp_path, fmt):
    stack = tmp_path / "small.yaml"
    stack.write_text(SMALL_STACK, encoding="utf-8")
    rc, modules, out = _probe("validate", "--format", fmt, str(stack))
    assert rc == 0, out
    assert _tops(modules, NOT_FOR_VALIDATE) == [], out
    others = [m for m in COMMAND_MODULES if m != "smtp_iac.cli.validate"]
    assert [m for m in others if m in modules] == []
    # the store package is there (its URL rules name the files a stack may not), its backends are not
    assert [m for m in modules if m.startswith("smtp_iac.store.") and m != "smtp_iac.store.url"] == []


def test_validate_of_the_quickstart_stack_loads_no_heavy_dependency():
    rc, modules, out = _probe("validate", "stacks/dev.yaml", "stacks/example.yaml")
    assert rc == 0 and "stacks/dev.yaml: valid" in out, out
    assert _tops(modules, NOT_FOR_VALIDATE) == [], out


def test_an_invalid_stack_is_still_explained_by_the_schema(tmp_path):
    """jsonschema is lazy, not gone: a refused document is walked by the schema as before."""
    stack = tmp_path / "bad.yaml"
    stack.write_text(SMALL_STACK.replace("host:", "hots:"), encoding="utf-8")
    rc, modules, out = _probe("validate", str(stack))
    assert rc == 1 and "unknown key 'hots' in smtp (did you mean 'host'?)" in out, out
    assert "jsonschema" in modules
    assert _tops(modules, ("cryptography", "psycopg", "rich", "aiosmtpd", "pulumi", "grpc")) == [], out


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_load_no_command(args):
    rc, modules, out = _probe(*args)
    assert rc == 0, out
    assert [m for m in COMMAND_MODULES if m in modules] == [], out
    assert _tops(modules, (*NOT_FOR_VALIDATE, "pydantic", "yaml")) == [], out


def test_a_command_loads_its_module_when_it_runs():
    rc, modules, out = _probe("tenants", "--help")
    assert rc == 0 and "Usage: smtp-iac tenants" in out, out
    assert "smtp_iac.cli.tenants" in modules and "smtp_iac.cli.validate" not in modules


def test_version_is_the_package_version():
    import smtp_iac

    done = subprocess.run([str(SMTP_IAC), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"smtp-iac, version {smtp_iac.__version__}"


# -- the table of commands -----------------------------------------------------------------


def _real_commands() -> dict[str, click.Command]:
    """Every top-level command the cli modules define (a group's subcommands are its own)."""
    found: dict[str, click.Command] = {}
    for info in pkgutil.iter_modules(smtp_iac.cli.__path__):
        module = import_module(f"smtp_iac.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value is not cli and value.name:
                found[value.name] = value
    subcommands = {
        id(c) for g in found.values() if isinstance(g, click.Group) for c in g.commands.values() if c is not g
    }
    return {n: c for n, c in found.items() if id(c) not in subcommands}


def test_the_table_names_every_command_and_its_module():
    real = _real_commands()
    assert sorted(COMMANDS) == sorted(real)
    for name in COMMANDS:
        assert load_command(name) is real[name], name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_tables_short_help_is_the_commands_own(name):
    cmd = load_command(name)
    assert COMMANDS[name].short_help == cmd.get_short_help_str(limit=10**6)
    assert not cmd.hidden  # the table lists every command


def _fresh_lazy() -> LazyGroup:
    """The root group as the console script starts it: no command loaded yet."""
    return LazyGroup(
        name=cli.name, params=cli.params, callback=cli.callback, help=cli.help, context_settings=cli.context_settings
    )


def _eager() -> click.Group:
    """The root group with every real command loaded, as it was before commands were lazy."""
    return click.Group(
        name=cli.name,
        params=cli.params,
        callback=cli.callback,
        help=cli.help,
        context_settings=cli.context_settings,
        commands={n: load_command(n) for n in COMMANDS},
    )


@pytest.mark.parametrize("width", [50, 80, 100, 160])
def test_help_lists_what_the_commands_would_say_themselves(width):
    def help_of(group: click.Group) -> str:
        ctx = group.make_context("smtp-iac", [], resilient_parsing=True)
        ctx.terminal_width, ctx.max_content_width = width, 200
        return group.get_help(ctx)

    lazy = _fresh_lazy()
    text = help_of(lazy)
    assert lazy.commands == {}  # listing loaded nothing
    assert text == help_of(_eager())
    for name in COMMANDS:
        assert f"\n  {name} " in text


def test_the_console_scripts_help_lists_every_command():
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([str(SMTP_IAC), "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    eager = _eager()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "80")
        expected = eager.get_help(eager.make_context("smtp-iac", [], resilient_parsing=True))
    assert done.stdout == expected + "\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_still_runs(name, capsys):
    assert run([name, "--help"]) == 0
    assert f"Usage: smtp-iac {name}" in capsys.readouterr().out


SPY_PLUGIN = """
import os


class _Spy:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
        with open(os.environ["SPY_OUT"], "a") as out:
            out.write(f"{schema_type_path.name}\\n")
        return None, None, None


plugin = _Spy()
"""


def test_the_cli_loads_no_pydantic_plugin(tmp_path):
    """A pydantic plugin installed beside smtp-iac would be handed every value validated,
    passwords included: the CLI (and so the service it starts) loads none. Control: the same
    environment loads it into a plain interpreter that builds a model."""
    site = tmp_path / "site"
    (site / "spyplugin-1.0.dist-info").mkdir(parents=True)
    (site / "spyplugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: spyplugin\nVersion: 1.0\n")
    (site / "spyplugin-1.0.dist-info" / "entry_points.txt").write_text("[pydantic]\nspy = spyplugin:plugin\n")
    (site / "spyplugin.py").write_text(SPY_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env |= {"PYTHONPATH": str(site), "SPY_OUT": str(tmp_path / "control")}
    control = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\n"
    subprocess.run([sys.executable, "-c", control], env=env, check=True, timeout=60)
    assert (tmp_path / "control").read_text().strip(), "the spy plugin did not load: the test proves nothing"
    env["SPY_OUT"] = str(tmp_path / "cli")
    r = subprocess.run(
        [str(SMTP_IAC), "validate", "stacks/dev.yaml"], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "cli").exists()
