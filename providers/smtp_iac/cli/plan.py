"""``plan``: the pull-request plan (``--out`` saves it for ``apply PLAN.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from ..planning.planfile import write_plan
from ..planning.planner import make_plan
from ..planning.targets import Targets
from ..report import text
from ..store.url import masked
from .options import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    State,
    format_option,
    pass_state,
    store_option,
    target_option,
)
from .output import emit, load_stack

if TYPE_CHECKING:
    from ..planning.plan import Plan
    from ..store import Store


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `apply PLAN.json`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages.")
@click.option("--show-unchanged", is_flag=True, help="List unchanged scopes too (text format).")
@target_option
@format_option("text", "json", "markdown")
@store_option
@pass_state
def plan_cmd(
    state: State,
    file: str,
    out: str | None,
    detailed_exitcode: bool,
    adopt: bool,
    show_unchanged: bool,
    targets: tuple[str, ...],
    fmt: str,
) -> int:
    """Show what apply would change in the live store, and for which organizations."""
    limit = Targets.parse(targets)
    loaded = load_stack(file)
    with state.open_store(loaded.stack.store, create=False) as store:
        plan = make_plan(loaded, store, stack_file=file, adopt=adopt, targets=limit)
        if out or fmt == "json":  # a document that apply may be given: signed with the store key
            plan.seal(store.seal)
    if out:
        write_plan(Path(out), plan)
    emit(
        fmt,
        text_out=lambda: text.render_plan(plan, show_unchanged=show_unchanged),
        md_out=lambda: _markdown(plan),
        data=plan.to_dict,
    )
    if plan.has_errors:
        return EXIT_ERROR
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _markdown(plan: Plan) -> str:
    from ..report import markdown  # only for --format markdown

    return markdown.render_plan(plan)


def store_of_plan(state: State, plan: Plan, source: str, *, doing: str = "nothing applied") -> Store:
    """The store a saved plan was made against. Versions and fingerprints in the plan belong to
    it: another store would either look "stale" for the wrong reason or, sharing the key, take
    the writes."""
    store = state.open_store(None if masked(plan.store) else plan.store, create=False)
    if store.url_for_display != plan.store:
        where = store.url_for_display
        store.close()
        raise UsageError(
            f"{source} was planned against {plan.store}, not {where}; {doing}",
            hint="apply it against the store it was planned with (--store or SMTP_IAC_STORE), "
            "or make a new plan against this one",
        )
    return store
