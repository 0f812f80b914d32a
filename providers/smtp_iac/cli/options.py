"""What every command shares: exit codes, the per-invocation ``State`` (``--debug``,
``--store``), and the ``--format`` and ``--store`` options. Command modules import this,
never ``app`` (which loads them). Light on purpose: ``validate`` imports it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..store import DatabaseStore, Store
    from ..store.limits import Limits

# Exit codes (SPEC): 0 ok; 1 error; 2 "changes" (plan --detailed-exitcode) or "drift".
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Per-invocation options shared by every command."""

    def __init__(self, debug: bool = False, store: str | None = None, *, owns_process: bool = False):
        self.debug = debug
        self.store = store
        self.owns_process = owns_process  # the process ends with the command (``app.main``)

    def open_store(self, stack_url: str | None = None, *, create: bool, limits: Limits | None = None) -> Store:
        """The store the invocation names (SPEC order: ``--store``, ``SMTP_IAC_STORE``, the
        stack's ``store:``, the default). ``create``: whether the command may make it (only
        commands that write; SPEC: commands that only read never create a store). ``limits``:
        ``serve`` pools its connections; other commands keep one."""
        from ..store import open_store, resolve_store_url  # the drivers: only for a command that opens one

        return open_store(resolve_store_url(self.store, stack_url), create=create, limits=limits)

    def open_database(self, purpose: str, *, create: bool, limits: Limits | None = None) -> DatabaseStore:
        """The store the invocation names, which must be a database (``purpose``: what needs it,
        named in the usage error a settings-service URL gets)."""
        from ..store import open_database, resolve_store_url

        url = resolve_store_url(self.store, None)
        return open_database(url, purpose=purpose, create=create, limits=limits)


pass_state = click.make_pass_decorator(State, ensure=True)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True, help="Output format."
    )


def store_option(f: F) -> F:
    """``--store URL`` on each command that touches the store (also accepted before the command)."""

    def cb(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value:
            ctx.ensure_object(State).store = value
        return value

    return click.option(
        "--store",
        "store_url",
        metavar="URL",
        expose_value=False,
        callback=cb,
        help="Store URL (sqlite:///path.db or postgresql://...). "
        "Else SMTP_IAC_STORE, else the stack's store:, else sqlite:///.smtp-iac/store.db.",
    )(f)


def target_option(f: F) -> F:
    """``--target ADDRESS`` (repeatable): limit the run to those scopes (``targets.Targets``)."""
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDRESS",
        help="Only this scope (repeatable): controller, partners/P, partners/P/organizations/O, "
        "or partners/P/* for the partner and its organizations.",
    )(f)
