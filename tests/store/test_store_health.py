"""Relay health in the store (``store.health``), on both backends: a run's rows read back as
written; a later run's rows replace them; a run over the whole platform drops relays nothing
uses any more, a partial run leaves them; the lease is held by one holder at a time, renewed by
its holder, and free again when it expires, also under two concurrent takers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from store_helpers import ACME

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.relayhealth import Check, Relay, RelayHealth
from smtp_iac.store import open_store

T0 = datetime(2026, 12, 7, 10, 2, tzinfo=UTC)


def relay(key: str, *sources) -> Relay:
    return Relay(key, f"{key}.example", 587, "starttls", "mailer", tuple(sources), (("acme", 3),))


def failing(key: str, at: datetime, since: datetime) -> RelayHealth:
    check = Check(False, at, 1200, "auth_failed", "auth", "535 rejected", "check the password")
    return RelayHealth(relay(key, ACME), check, since, None)


def working(key: str, at: datetime, recovered: datetime | None = None) -> RelayHealth:
    check = Check(True, at, 40, cert_not_after=at + timedelta(days=12))
    return RelayHealth(relay(key, CONTROLLER), check, None, recovered)


def test_rows_read_back_as_written_and_a_later_run_replaces_them(store):
    assert store.relay_health() == {}
    first = [failing("a", T0, T0), working("b", T0)]
    store.save_relay_health(first, whole=True)
    assert store.relay_health() == {"a": first[0], "b": first[1]}
    later = T0 + timedelta(minutes=29)
    store.save_relay_health([working("a", later, recovered=later)], whole=False)
    got = store.relay_health()
    assert got["a"] == working("a", later, recovered=later) and got["b"] == first[1]


def test_a_whole_run_drops_relays_nothing_uses_and_a_partial_one_keeps_them(store):
    store.save_relay_health([working("a", T0), working("b", T0)], whole=True)
    store.save_relay_health([working("c", T0)], whole=False)
    assert set(store.relay_health()) == {"a", "b", "c"}
    store.save_relay_health([working("b", T0)], whole=True)
    assert set(store.relay_health()) == {"b"}


def test_the_lease_is_one_holders_until_it_expires(store):
    assert store.take_lease("relay-health", "one", 0.5)
    assert not store.take_lease("relay-health", "two", 0.5)
    assert store.take_lease("relay-health", "one", 0.5), "its holder renews it"
    assert store.take_lease("other-job", "two", 0.5), "leases are per name"
    time.sleep(0.6)
    assert store.take_lease("relay-health", "two", 0.5), "an expired lease is free"
    assert not store.take_lease("relay-health", "one", 0.5)


def test_two_takers_at_once_never_both_hold_it(store_url, store):
    store.relay_health()  # migrated before the race
    won: list[str] = []
    start = threading.Barrier(8)

    def take(name: str) -> None:
        with open_store(store_url) as s:
            start.wait()
            if s.take_lease("race", name, 30):
                won.append(name)

    threads = [threading.Thread(target=take, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1


def test_the_database_counts_sources_as_the_rule_does(store):
    """``source_tally`` (SQL) against ``relayhealth.tally`` (``resolve``'s rule in Python), over
    a platform where every kind of source occurs, for the whole platform and for scopes; with
    and without a controller record."""
    import random

    from store_helpers import settings

    from smtp_iac.relayhealth import Scope, tally

    rng = random.Random(7)
    partners = {f"p{i}": {f"o{j}": rng.random() < 0.5 for j in range(rng.randint(0, 12))} for i in range(6)}
    doc = {
        "partners": {p: {"organizations": {o: {"smtp_enabled": True} for o in orgs}} for p, orgs in partners.items()}
    }
    store.load_tenants(doc)
    for p, orgs in partners.items():
        if rng.random() < 0.5:
            store.put(Address(p), settings(), expected_version=None, stack=None)
        for o in orgs:
            if rng.random() < 0.4:
                store.put(Address(p, o), settings(host="own.example"), expected_version=None, stack=None)
    for p, orgs in partners.items():  # switched off after their records were written: own records ignored
        for o, on in orgs.items():
            if not on:
                store.set_smtp_enabled(Address(p, o), False)
    scopes = [
        Scope(),
        Scope(partners=frozenset({"p1", "p4"})),
        Scope(orgs=frozenset({Address(p, o) for p, orgs in partners.items() for o in list(orgs)[:1]})),
        Scope(partners=frozenset({"p2"}), orgs=frozenset({Address("p5", o) for o in partners["p5"]})),
    ]
    for with_controller in (False, True):
        if with_controller:
            store.put(CONTROLLER, settings(), expected_version=None, stack=None)
        snap = store.snapshot()
        orgs = [(a, o.smtp_enabled) for a, o in snap.tenants.orgs.items()]
        for scope in scopes:
            assert store.source_tally(scope) == tally(snap.records, orgs, scope), (with_controller, scope)
