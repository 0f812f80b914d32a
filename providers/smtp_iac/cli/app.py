"""Root command group, common options, and the single place where errors turn into
messages and exit codes. No traceback reaches the user unless ``--debug``.

Commands load lazily (performance at scale): the group knows each command's module and short help
(``COMMANDS``), and imports a command's module, with what it needs (the store, cryptography,
the drivers, the plan machinery, the SMTP client), only when that command runs or its own
``--help`` is asked for. ``smtp-iac --help`` lists every command from the table, importing
none; ``tests/test_startup.py`` keeps the table true to each command's real help and checks
what ``validate`` leaves out of ``sys.modules``."""

from __future__ import annotations

import gc
import os
import sys
from importlib import import_module
from typing import NamedTuple

import click

from .. import __version__
from ..errors import SmtpIacError, StackInvalid
from .options import EXIT_ERROR, EXIT_OK, State


class Lazy(NamedTuple):
    module: str  # in smtp_iac.cli
    attr: str  # the click command (or group) in it
    short_help: str  # its short help, as click makes it without a limit


COMMANDS: dict[str, Lazy] = {
    "apply": Lazy(
        "apply",
        "apply_cmd",
        "Verify, then write each changed scope (a saved plan: exactly what it showed, or nothing).",
    ),
    "destroy": Lazy(
        "apply",
        "destroy_cmd",
        "Remove every override the stack manages (its inherit scopes need nothing); scopes of other stacks "
        "and unmanaged ones are left as they are.",
    ),
    "drift": Lazy("drift", "drift_cmd", "Compare the live store with the stack; write nothing."),
    "effective": Lazy(
        "effective", "effective_cmd", "Effective SMTP settings of an organization, and the tier they come from."
    ),
    "health": Lazy(
        "health",
        "health_cmd",
        "Check the relays that carry organizations' mail now (a login, never a message) and report whose mail "
        "each carries.",
    ),
    "import": Lazy(
        "importing",
        "import_cmd",
        "Print the live store as a stack file (passwords as {env: ...} placeholders; settings that several "
        "scopes share as relays).",
    ),
    "plan": Lazy("plan", "plan_cmd", "Show what apply would change in the live store, and for which organizations."),
    "release": Lazy("release", "release_cmd", "The stack stops managing ADDRESS; the record stays as it is."),
    "serve": Lazy("serve", "serve_cmd", 'The settings service and console (see SPEC "Service"); runs until stopped.'),
    "show": Lazy(
        "show",
        "show_cmd",
        "Render a saved plan again, after checking its digest against the store it was planned with.",
    ),
    "sink": Lazy(
        "verify",
        "sink_cmd",
        "A local SMTP sink for development and the demo: accepts any AUTH (loopback only), prints each "
        "message's envelope and headers (never a password), runs until Ctrl-C.",
    ),
    "store": Lazy("store", "store_group", "The settings store: key rotation and the audit log."),
    "tenants": Lazy(
        "tenants", "tenants_group", "Partners, organizations and the per-organization SMTP switch, in the store."
    ),
    "test-email": Lazy(
        "verify",
        "test_email_cmd",
        "Run the verify check (connect, TLS, AUTH and, in send mode, a test message) for one scope of FILE, "
        "with the stack's verify options.",
    ),
    "tokens": Lazy("tokens", "tokens_group", "Tokens of the settings service (smtp-iac serve): create, list, revoke."),
    "validate": Lazy(
        "validate", "validate_cmd", "Check stack files against the schema and rules (no store, no network)."
    ),
}


def load_command(name: str) -> click.Command:
    """The real command ``name`` of ``COMMANDS`` (importing its module)."""
    entry = COMMANDS[name]
    cmd = getattr(import_module(f"{__package__}.{entry.module}"), entry.attr)
    assert isinstance(cmd, click.Command) and cmd.name == name, (name, cmd)
    return cmd


class LazyGroup(click.Group):
    """click's "lazily loading subcommands": commands of ``COMMANDS`` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but from the table: listing the commands imports none of them."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:  # loaded already (or added directly): its own text
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                # click's own shortening of a help text, applied to the table's text
                stand_in = click.Command(name, help=COMMANDS[name].short_help)
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks of unexpected errors.")
@click.option("--store", "store_url", metavar="URL", help="Store URL (see each command's --store).")
# The version is smtp_iac.__version__ (pyproject.toml takes it from there): no importlib.metadata
# lookup (~20 ms) at start-up.
@click.version_option(__version__, package_name="smtp-iac")
@click.pass_context
def cli(ctx: click.Context, debug: bool, store_url: str | None) -> None:
    """smtp-iac: SMTP settings of every tier (controller, partner, organization) as code."""
    state = ctx.ensure_object(State)
    state.debug = debug or os.environ.get("SMTP_IAC_DEBUG") == "1"
    if store_url:
        state.store = store_url
    if state.owns_process and ctx.invoked_subcommand not in LONG_RUNNING:
        gc.disable()  # a command that ends: what it builds lives until exit (``main``)


def _print_error(err: SmtpIacError) -> None:
    if isinstance(err, StackInvalid):
        for d in err.diagnostics:
            click.echo(d.format(), err=True)
    prefix = f"{err.address}: " if err.address else ""
    click.echo(f"error: {prefix}{err.message}", err=True)
    if err.hint:
        click.echo(f"  hint: {err.hint}", err=True)


def run(argv: list[str] | None = None, *, owns_process: bool = False) -> int:
    """Run the CLI and return its exit code, never raising (but for --debug). ``owns_process``:
    the process ends with the command (``main``), so a command that ends may turn the cyclic
    garbage collector off; a caller that goes on (a test) keeps it."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or os.environ.get("SMTP_IAC_DEBUG") == "1"
    try:
        rv = cli.main(args=argv, prog_name="smtp-iac", standalone_mode=False, obj=State(owns_process=owns_process))
    except SmtpIacError as err:
        _print_error(err)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        # Usage errors exit 1, not click's 2: 2 means "changes" / "drift" to pipelines.
        e.show()
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as e:
        if debug:
            raise
        # The message of an unexpected exception may echo input values (a secret among them),
        # so only its type is shown; --debug shows the traceback.
        click.echo(f"internal error ({type(e).__name__}); run with --debug for the traceback", err=True)
        return EXIT_ERROR
    return rv if isinstance(rv, int) else EXIT_OK


LONG_RUNNING = frozenset({"serve", "sink"})
"""Commands that run until stopped: they keep the cyclic garbage collector (``tune_gc``)."""


def tune_gc() -> None:
    """A plan over 20,000 organizations builds a few hundred thousand long-lived objects; with
    the default thresholds the cyclic GC walks them hundreds of times (~0.6 s of a 3 s plan,
    benchmarks/RESULTS.md). What is loaded so far is frozen out of its sight and young
    collections are made rarer. Every command but ``LONG_RUNNING`` then turns the collector
    off (``cli``): almost all it builds lives until it exits, so each collection would walk it
    for nothing, and at 200,000 organizations they made ``plan`` grow faster than its input."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def no_pydantic_plugins() -> None:
    """A pydantic plugin (an entry point of any installed package) is handed every value
    validated, passwords included, and finding plugins scans every installed package's metadata
    (about 15 ms of each start). smtp-iac's own processes (the CLI, the settings service) load
    none; ``PYDANTIC_DISABLE_PLUGINS`` set by the caller is kept."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main() -> None:
    no_pydantic_plugins()
    tune_gc()
    sys.exit(run(owns_process=True))
