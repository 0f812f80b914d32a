"""``apply`` and ``destroy``: verify, then write each changed scope. Both print the plan they
apply first (text: before anything is written; json: under ``plan``; markdown: above the
outcome), with ``--yes`` too, so a CI log shows what changed and why."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import click

from ..errors import UsageError
from ..planning.apply import ApplyEvent, ApplyReport, apply_plan
from ..planning.plan import Plan
from ..planning.planfile import read_plan
from ..planning.planner import make_plan
from ..planning.targets import Targets
from ..reading.filerefs import FileScope
from ..reading.stackfile import file_scope
from ..report import markdown, text
from ..store import Store
from .options import EXIT_ERROR, EXIT_OK, State, format_option, pass_state, store_option, target_option
from .output import emit, load_stack
from .plan import store_of_plan

_YES = "Do not ask; required when there is no terminal."
_CONCURRENCY = "SMTP checks at once."


@click.command("apply")
@click.argument("source", metavar="FILE|PLAN.json", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help=_YES)
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages (stack files only).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help=_CONCURRENCY)
@target_option
@format_option("text", "json", "markdown")
@store_option
@pass_state
def apply_cmd(
    state: State, source: str, yes: bool, adopt: bool, concurrency: int, targets: tuple[str, ...], fmt: str
) -> int:
    """Verify, then write each changed scope (a saved plan: exactly what it showed, or nothing)."""
    limit = Targets.parse(targets)
    if source.endswith(".json"):
        if adopt or limit is not None:
            raise UsageError("--adopt and --target belong to plan; a saved plan applies exactly what it showed")
        plan = read_plan(source)
        with store_of_plan(state, plan, source) as store:
            files = file_scope(Path(plan.stack_file), None)
            return _apply_and_report(plan, store, files, yes, concurrency, fmt, APPLY)
    loaded = load_stack(source)
    with state.open_store(loaded.stack.store, create=True) as store:
        plan = make_plan(loaded, store, stack_file=source, adopt=adopt, targets=limit)
        return _apply_and_report(plan, store, loaded.files, yes, concurrency, fmt, APPLY)


@click.command("destroy")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help=_YES)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help=_CONCURRENCY)
@target_option
@format_option("text", "json", "markdown")
@store_option
@pass_state
def destroy_cmd(state: State, file: str, yes: bool, concurrency: int, targets: tuple[str, ...], fmt: str) -> int:
    """Remove every override the stack manages (its inherit scopes need nothing); scopes of
    other stacks and unmanaged ones are left as they are."""
    limit = Targets.parse(targets)
    loaded = load_stack(file)
    with state.open_store(loaded.stack.store, create=False) as store:
        plan = make_plan(loaded, store, stack_file=file, targets=limit, destroy=True)
        return _apply_and_report(plan, store, loaded.files, yes, concurrency, fmt, DESTROY)


class Asking(NamedTuple):
    """What a command that writes says when it asks before writing (``--yes`` not given)."""

    effect: str  # refused without a terminal: "<effect>: pass --yes ..."
    question: str  # on a terminal; {n}: the number of changes, {store}: the store
    declined: str  # the answer was no

    def refusal(self, n: int) -> str:
        return f"{self.effect.format(n=n)}: pass --yes (there is no terminal to ask on)"


APPLY = Asking("apply writes {n} change(s) to the store", "Apply {n} change(s) to {store}?", "nothing applied")
DESTROY = Asking(
    "destroy deletes {n} override(s) from the store",
    "Destroy: delete {n} override(s) from {store}?",
    "nothing destroyed",
)


def _apply_and_report(
    plan: Plan, store: Store, files: FileScope, yes: bool, concurrency: int, fmt: str, asking: Asking
) -> int:
    if fmt == "text":
        click.echo(text.render_plan(plan))
    report = _apply(plan, store, files, yes, concurrency, fmt, asking)
    if report is None:
        click.echo(asking.declined, err=True)
        return EXIT_ERROR
    emit(
        fmt,
        text_out=lambda: text.render_apply(report),
        md_out=lambda: markdown.render_plan(plan) + "\n" + markdown.render_apply(report),
        data=lambda: {
            "stack": report.stack,
            "ok": report.ok,
            "summary": report.counts(),
            "results": [r.to_dict() for r in report.results],
            "plan": plan.to_dict(),
        },
    )
    return EXIT_OK if report.ok else EXIT_ERROR


def _apply(
    plan: Plan, store: Store, files: FileScope, yes: bool, concurrency: int, fmt: str, asking: Asking
) -> ApplyReport | None:
    """The plan applied, or None when the person at the terminal declined."""
    changes = plan.diff.changes
    if changes and not plan.has_errors and not yes:
        if not sys.stdin.isatty():
            raise UsageError(asking.refusal(len(changes)))
        if fmt != "text":  # text has shown it already
            click.echo(text.render_plan(plan), err=True)
        if not click.confirm(asking.question.format(n=len(changes), store=plan.store), err=True):
            return None
    with _Progress(len(changes), fmt == "text") as progress:
        return apply_plan(plan, store, files=files, concurrency=concurrency, on_event=progress.event)


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
