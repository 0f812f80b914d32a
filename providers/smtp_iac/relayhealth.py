"""Relay health, the pure part: which relays carry whose mail, and what a check does to a
relay's history.

The rule: an organization's mail goes through its effective settings (``resolve``). A *relay*
is one distinct set of effective settings: records with the same host, port, TLS mode,
username and password (compared by the store's keyed fingerprint, never the password) are one
SMTP login, checked once however many records and organizations share them (200,000
organizations on 5 relays are 5 checks). A relay carries the organizations whose effective
settings come from one of its records, counted per partner as the blast radius counts them;
an organization with no effective settings at all has no working mail either.

A relay's history is advanced by each check (``advance``): ``failing_since`` is the time of
the first failed check of an unbroken run of failures (kept while it fails), ``recovered_at``
the time of the first good check after a failure. A relay is ``failing`` when its last check
failed, ``warning`` when it passed but its TLS certificate expires within
``CERT_WARNING_DAYS``, ``ok`` otherwise, ``unchecked`` before its first check.

``exit_status``: 0 every organization's mail works, 2 warnings only, 3 any organization in
scope without working mail (a failing relay, or no effective settings at all).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from .addresses import Address
from .models import LiveRecord, effective_tls_mode
from .resolve import effective_source

CERT_WARNING_DAYS: Final = 21
EXIT_WORKING, EXIT_WARNINGS, EXIT_MAIL_LOST = 0, 2, 3

Status = Literal["ok", "warning", "failing", "unchecked"]


def relay_key(record: LiveRecord) -> str:
    """What makes two records one SMTP login (a digest: the fingerprint is not shown twice)."""
    mode = effective_tls_mode(record.tls, record.tls_mode, record.port)
    parts = (record.host.strip().lower(), str(record.port), mode, record.username, record.password_fingerprint)
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Scope:
    """Which organizations a run looks at: all (nothing given), some partners', or some
    organizations."""

    partners: frozenset[str] = frozenset()
    orgs: frozenset[Address] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.partners and not self.orgs

    def includes(self, org: Address) -> bool:
        return self.everything or org.partner in self.partners or org in self.orgs

    def to_dict(self) -> dict[str, list[str]]:
        return {"partners": sorted(self.partners), "orgs": sorted(str(o) for o in self.orgs)}


EVERYTHING: Final = Scope()


@dataclass(frozen=True)
class Relay:
    """One distinct effective settings and whose mail it carries."""

    key: str
    host: str
    port: int
    tls_mode: str
    username: str
    sources: tuple[Address, ...]  # the records with these settings that organizations use
    organizations: tuple[tuple[str, int], ...]  # (partner, organizations carried), by partner

    @property
    def carried(self) -> int:
        return sum(n for _, n in self.organizations)


@dataclass(frozen=True)
class Coverage:
    """The relays in scope, and the organizations in scope with no effective settings."""

    relays: tuple[Relay, ...]
    without_settings: tuple[tuple[str, int], ...]  # (partner, organizations), by partner
    organizations: int  # organizations in scope


Tally = dict[Address | None, dict[str, int]]
"""Organizations per effective source (None: no effective settings) and partner."""


def tally(records: Mapping[Address, LiveRecord], orgs: Iterable[tuple[Address, bool]], scope: Scope) -> Tally:
    """Count the organizations in scope by the source of their effective settings (the rule of
    ``resolve``; the store counts the same in SQL: ``source_tally``)."""
    out: Tally = {}
    for org, enabled in orgs:
        if scope.includes(org):
            counts = out.setdefault(effective_source(org, enabled, records), {})
            counts[org.partner] = counts.get(org.partner, 0) + 1
    return out


def coverage_of(records: Mapping[Address, LiveRecord], counts: Tally) -> Coverage:
    """Group the sources of ``counts`` by relay (``records``: at least every source's record)."""
    by_key: dict[str, tuple[LiveRecord, list[Address], Counter[str]]] = {}
    for source in sorted((s for s in counts if s is not None), key=str):
        record = records[source]
        entry = by_key.setdefault(relay_key(record), (record, [], Counter()))
        entry[1].append(source)
        entry[2].update(counts[source])
    relays = [
        Relay(
            key=key,
            host=record.host,
            port=record.port,
            tls_mode=effective_tls_mode(record.tls, record.tls_mode, record.port),
            username=record.username,
            sources=tuple(sources),
            organizations=tuple(sorted(per_partner.items())),
        )
        for key, (record, sources, per_partner) in by_key.items()
    ]
    relays.sort(key=lambda r: (-r.carried, r.host, r.port, r.key))
    bare = tuple(sorted(counts.get(None, {}).items()))
    total = sum(sum(c.values()) for c in counts.values())
    return Coverage(tuple(relays), bare, total)


def coverage(records: Mapping[Address, LiveRecord], orgs: Iterable[tuple[Address, bool]], scope: Scope) -> Coverage:
    """Group the organizations in scope by the relay of their effective settings."""
    return coverage_of(records, tally(records, orgs, scope))


@dataclass(frozen=True)
class Check:
    """One check's outcome, as kept (never the password: ``detail`` is the check's, masked)."""

    ok: bool
    checked_at: datetime
    latency_ms: int
    failure: str | None = None
    stage: str | None = None
    detail: str = ""
    advice: str = ""
    cert_not_after: datetime | None = None


@dataclass(frozen=True)
class RelayHealth:
    """A relay, its last check and its history."""

    relay: Relay
    last: Check | None = None
    failing_since: datetime | None = None
    recovered_at: datetime | None = None

    def status(self, now: datetime) -> Status:
        if self.last is None:
            return "unchecked"
        if not self.last.ok:
            return "failing"
        left = self.cert_left(now)
        return "warning" if left is not None and left < timedelta(days=CERT_WARNING_DAYS) else "ok"

    def cert_left(self, now: datetime) -> timedelta | None:
        if self.last is None or self.last.cert_not_after is None:
            return None
        return self.last.cert_not_after - now


def advance(previous: RelayHealth | None, relay: Relay, check: Check) -> RelayHealth:
    """The relay's health after ``check`` (module docstring: failing since, recovered at)."""
    before = previous.last if previous is not None else None
    recovered_at = previous.recovered_at if previous is not None else None
    if check.ok:
        if before is not None and not before.ok:
            recovered_at = check.checked_at
        return RelayHealth(relay, check, None, recovered_at)
    since = previous.failing_since if previous is not None and before is not None and not before.ok else None
    return RelayHealth(relay, check, since or check.checked_at, recovered_at)


@dataclass(frozen=True)
class HealthReport:
    """What a run found (or what the last runs found, for ``GET /v1/health``)."""

    scope: Scope
    relays: tuple[RelayHealth, ...]
    without_settings: tuple[tuple[str, int], ...]
    organizations: int
    at: datetime
    notes: tuple[str, ...] = field(default_factory=tuple)

    def without_mail(self, now: datetime | None = None) -> int:
        """Organizations in scope without working mail: on a failing relay or with no settings."""
        failing = sum(h.relay.carried for h in self.relays if h.status(now or self.at) == "failing")
        return failing + sum(n for _, n in self.without_settings)

    def exit_status(self) -> int:
        if self.without_mail() > 0:
            return EXIT_MAIL_LOST
        if any(h.status(self.at) in ("warning", "unchecked") for h in self.relays):
            return EXIT_WARNINGS
        return EXIT_WORKING

    def limited(self, partners: frozenset[str] | None, sources: frozenset[Address] | None = None) -> HealthReport:
        """The report as a caller limited to ``partners`` (None: all) sees it: only relays that
        carry their organizations, counted for them alone; ``sources``: the records it may read
        (others are not named)."""
        if partners is None:
            return self
        kept: list[RelayHealth] = []
        for h in self.relays:
            orgs = tuple((p, n) for p, n in h.relay.organizations if p in partners)
            if not orgs:
                continue
            named = tuple(s for s in h.relay.sources if sources is None or s in sources)
            kept.append(replace(h, relay=replace(h.relay, organizations=orgs, sources=named)))
        bare = tuple((p, n) for p, n in self.without_settings if p in partners)
        total = sum(n for h in kept for _, n in h.relay.organizations) + sum(n for _, n in bare)
        return replace(self, relays=tuple(kept), without_settings=bare, organizations=total)


# ----- as data (JSON: the service's answers, the CLI's --format json, the store) ------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def check_to_dict(check: Check) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "checked_at": _time(check.checked_at),
        "latency_ms": check.latency_ms,
        "failure": check.failure,
        "stage": check.stage,
        "detail": check.detail,
        "advice": check.advice,
        "cert_not_after": _time(check.cert_not_after),
    }


def check_from_dict(d: Mapping[str, Any]) -> Check:
    at = _parse_time(d["checked_at"])
    assert at is not None
    return Check(
        ok=bool(d["ok"]),
        checked_at=at,
        latency_ms=int(d["latency_ms"]),
        failure=d.get("failure"),
        stage=d.get("stage"),
        detail=str(d.get("detail") or ""),
        advice=str(d.get("advice") or ""),
        cert_not_after=_parse_time(d.get("cert_not_after")),
    )


def relay_to_dict(r: Relay) -> dict[str, Any]:
    return {
        "key": r.key,
        "host": r.host,
        "port": r.port,
        "tls_mode": r.tls_mode,
        "username": r.username,
        "sources": [str(s) for s in r.sources],
        "organizations": [{"partner": p, "organizations": n} for p, n in r.organizations],
    }


def relay_from_dict(d: Mapping[str, Any]) -> Relay:
    return Relay(
        key=str(d["key"]),
        host=str(d["host"]),
        port=int(d["port"]),
        tls_mode=str(d["tls_mode"]),
        username=str(d["username"]),
        sources=tuple(Address.parse(s) for s in d["sources"]),
        organizations=tuple((str(o["partner"]), int(o["organizations"])) for o in d["organizations"]),
    )


def health_to_dict(h: RelayHealth, now: datetime) -> dict[str, Any]:
    left = h.cert_left(now)
    return {
        **relay_to_dict(h.relay),
        "status": h.status(now),
        "last_check": check_to_dict(h.last) if h.last is not None else None,
        "failing_since": _time(h.failing_since),
        "recovered_at": _time(h.recovered_at),
        "cert_days_left": round(left.total_seconds() / 86400, 1) if left is not None else None,
    }


def health_from_dict(d: Mapping[str, Any]) -> RelayHealth:
    last = d.get("last_check")
    return RelayHealth(
        relay_from_dict(d),
        check_from_dict(last) if last else None,
        _parse_time(d.get("failing_since")),
        _parse_time(d.get("recovered_at")),
    )


def report_to_dict(report: HealthReport) -> dict[str, Any]:
    return {
        "at": report.at.isoformat(),
        "scope": report.scope.to_dict(),
        "organizations": report.organizations,
        "organizations_without_mail": report.without_mail(),
        "exit_status": report.exit_status(),
        "relays": [health_to_dict(h, report.at) for h in report.relays],
        "without_settings": [{"partner": p, "organizations": n} for p, n in report.without_settings],
        "notes": list(report.notes),
    }


def report_from_dict(d: Mapping[str, Any]) -> HealthReport:
    at = _parse_time(d["at"])
    assert at is not None
    scope = d.get("scope") or {}
    return HealthReport(
        scope=Scope(frozenset(scope.get("partners", [])), frozenset(Address.parse(o) for o in scope.get("orgs", []))),
        relays=tuple(health_from_dict(h) for h in d["relays"]),
        without_settings=tuple((str(o["partner"]), int(o["organizations"])) for o in d["without_settings"]),
        organizations=int(d["organizations"]),
        at=at,
        notes=tuple(d.get("notes", [])),
    )
