"""Markdown for a pull-request comment. Summaries first, details folded, and bounded: GitHub
refuses comments over 65,536 characters, and a plan may touch 20,000 organizations. The bound
is on characters (ids may be 63 characters long and values longer), not only on rows: each
section takes rows while they fit in what is left of ``MAX_CHARS`` and says how many it left out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..planning.apply import ApplyReport
from ..planning.blast import ImpactKind
from ..planning.diff import Action
from ..planning.drift import DriftItem
from ..planning.plan import Plan
from .common import SYMBOL, plural, scope_summary, transitions_text

MAX_CHARS = 60_000  # GitHub's limit is 65,536; leave room for a pipeline's own header or footer
MAX_SCOPE_ROWS = 200
MAX_PARTNER_ROWS = 50
MAX_ORG_ROWS = 300


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


class _Doc:
    """Lines under a character budget."""

    def __init__(self, limit: int = MAX_CHARS):
        self.lines: list[str] = []
        self.left = limit

    @staticmethod
    def cost(lines: Sequence[str]) -> int:
        return sum(len(x) + 1 for x in lines)

    def add(self, *lines: str) -> None:
        """Lines that must be there (titles, summaries): always added."""
        self.lines += lines
        self.left -= self.cost(lines)

    def section(
        self,
        head: Sequence[str],
        rows: Sequence[str],
        total: int,
        more: Callable[[int], str],
        tail: Sequence[str] = (),
        share: float = 1.0,
    ) -> None:
        """``head``, then as many of ``rows`` as fit (leaving room for the "more" line and
        ``tail``), then ``more(left out)`` if any of ``total`` were left out, then ``tail``.
        ``share``: the part of what is left that this section may use (room for the next ones)."""
        fixed = self.cost(head) + self.cost(tail) + len(more(total)) + 1
        room = int(self.left * share)
        if fixed > room:  # not even the frame fits: one line saying so, if that fits
            note = f"({total:,} more rows left out: the comment is full; see the JSON output)"
            if len(note) + 1 <= self.left:
                self.add(note)
            return
        budget = room - fixed
        shown: list[str] = []
        for row in rows:
            if len(row) + 1 > budget:
                break
            shown.append(row)
            budget -= len(row) + 1
        self.add(*head, *shown)
        if len(shown) < total:
            self.add(more(total - len(shown)))
        self.add(*tail)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_plan(plan: Plan) -> str:
    c = plan.diff.counts()
    b = plan.blast
    doc = _Doc()
    doc.add(f"### smtp-iac plan: `{plan.stack}`", "")
    head = f"**{c['create']} to create, {c['update']} to update, {c['delete']} to delete**, {c['no-op']} unchanged"
    if c["refused"]:
        head += f", **{c['refused']} refused** :x:"
    doc.add(head)
    if b is not None:
        doc.add(
            f"**Blast radius: {plural(b.affected, 'organization')}** of {b.organizations:,} change "
            "effective SMTP settings."
        )
    doc.add("")
    refused = plan.diff.refused
    if refused:
        doc.section(
            ["#### Refused", "", "| Address | Why |", "|---|---|"],
            [f"| `{s.address}` | {_cell(scope_summary(s))} |" for s in refused[:MAX_SCOPE_ROWS]],
            len(refused),
            lambda n: f"| … {n:,} more | see the plan's JSON |",
            [""],
        )
    if b is not None and b.partners:
        doc.section(
            ["#### Blast radius by partner", "", "| Partner | Orgs | Affected | From → to |", "|---|--:|--:|---|"],
            [
                f"| `{p.partner}` | {p.organizations:,} | {p.affected:,} | {_cell(transitions_text(p))} |"
                for p in b.partners[:MAX_PARTNER_ROWS]
            ],
            len(b.partners),
            lambda n: f"| … {n:,} more partners | | | |",
            [""],
        )
    changes = [s for s in plan.diff.listed if s.action is not Action.NOOP and not s.refusal]
    if changes:
        doc.section(
            [
                f"<details><summary>Changes ({len(changes):,} scopes)</summary>",
                "",
                "| | Address | Changes |",
                "|---|---|---|",
            ],
            [f"| {SYMBOL[s.action]} | `{s.address}` | {_cell(scope_summary(s))} |" for s in changes[:MAX_SCOPE_ROWS]],
            len(changes),
            lambda n: f"| | … {n:,} more | see the plan's JSON |",
            ["", "</details>", ""],
            share=0.5 if b is not None and b.impacts else 1.0,
        )
    if b is not None and b.impacts:
        doc.section(
            [
                f"<details><summary>Affected organizations ({b.affected:,})</summary>",
                "",
                "| Organization | Before | After |",
                "|---|---|---|",
            ],
            [
                f"| `{i.org}` | {i.before or 'none'} | {i.after or 'none'}"
                + (" (new settings)" if i.kind is ImpactKind.SETTINGS else "")
                + " |"
                for i in b.impacts[:MAX_ORG_ROWS]
            ],
            b.affected,
            lambda n: f"| … {n:,} more | | see the plan's JSON |",
            ["", "</details>", ""],
        )
    if plan.diff.unmanaged:
        un = plan.diff.unmanaged
        doc.section(
            [f"<details><summary>Unmanaged overrides ({len(un):,}, left as they are)</summary>", ""],
            [f"- `{a}`" for a in un[:MAX_SCOPE_ROWS]],
            len(un),
            lambda n: f"- … {n:,} more",
            ["", "</details>", ""],
        )
    return doc.text()


def render_drift(stack: str, items: list[DriftItem]) -> str:
    if not items:
        return f"### smtp-iac drift: `{stack}`\n\nNo drift.\n"
    doc = _Doc()
    doc.add(f"### smtp-iac drift: `{stack}`", "", f"**{plural(len(items), 'difference')}**", "")
    doc.section(
        ["| Kind | Address | What | Who, when |", "|---|---|---|---|"],
        [
            f"| {i.kind} | `{i.address}` | {_cell(i.message)} | {_cell(i.who.text()) if i.who else 'unknown'} |"
            for i in items[:MAX_SCOPE_ROWS]
        ],
        len(items),
        lambda n: f"| | … {n:,} more | see --format json | |",
    )
    return doc.text()


def render_apply(report: ApplyReport) -> str:
    c = report.counts()
    doc = _Doc()
    doc.add(
        f"### smtp-iac apply: `{report.stack}`",
        "",
        f"**{c['applied']} applied**, {c['verify_failed']} failed verify, {c['refused']} refused, {c['failed']} failed",
        "",
    )
    bad = [r for r in report.results if not r.ok]
    if bad:
        doc.section(
            ["| Address | Outcome | Why |", "|---|---|---|"],
            [f"| `{r.address}` | {r.outcome} | {_cell(r.message)} |" for r in bad[:MAX_SCOPE_ROWS]],
            len(bad),
            lambda n: f"| … {n:,} more | | see --format json |",
        )
    return doc.text()
