"""``show PLAN.json``: render a saved plan again (text, markdown, json), after checking that it
is exactly what ``plan`` wrote (its digest, keyed with the store key, against the store it was
planned with). An edited plan is refused here as ``apply`` would refuse it, so what a reviewer
is shown is what apply would do."""

from __future__ import annotations

import click

from ..errors import UsageError
from ..planning.planfile import read_plan
from ..report import markdown, text
from .options import EXIT_OK, State, format_option, pass_state, store_option
from .output import emit
from .plan import store_of_plan


@click.command("show")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
@store_option
@pass_state
def show_cmd(state: State, plan_file: str, fmt: str) -> int:
    """Render a saved plan again, after checking its digest against the store it was planned with."""
    plan = read_plan(plan_file)
    with store_of_plan(state, plan, plan_file, doing="nothing shown") as store:
        if not plan.unaltered(store.seal):
            raise UsageError(
                f"{plan_file} was changed after it was made (its digest does not match); nothing shown",
                hint="make a new plan; plan files are not meant to be edited",
            )
    emit(fmt, text_out=lambda: text.render_plan(plan), md_out=lambda: markdown.render_plan(plan), data=plan.to_dict)
    return EXIT_OK
