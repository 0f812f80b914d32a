"""Root command group, common options, and the single place where errors turn into
messages and exit codes. No traceback reaches the user unless ``--debug``."""

from __future__ import annotations

import gc
import os
import sys

import click

from ..errors import SmtpIacError, StackInvalid
from . import apply, drift, effective, importing, plan, release, show, store, tenants, validate, verify
from .options import EXIT_ERROR, EXIT_OK, State


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks of unexpected errors.")
@click.option("--store", "store_url", metavar="URL", help="Store URL (see each command's --store).")
@click.version_option(package_name="smtp-iac")
@click.pass_context
def cli(ctx: click.Context, debug: bool, store_url: str | None) -> None:
    """smtp-iac: SMTP settings of every tier (controller, partner, organization) as code."""
    state = ctx.ensure_object(State)
    state.debug = debug or os.environ.get("SMTP_IAC_DEBUG") == "1"
    if store_url:
        state.store = store_url


for _module in (validate, tenants, verify, plan, apply, show, drift, effective, importing, release, store):
    _module.register(cli)


def _print_error(err: SmtpIacError) -> None:
    if isinstance(err, StackInvalid):
        for d in err.diagnostics:
            click.echo(d.format(), err=True)
    prefix = f"{err.address}: " if err.address else ""
    click.echo(f"error: {prefix}{err.message}", err=True)
    if err.hint:
        click.echo(f"  hint: {err.hint}", err=True)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code, never raising (but for --debug)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or os.environ.get("SMTP_IAC_DEBUG") == "1"
    try:
        rv = cli.main(args=argv, prog_name="smtp-iac", standalone_mode=False)
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


def tune_gc() -> None:
    """A plan over 20,000 organizations builds a few hundred thousand long-lived objects; with
    the default thresholds the cyclic GC walks them hundreds of times (~0.6 s of a 3 s plan,
    benchmarks/RESULTS.md). What is loaded so far is frozen out of its sight and young
    collections are made rarer; the process is short-lived, so memory is not at stake."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def main() -> None:
    tune_gc()
    sys.exit(run())
