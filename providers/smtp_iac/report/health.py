"""``smtp-iac health`` as text (a terminal, a CI log), markdown (a pipeline's summary) and JSON.

Text: one block per relay (status word, where it is, what its last check found, whose mail it
carries), then the organizations with no effective settings, then one summary line. Markdown:
a table per status, bounded like the plan's comment (``markdown._Doc``). Times are UTC.
Everything a relay said (a failure's detail) is shown without control characters: it goes to
a terminal."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from ..relayhealth import HealthReport, RelayHealth, Status, report_to_dict
from .common import plural
from .markdown import _cell, _Doc

WORD: dict[Status, str] = {"ok": "OK", "warning": "WARNING", "failing": "FAILING", "unchecked": "UNCHECKED"}
ORDER: tuple[Status, ...] = ("failing", "warning", "unchecked", "ok")
MAX_SOURCES = 10
MAX_PARTNERS = 10

_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    return _UNPRINTABLE.sub("?", " ".join(text.split("\n")))


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _when(t: datetime) -> str:
    """``10:02 (2026-05-01)``: the hour first, as people say it; UTC."""
    u = _utc(t)
    return f"{u:%H:%M} ({u:%Y-%m-%d})"


def _cert(h: RelayHealth, now: datetime) -> str | None:
    """``certificate expires 2027-01-02 (in 12 days)``; None without a TLS certificate."""
    if h.last is None or h.last.cert_not_after is None:
        return None
    end = _utc(h.last.cert_not_after)
    days = (end.date() - _utc(now).date()).days
    if end <= now:
        return f"certificate expired {end:%Y-%m-%d} ({plural(-days, 'day')} ago)"
    return f"certificate expires {end:%Y-%m-%d} (in {plural(days, 'day')})"


def _where(h: RelayHealth) -> str:
    r = h.relay
    tls = "no TLS" if r.tls_mode == "none" else r.tls_mode
    return f"{r.host}:{r.port} ({tls}, user {r.username})"


def _carried(h: RelayHealth) -> str:
    """``3,000 organizations: acme 2,990, globex 10`` (the largest partners first)."""
    parts = sorted(h.relay.organizations, key=lambda pn: (-pn[1], pn[0]))
    shown = ", ".join(f"{p} {n:,}" for p, n in parts[:MAX_PARTNERS])
    more = f" and {plural(len(parts) - MAX_PARTNERS, 'more partner')}" if len(parts) > MAX_PARTNERS else ""
    return f"{plural(h.relay.carried, 'organization')}: {shown}{more}"


def _sources(h: RelayHealth) -> str:
    s = [str(a) for a in h.relay.sources]
    more = f" and {len(s) - MAX_SOURCES:,} more" if len(s) > MAX_SOURCES else ""
    return ", ".join(s[:MAX_SOURCES]) + more


def _by_partner(items: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{p} {n:,}" for p, n in sorted(items, key=lambda pn: (-pn[1], pn[0])))


def summary(report: HealthReport) -> str:
    """``2 relays checked: 1 ok, 1 failing; 3,000 of 3,010 organizations without working mail``."""
    counts = {s: 0 for s in ORDER}
    for h in report.relays:
        counts[h.status(report.at)] += 1
    checked = len(report.relays) - counts["unchecked"]
    parts = [f"{n} {s}" for s in ("ok", "warning", "failing", "unchecked") if (n := counts[s])]
    head = f"{plural(checked, 'relay')} checked" + (f": {', '.join(parts)}" if parts else "")
    lost = report.without_mail()
    if lost:
        return f"{head}; {lost:,} of {plural(report.organizations, 'organization')} without working mail"
    return f"{head}; every organization in scope has working mail ({report.organizations:,})"


def _scope_text(report: HealthReport) -> str:
    s = report.scope
    if s.everything:
        return "every organization"
    parts = [f"partners/{p}" for p in sorted(s.partners)] + [str(o) for o in sorted(s.orgs)]
    return ", ".join(parts)


# ----- text ----------------------------------------------------------------------------------


def _block(h: RelayHealth, now: datetime) -> list[str]:
    status = h.status(now)
    last = h.last
    head = f"{WORD[status]:<9} {_where(h)}"
    out = [head + (f"  {last.latency_ms:,} ms" if last is not None else "  not checked yet")]
    cert = _cert(h, now)
    if cert is not None:
        out.append(f"  {'warning: ' if status == 'warning' else ''}{cert}")
    if last is not None and not last.ok:
        at = f" at {last.stage}" if last.stage else ""
        out.append(f"  {last.failure}{at}: {_clean(last.detail)}")
        if last.advice:
            out.append(f"  advice: {_clean(last.advice)}")
        if h.failing_since is not None:
            out.append(f"  failing since {_when(h.failing_since)}")
    elif h.recovered_at is not None:
        out.append(f"  recovered at {_when(h.recovered_at)}")
    if h.relay.sources:
        out.append(f"  settings of: {_sources(h)}")
    out.append(f"  carries {_carried(h)}")
    return out


def render_text(report: HealthReport) -> str:
    now = report.at
    out = [f"Relay health of {_scope_text(report)} at {_utc(now):%Y-%m-%d %H:%M} UTC", ""]
    for h in sorted(report.relays, key=lambda h: ORDER.index(h.status(now))):
        out += [*_block(h, now), ""]
    if not report.relays:
        out += ["No relay carries an organization in scope.", ""]
    if report.without_settings:
        bare = sum(n for _, n in report.without_settings)
        out += [
            f"No effective settings (no working mail): {plural(bare, 'organization')}: "
            f"{_by_partner(report.without_settings)}",
            "",
        ]
    out += [f"note: {_clean(n)}" for n in report.notes]
    out.append(summary(report))
    return "\n".join(out) + "\n"


# ----- markdown ------------------------------------------------------------------------------


def _row(h: RelayHealth, now: datetime) -> str:
    last = h.last
    if last is None:
        outcome = "not checked yet"
    elif last.ok:
        outcome = f"ok, {last.latency_ms:,} ms"
        if h.recovered_at is not None:
            outcome += f"; recovered at {_when(h.recovered_at)}"
    else:
        outcome = f"**{last.failure}**" + (f" at {last.stage}" if last.stage else "") + f": {_clean(last.detail)}"
        if h.failing_since is not None:
            outcome += f"; failing since {_when(h.failing_since)}"
    cells = (
        f"`{h.relay.host}:{h.relay.port}`",
        h.relay.tls_mode,
        h.relay.username,
        outcome,
        _cert(h, now) or "",
        _carried(h),
        _sources(h),
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_markdown(report: HealthReport) -> str:
    now = report.at
    doc = _Doc()
    doc.add(
        f"## Relay health of {_cell(_scope_text(report))}",
        "",
        f"**{summary(report)}** ({_utc(now):%Y-%m-%d %H:%M} UTC)",
    )
    for status in ORDER:
        rows = [_row(h, now) for h in report.relays if h.status(now) == status]
        if not rows:
            continue
        head = [
            "",
            f"### {WORD[status]} ({len(rows)})",
            "",
            "| relay | TLS | user | last check | certificate | carries | settings of |",
            "|---|---|---|---|---|---|---|",
        ]
        doc.section(
            head, rows, len(rows), lambda n: f"\n… and {plural(n, 'more relay')} (see --format json)", share=0.5
        )
    advice = sorted({h.last.advice for h in report.relays if h.last is not None and not h.last.ok and h.last.advice})
    if advice:
        doc.add("", "<details><summary>What to do</summary>", "", *(f"- {_cell(a)}" for a in advice), "", "</details>")
    if report.without_settings:
        rows = [f"| {_cell(p)} | {n:,} |" for p, n in report.without_settings]
        head = ["", "### No effective settings (no working mail)", "", "| partner | organizations |", "|---|---:|"]
        doc.section(head, rows, len(rows), lambda n: f"\n… and {plural(n, 'more partner')}")
    if report.notes:
        doc.add("", *(f"> {_cell(n)}" for n in report.notes))
    return doc.text()


# ----- JSON ----------------------------------------------------------------------------------


def render_json(report: HealthReport) -> str:
    return json.dumps(report_to_dict(report), indent=2) + "\n"
