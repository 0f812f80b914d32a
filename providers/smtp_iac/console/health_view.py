"""Relay health as the pages say it, from the last results (``GET /v1/health``, the report JSON
of ``relayhealth.report_to_dict``), decided apart from HTTP.

- ``org_line``: the line of an organization's page: its mail working, failing since (the
  failure class and the check's advice, in the form's words), a certificate that expires
  soon, no SMTP settings at all, or not checked yet. The organization's relay is the one whose
  ``sources`` hold its effective source (a report of one organization, as an org admin's, has
  only that relay).
- ``TierHealth``: the tier map's markers: per partner, the worst status of the relays its
  organizations use (failing > warning > unchecked > ok; organizations with no settings at all
  count as failing) and how many of them have no working mail; the controller default's relay;
  every relay, worst first.

Every state is said in words; the page's colour and sign only repeat it. Times are UTC.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from ..relayhealth import HealthReport, RelayHealth, report_from_dict
from .results import form_advice

RANK: Final = {"ok": 0, "unchecked": 1, "warning": 2, "failing": 3}
"""How bad a relay's status is: the worst of a partner's relays is its marker."""

WORDS: Final = {
    "ok": "Mail working",
    "warning": "Certificate expiring",
    "unchecked": "Not checked yet",
    "failing": "Mail failing",
}
RELAY_ROWS: Final = 20
NO_SETTINGS_ADVICE: Final = (
    "No tier has SMTP settings for this organization (nor its partner, nor the controller default), "
    "so its mail cannot go out. Ask your partner admin or system administrator to configure SMTP."
)


def parse(body: Any) -> HealthReport | None:
    """The report of an API answer; None when it is not one (the page then says nothing of health)."""
    if not isinstance(body, Mapping):
        return None
    try:
        return report_from_dict(body)
    except (KeyError, TypeError, ValueError):
        return None


def when(value: datetime, ref: datetime) -> str:
    """A time as a page shows it: ``10:02 UTC`` on the day of ``ref``, else with its date."""
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    day = (ref.astimezone(UTC) if ref.tzinfo else ref.replace(tzinfo=UTC)).date()
    return at.strftime("%H:%M UTC" if at.date() == day else "%Y-%m-%d %H:%M UTC")


def days_words(h: RelayHealth, now: datetime) -> str:
    left = h.cert_left(now)
    days = int(left.total_seconds() // 86400) if left is not None else 0
    if days < 1:
        return "within a day"
    return f"in {days} day" + ("" if days == 1 else "s")


def relay_words(h: RelayHealth) -> str:
    r = h.relay
    return f"{r.host}:{r.port} ({r.tls_mode}, user {r.username})"


@dataclass(frozen=True)
class Line:
    """One health statement: ``state`` (ok, warning, unchecked, failing, nomail, none) and its words."""

    state: str
    text: str
    note: str = ""
    advice: str = ""
    detail: str = ""

    @property
    def notice(self) -> str:
        """The page's notice style for the state."""
        return {"ok": "ok", "warning": "warn", "failing": "error", "nomail": "error"}.get(self.state, "")


def org_line(report: HealthReport | None, source: str | None) -> Line | None:
    """The health line of an organization whose effective settings come from ``source`` (None:
    no settings apply); None when the caller sees no health."""
    if report is None:
        return None
    if source is None:
        return Line("nomail", "No SMTP settings apply: no mail", advice=NO_SETTINGS_ADVICE)
    h = next((h for h in report.relays if source in {str(s) for s in h.relay.sources}), None)
    if h is None and len(report.relays) == 1 and len(report.scope.orgs) == 1:
        h = report.relays[0]  # the one relay of a one-organization report (sources it may not read)
    if h is None or h.last is None:
        return Line(
            "unchecked",
            "Not checked yet",
            note="No health check has reached this organization's relay yet (smtp-iac health, or the "
            "service's periodic checks).",
        )
    last, now = h.last, report.at
    checked = f"checked {when(last.checked_at, now)}"
    status = h.status(now)
    if status == "failing":
        since = when(h.failing_since or last.checked_at, now)
        note = f"Relay {relay_words(h)}, last {checked}, at the {last.stage or 'unknown'} stage."
        advice = form_advice(last.failure, last.advice)  # in the form's words, not a stack file's
        return Line("failing", f"Mail failing since {since}: {last.failure}", note, advice, last.detail)
    note = f"Relay {relay_words(h)}, {last.latency_ms} ms"
    if h.recovered_at is not None and (now - h.recovered_at).total_seconds() < 86400:
        note += f", recovered at {when(h.recovered_at, now)}"
    if status == "warning":
        expiry = last.cert_not_after.strftime("%Y-%m-%d") if last.cert_not_after else "soon"
        return Line(
            "warning",
            f"Certificate expires {days_words(h, now)}",
            f"Mail working ({checked}). {note}.",
            f"The relay's TLS certificate expires on {expiry}: renew it before then, or this "
            "organization's mail stops.",
        )
    return Line("ok", f"Mail working ({checked})", note + ".")


@dataclass(frozen=True)
class Mark:
    """A tier map marker: a state and its words, and how many organizations have no working mail."""

    state: str
    text: str
    without_mail: int
    organizations: int

    @property
    def count_text(self) -> str:
        noun = "organization" if self.organizations == 1 else "organizations"
        return f"{self.without_mail:,} of {self.organizations:,} {noun} without working mail"


def _mark(relays: list[tuple[RelayHealth, int]], bare: int, now: datetime) -> Mark:
    carried = sum(n for _, n in relays)
    failing = sum(n for h, n in relays if h.status(now) == "failing")
    if not relays:
        state, text = ("nomail", "No SMTP settings") if bare else ("none", "No organizations")
        return Mark(state, text, bare, bare)
    worst = max((h for h, _ in relays), key=lambda h: RANK[h.status(now)])
    status: str = worst.status(now)
    text = WORDS[status]
    if status == "warning":
        text = f"Certificate expires {days_words(worst, now)}"
    if bare and status != "failing":  # no settings at all is mail lost too, as bad as a failing relay
        status, text = "nomail", f"No SMTP settings for {bare:,}"
    return Mark(status, text, failing + bare, carried + bare)


@dataclass(frozen=True)
class RelayRow:
    relay: str
    sources: str
    mark: Mark
    checked: str


class TierHealth:
    """The tier map's health markers, from one report (each partner's, in one pass)."""

    def __init__(self, report: HealthReport):
        self.report = report
        now = report.at
        per: dict[str, list[tuple[RelayHealth, int]]] = {}
        for h in report.relays:
            for partner, n in h.relay.organizations:
                per.setdefault(partner, []).append((h, n))
        bare = dict(report.without_settings)
        self._partners = {p: _mark(per.get(p, []), bare.get(p, 0), now) for p in per.keys() | bare.keys()}
        ctl = [(h, h.relay.carried) for h in report.relays if any(not s.partner for s in h.relay.sources)]
        self.controller = _mark(ctl, 0, now) if ctl else None
        """The controller default's relay (when the caller sees it carry organizations)."""
        everything = [(h, h.relay.carried) for h in report.relays]
        self.total = _mark(everything, sum(bare.values()), now)
        """Every organization in the caller's reach."""
        self._rows: dict[int, list[RelayRow]] = {}

    def partner(self, partner: str) -> Mark:
        return self._partners.get(partner) or Mark("none", "No organizations", 0, 0)

    def relays(self, limit: int = RELAY_ROWS) -> list[RelayRow]:
        """The relays, worst first (then the most organizations carried); made once per limit
        (the console keeps the markers while nothing moved, and shows them again)."""
        if limit not in self._rows:
            self._rows[limit] = self._relays(limit)
        return self._rows[limit]

    def _relays(self, limit: int) -> list[RelayRow]:
        now = self.report.at

        def key(h: RelayHealth) -> tuple[int, int, str]:
            return (-RANK[h.status(now)], -h.relay.carried, h.relay.host)

        rows = []
        for h in heapq.nsmallest(limit, self.report.relays, key=key):  # sorted(...)[:limit], stable
            mark = _mark([(h, h.relay.carried)], 0, now)
            if h.status(now) == "failing" and h.last is not None:
                since = when(h.failing_since or h.last.checked_at, now)
                mark = replace(mark, text=f"Mail failing since {since}: {h.last.failure}")
            checked = when(h.last.checked_at, now) if h.last is not None else "never"
            rows.append(RelayRow(relay_words(h), ", ".join(str(s) for s in h.relay.sources), mark, checked))
        return rows

    @property
    def more(self) -> int:
        return max(0, len(self.report.relays) - RELAY_ROWS)
