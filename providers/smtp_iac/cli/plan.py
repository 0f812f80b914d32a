"""``plan`` and ``apply``: the pull-request plan and the merge pipeline's apply."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import click

from ..apply import ApplyEvent, ApplyReport, apply_plan
from ..errors import UsageError
from ..filerefs import FileScope
from ..plan import Plan
from ..planfile import read_plan, write_plan
from ..planner import make_plan
from ..report import markdown, text
from ..stackfile import file_scope
from ..store import Store
from .options import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, State, format_option, pass_state, store_option
from .output import emit, load_stack

MASK = "***"


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `apply PLAN.json`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages.")
@click.option("--show-unchanged", is_flag=True, help="List unchanged scopes too (text format).")
@format_option("text", "json", "markdown")
@store_option
@pass_state
def plan_cmd(
    state: State, file: str, out: str | None, detailed_exitcode: bool, adopt: bool, show_unchanged: bool, fmt: str
) -> int:
    """Show what apply would change in the live store, and for which organizations."""
    loaded = load_stack(file)
    with state.open_store(loaded.stack.store, create=False) as store:
        plan = make_plan(loaded, store, stack_file=file, adopt=adopt)
        if out or fmt == "json":  # a document that apply may be given: signed with the store key
            plan.seal(store.fingerprint)
    if out:
        write_plan(Path(out), plan)
    emit(
        fmt,
        text_out=lambda: text.render_plan(plan, show_unchanged=show_unchanged),
        md_out=lambda: markdown.render_plan(plan),
        data=plan.to_dict,
    )
    if plan.has_errors:
        return EXIT_ERROR
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


class _Progress:
    """A progress bar on a terminal; plain lines (one per scope event) in CI logs."""

    def __init__(self, total: int, enabled: bool):
        self.bar: Any = None
        self.task: Any = None
        if enabled and total and sys.stderr.isatty():
            from rich.progress import Progress  # only on a terminal: rich is slow to import

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task("applying", total=total)

    def __enter__(self) -> _Progress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.bar:
            self.bar.stop()

    def event(self, e: ApplyEvent) -> None:
        if self.bar is not None:
            if e.done:
                self.bar.advance(self.task)
            self.bar.update(self.task, description=f"{e.address}: {e}")
        else:
            click.echo(f"{e.address}: {e}", err=True)


@click.command("apply")
@click.argument("source", metavar="FILE|PLAN.json", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask; required when there is no terminal.")
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages (stack files only).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="SMTP checks at once.")
@format_option("text", "json", "markdown")
@store_option
@pass_state
def apply_cmd(state: State, source: str, yes: bool, adopt: bool, concurrency: int, fmt: str) -> int:
    """Verify, then write each changed scope (a saved plan: exactly what it showed, or nothing)."""
    if source.endswith(".json"):
        if adopt:
            raise UsageError("--adopt belongs to plan; a saved plan applies what it showed")
        plan = read_plan(source)
        with _store_of(state, plan, source) as store:
            report = _apply(plan, store, file_scope(Path(plan.stack_file), None), yes, concurrency, fmt)
    else:
        loaded = load_stack(source)
        with state.open_store(loaded.stack.store, create=True) as store:
            plan = make_plan(loaded, store, stack_file=source, adopt=adopt)
            report = _apply(plan, store, loaded.files, yes, concurrency, fmt)
    if report is None:
        click.echo("nothing applied", err=True)
        return EXIT_ERROR
    emit(
        fmt,
        text_out=lambda: text.render_apply(report),
        md_out=lambda: markdown.render_apply(report),
        data=lambda: {
            "stack": report.stack,
            "ok": report.ok,
            "summary": report.counts(),
            "results": [r.to_dict() for r in report.results],
        },
    )
    return EXIT_OK if report.ok else EXIT_ERROR


def _store_of(state: State, plan: Plan, source: str) -> Store:
    """The store a saved plan was made against. Versions and fingerprints in the plan belong to
    it: another store would either look "stale" for the wrong reason or, sharing the key, take
    the writes."""
    store = state.open_store(None if MASK in plan.store else plan.store, create=False)
    if store.url_for_display != plan.store:
        where = store.url_for_display
        store.close()
        raise UsageError(
            f"{source} was planned against {plan.store}, not {where}; nothing applied",
            hint="apply it against the store it was planned with (--store or SMTP_IAC_STORE), "
            "or make a new plan against this one",
        )
    return store


def _apply(plan: Plan, store: Store, files: FileScope, yes: bool, concurrency: int, fmt: str) -> ApplyReport | None:
    """The plan applied, or None when the person at the terminal declined."""
    changes = plan.diff.changes
    if changes and not plan.has_errors and not yes:
        if not sys.stdin.isatty():
            raise UsageError("apply writes to the store: pass --yes (there is no terminal to ask on)")
        click.echo(text.render_plan(plan), err=True)
        if not click.confirm(f"Apply {len(changes)} change(s) to {plan.store}?", err=True):
            return None
    with _Progress(len(changes), fmt == "text") as progress:
        return apply_plan(plan, store, files=files, concurrency=concurrency, on_event=progress.event)


def register(cli: click.Group) -> None:
    for cmd in (plan_cmd, apply_cmd):
        cli.add_command(cmd)
