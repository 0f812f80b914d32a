"""Checking what is in force: one SMTP login per relay in scope, the results kept.

``check_health`` has the database count the organizations in scope per effective source
(``source_tally``), groups the sources by relay (``relayhealth.coverage_of``), takes each
relay's password from its first record (the store decrypts it; it never leaves this process),
runs the verify check in mode ``login`` (no mail is ever sent) for every relay, at most
``concurrency`` at a time, each within ``timeout_seconds`` and the relay policy
(``destination``: the service's ``--deny-relay``), advances each relay's history
(``relayhealth.advance``) and saves it. ``last_report`` answers the same report from what the
store kept, without a connection.

``last_report`` is asked for by every view of the console's tier map, and counting 200,000
organizations and reading every record costs hundreds of milliseconds, so a store that counts
what moved (``moves``: partners' tiers and records, the controller's record, relay health, each
counter raised in the transaction of the write) gets the relays of its last answer for a scope
again while the counters have not moved: the counters are read before the answer is made, so a
write committed meanwhile only makes the next question count anew. A store without counters (a
remote one) is asked each time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..models import LiveRecord, ResolvedSettings, VerifyOptions
from ..relayhealth import EVERYTHING, Check, Coverage, HealthReport, RelayHealth, Scope, advance, coverage_of
from ..store.protocol import DatabaseStore
from ..verify.batch import DEFAULT_CONCURRENCY, verify_many
from ..verify.result import VerifyResult

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def scope_coverage(store: DatabaseStore, scope: Scope) -> tuple[Coverage, dict[str, LiveRecord]]:
    """The relays in scope, and each relay's first record (by key): the organizations counted
    by the database (``source_tally``), the records read whole (they are few beside them)."""
    counts = store.source_tally(scope)
    records = {r.address: r for r in store.list_records()}
    cov = coverage_of(records, {s: c for s, c in counts.items() if s is None or s in records})
    return cov, {r.key: records[r.sources[0]] for r in cov.relays}


def _check(result: VerifyResult, at: datetime) -> Check:
    return Check(
        ok=result.ok,
        checked_at=at,
        latency_ms=round(result.elapsed_seconds * 1000),
        failure=str(result.failure) if result.failure is not None else None,
        stage=str(result.stage) if result.stage is not None else None,
        detail=result.detail,
        advice=result.advice,
        cert_not_after=result.cert_not_after,
    )


def check_health(
    store: DatabaseStore,
    scope: Scope = EVERYTHING,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_seconds: int = 15,
    ca_file: str | None = None,
    base_dir: Path | None = None,
    destination: Callable[[str], str | None] | None = None,
    clock: Clock = _utc_now,
) -> HealthReport:
    """Check every relay in scope now, keep the results, and report them."""
    cov, first = scope_coverage(store, scope)
    items = []
    for relay in cov.relays:
        record = first[relay.key]
        settings = ResolvedSettings(
            host=record.host,
            port=record.port,
            tls=record.tls,
            tls_mode=record.tls_mode,
            username=record.username,
            password=store.reveal_password(record.address),
            sender=record.sender,
        )
        items.append((record.address, settings))
    options = VerifyOptions(mode="login", timeout_seconds=timeout_seconds, ca_file=ca_file)
    results = verify_many(items, options, concurrency=concurrency, base_dir=base_dir, destination=destination)
    at = clock()
    previous = store.relay_health()
    healths = tuple(advance(previous.get(r.key), r, _check(results[first[r.key].address], at)) for r in cov.relays)
    store.save_relay_health(healths, whole=scope.everything)
    return HealthReport(scope, healths, cov.without_settings, cov.organizations, at)


@dataclass(frozen=True)
class _Kept:
    moves: object
    relays: tuple[RelayHealth, ...]
    without_settings: tuple[tuple[str, int], ...]
    organizations: int


KEPT_SCOPES = 64
"""The most scopes whose last answer is kept per store (the oldest goes first)."""

_kept: weakref.WeakKeyDictionary[object, dict[Scope, _Kept]] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def last_report(store: DatabaseStore, scope: Scope = EVERYTHING, *, clock: Clock = _utc_now) -> HealthReport:
    """The relays in scope as they are now, each with what its last check found (``unchecked``
    for a relay no run has checked yet)."""
    moves_of: Callable[[], object] | None = getattr(store, "moves", None)
    moves = moves_of() if moves_of is not None else None
    if moves is not None:
        with _kept_lock:
            kept = _kept.get(store, {}).get(scope)
        if kept is not None and kept.moves == moves:
            return HealthReport(scope, kept.relays, kept.without_settings, kept.organizations, clock())
    report = _report(store, scope, clock)
    if moves is not None:
        with _kept_lock:
            scopes = _kept.setdefault(store, {})
            scopes.pop(scope, None)
            while len(scopes) >= KEPT_SCOPES:
                del scopes[next(iter(scopes))]
            scopes[scope] = _Kept(moves, report.relays, report.without_settings, report.organizations)
    return report


def _report(store: DatabaseStore, scope: Scope, clock: Clock) -> HealthReport:
    cov, _first = scope_coverage(store, scope)
    kept = store.relay_health()
    healths = []
    for relay in cov.relays:
        seen = kept.get(relay.key)
        if seen is None:
            healths.append(RelayHealth(relay))
        else:
            healths.append(RelayHealth(relay, seen.last, seen.failing_since, seen.recovered_at))
    return HealthReport(scope, tuple(healths), cov.without_settings, cov.organizations, clock())
