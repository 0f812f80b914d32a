"""``show PLAN.json``: render a saved plan again (text, markdown, json), after checking that it
is exactly what ``plan`` wrote (its digest, keyed with the store key, against the store it was
planned with). An edited plan is refused here as ``apply`` would refuse it, so what a reviewer
is shown is what apply would do.

It also says whether the plan is stale: a planned scope whose live version moved since the
plan was made (``planning.apply.stale_scopes``, the check apply makes before it writes
anything) means apply would apply nothing. A stale plan is still shown and ``show`` exits 0
(SPEC gives ``show`` 0 and 1, and a stale plan is still a readable one), with a ``STALE:``
line above the plan (text, markdown) or a ``stale`` list in the document (json). The other
half of apply's check, a password reference that now resolves to another secret, is not
made here: references resolve where apply runs (the pipeline's secrets), not where a reviewer
runs ``show``."""

from __future__ import annotations

from typing import Any

import click

from ..addresses import Address
from ..errors import SmtpIacError, StoreError, UsageError
from ..planning.apply import stale_scopes
from ..planning.plan import Plan
from ..planning.planfile import read_plan
from ..report import markdown, text
from ..store import Store
from .options import EXIT_OK, State, format_option, pass_state, store_option
from .output import emit
from .plan import store_of_plan

MAX_NAMED = 10  # stale scopes named on the STALE line; the json lists every one


@click.command("show")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
@store_option
@pass_state
def show_cmd(state: State, plan_file: str, fmt: str) -> int:
    """Render a saved plan again, after checking its digest against the store it was planned with."""
    plan = read_plan(plan_file)
    with store_of_plan(state, plan, plan_file, doing="nothing shown") as store:
        if not _unaltered(plan, store, plan_file):
            raise UsageError(
                f"{plan_file} was changed after it was made (its digest does not match); nothing shown",
                hint="make a new plan; plan files are not meant to be edited",
            )
        check = Staleness.of(plan, store)
    emit(
        fmt,
        text_out=lambda: check.line() + text.render_plan(plan),
        md_out=lambda: check.markdown() + markdown.render_plan(plan),
        data=lambda: plan.to_dict() | check.fields(),
    )
    return EXIT_OK


def _unaltered(plan: Plan, store: Store, plan_file: str) -> bool:
    """Whether the plan is exactly what ``plan`` wrote; a store that cannot answer is said as
    such (the digest is keyed with the store key: without the store, nothing is shown)."""
    try:
        return plan.unaltered(store.seal)
    except StoreError as e:
        raise StoreError(
            f"{plan_file}: its digest cannot be checked, {e.message}; nothing shown", hint=e.hint
        ) from None


class Staleness:
    """Whether a saved plan still matches the live store: the scopes that moved since it was
    made, or why that could not be checked (``unchecked``)."""

    def __init__(self, stale: list[tuple[Address, str]], unchecked: str | None = None):
        self.stale, self.unchecked = stale, unchecked

    @classmethod
    def of(cls, plan: Plan, store: Store) -> Staleness:
        if not plan.diff.changes:  # nothing to write: nothing can be stale
            return cls([])
        try:
            snap = store.snapshot()
        except SmtpIacError as e:  # the digest was checked; the store failed us afterwards
            return cls([], f"the store did not answer ({e.message})")
        return cls(stale_scopes(plan, {a: r.version for a, r in snap.records.items()}))

    def summary(self) -> str:
        if self.unchecked is not None:
            return f"NOT CHECKED whether this plan is stale: {self.unchecked}; apply checks it before it writes"
        named = "; ".join(f"{a}: {why}" for a, why in self.stale[:MAX_NAMED])
        more = f"; and {len(self.stale) - MAX_NAMED} more (see --format json)" if len(self.stale) > MAX_NAMED else ""
        scopes = "1 planned scope" if len(self.stale) == 1 else f"{len(self.stale):,} planned scopes"
        return (
            f"STALE: {scopes} moved since this plan was made, so apply would apply nothing: {named}{more}. "
            "Run plan again and review the new plan."
        )

    def line(self) -> str:
        """The text output's first line (with a blank line after it), or nothing."""
        return f"{self.summary()}\n\n" if self.stale or self.unchecked else ""

    def markdown(self) -> str:
        return f"> **{self.summary()}**\n\n" if self.stale or self.unchecked else ""

    def fields(self) -> dict[str, Any]:
        """Added to the plan document only when there is something to say, so that a current
        plan shown as json is still exactly the saved plan."""
        if self.unchecked is not None:
            return {"stale_check": self.unchecked}
        if self.stale:
            return {"stale": [{"address": str(a), "reason": why} for a, why in self.stale]}
        return {}
