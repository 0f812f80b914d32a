"""The tier in force as the store keeps it (``organizations.in_force``, and each partner's counts
of it), on both backends: after every write of random sequences (records created, updated and
deleted at every tier, SMTP switches, tenants loads that add organizations and flip switches in bulk), the kept value of
every organization is the pure rule's (``tiermap.in_force``, which agrees with ``resolve``) and
the tier filter's pages and totals are ``resolve``'s; also under concurrent writers; a store
made before the column existed gets it right when it is opened; and the relay health report a
store keeps (``monitor.run.last_report``) is answered again only while nothing moved.

(``test_tiermap_store.py`` compares every page, filter and count with ``resolve`` over random
platforms; this file proves what that relies on: the kept column, kept by every writer.)
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading

import pytest
from store_helpers import settings

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.errors import ConflictError, FeatureDisabled
from smtp_iac.monitor import run as monitor
from smtp_iac.relayhealth import EVERYTHING, Check, RelayHealth, Scope, report_to_dict
from smtp_iac.resolve import resolve
from smtp_iac.store import open_store
from smtp_iac.tiermap import IN_FORCE, TIERS, OrgQuery, in_force, kept_tiers, shown_tier

PARTNERS = ["p", "p-a", "q1"]
ORGS = ["a", "a-c", "b", "hq", "x1"]


def kept(store) -> dict[Address, str]:
    """Each organization's ``in_force``, read straight from the table."""
    with store.db.read() as cur:
        rows = store.db.x(cur, "SELECT partner, id, in_force FROM organizations").fetchall()
    return {Address(p, o): k for p, o, k in rows}


def check(store) -> None:
    """The kept column is the rule over what the store holds; each tier filter's total and page
    are ``resolve``'s."""
    snap = store.snapshot()
    present = {a: a for a in snap.records}
    controller = CONTROLLER in present
    want: dict[Address, str] = {}
    for org, o in snap.tenants.orgs.items():
        own, partner = org in present, Address(org.partner) in present
        want[org] = in_force(o.smtp_enabled, own, partner)
        assert shown_tier(want[org], controller) == resolve(org, o.smtp_enabled, present).tier
    assert kept(store) == want
    with store.db.read() as cur:  # each partner's counts, kept beside: the organizations counted
        held = store.db.x(cur, "SELECT id, n_organization, n_partner, n_inherited FROM partners").fetchall()
    counted = {p: [sum(1 for a, k in want.items() if a.partner == p and k == v) for v in IN_FORCE] for p, *_ in held}
    assert {p: list(n) for p, *n in held} == counted
    ordered = sorted(want, key=lambda a: (a.partner, a.org))
    for tier in TIERS:
        matching = [a for a in ordered if shown_tier(want[a], controller) == tier]
        page = store.org_page(OrgQuery(tier=tier, limit=100))
        assert page.total == len(matching), tier
        assert [(r.address, r.tier) for r in page.items] == [(a, tier) for a in matching[:100]]


def _put(store, address: Address, rng: random.Random) -> None:
    live = store.get(address)
    store.put(
        address, settings(f"h{rng.randrange(99)}.example"), expected_version=live.version if live else None, stack=None
    )


def _delete(store, address: Address) -> None:
    live = store.get(address)
    if live is not None:
        store.delete(address, expected_version=live.version, stack=None)


def one_write(store, rng: random.Random) -> None:
    """A random write of any kind the store has."""
    tenants = store.tenants()
    orgs = sorted(tenants.orgs, key=str)
    op = rng.choice(["org", "org", "partner", "controller", "switch", "load"])
    if op == "org" and orgs:
        org = rng.choice(orgs)
        if store.get(org) is not None and rng.random() < 0.5:
            _delete(store, org)
        elif tenants.smtp_enabled(org):
            _put(store, org, rng)
    elif op == "partner":
        p = Address(rng.choice(sorted(tenants.partners)))
        _delete(store, p) if store.get(p) is not None and rng.random() < 0.5 else _put(store, p, rng)
    elif op == "controller":
        _delete(store, CONTROLLER) if store.get(CONTROLLER) is not None else _put(store, CONTROLLER, rng)
    elif op == "switch" and orgs:
        org = rng.choice(orgs)
        store.set_smtp_enabled(org, not tenants.smtp_enabled(org))
    else:  # new partners and organizations, and switches flipped in bulk
        doc: dict = {"partners": {}}
        for p in rng.sample(PARTNERS, rng.randint(1, 3)):
            doc["partners"][p] = {
                "organizations": {o: {"smtp_enabled": rng.random() < 0.6} for o in rng.sample(ORGS, rng.randint(0, 4))}
            }
        store.load_tenants(doc)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_kept_tier_is_the_rule_after_every_write(store, seed: int) -> None:
    rng = random.Random(seed)
    store.load_tenants({"partners": {PARTNERS[0]: {"organizations": {"a": {"smtp_enabled": True}}}}})
    seen: set[str] = set()
    for _ in range(60):
        one_write(store, rng)
        check(store)
        seen |= set(kept(store).values())
    assert seen == set(IN_FORCE), "the writes never reached every kept value"


def test_the_pure_rule_is_resolve() -> None:
    org = Address("p", "o")
    for enabled, own, partner, controller in itertools.product((False, True), repeat=4):
        present = {a: a for a, there in ((org, own), (Address("p"), partner), (CONTROLLER, controller)) if there}
        tier = resolve(org, enabled, present).tier
        k = in_force(enabled, own, partner)
        assert shown_tier(k, controller) == tier
        for tiers in ((tier,), TIERS, ("organization",), ("controller", "none")):
            assert (k in kept_tiers(tiers, controller)) == (tier in tiers)


def test_concurrent_writers_keep_the_tier(store_url, store) -> None:
    """Four writers at once, each with its own connection, on the same partners: a partner's
    record, its organizations' records and switches, and loads that add organizations."""
    store.load_tenants(
        {"partners": {p: {"organizations": {o: {"smtp_enabled": True} for o in ORGS[:3]}} for p in PARTNERS[:2]}}
    )
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(100 + n)
        try:
            with open_store(store_url) as mine:
                for _ in range(25):
                    # another writer may move the record, or the switch, between our read and our write
                    with contextlib.suppress(ConflictError, FeatureDisabled):
                        one_write(mine, rng)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    check(store)


def test_a_store_made_before_the_column_gets_it_when_opened(store_url, store) -> None:
    """The store is taken back to schema 4 (the column, its index, the counts and counters dropped)
    over a platform with every kind of organization; opening it runs migration 5."""
    store.load_tenants(
        {
            "partners": {
                "p": {"organizations": {o: {"smtp_enabled": True} for o in ("own", "off", "plain")}},
                "q": {"organizations": {"own": {"smtp_enabled": True}, "plain": {"smtp_enabled": False}}},
            }
        }
    )
    for a in (Address("p"), Address("p", "own"), Address("p", "off"), Address("q", "own"), CONTROLLER):
        store.put(a, settings(), expected_version=None, stack=None)
    store.set_smtp_enabled(Address("p", "off"), False)
    before = {r.address: r.tier for r in store.org_page(OrgQuery()).items}
    with store.db.write() as cur:
        for sql in (
            "DROP INDEX organizations_by_tier",
            "ALTER TABLE organizations DROP COLUMN in_force",
            "ALTER TABLE partners DROP COLUMN moved",
            *(f"ALTER TABLE partners DROP COLUMN n_{k}" for k in IN_FORCE),
            "DELETE FROM meta WHERE name LIKE 'moved:%'",
            "DELETE FROM schema_migrations WHERE version = 5",
        ):
            cur.execute(sql)
    store.close()
    with open_store(store_url) as again:
        assert again.schema_version() == 5
        check(again)
        assert {r.address: r.tier for r in again.org_page(OrgQuery()).items} == before
        assert set(before.values()) == {"organization", "partner", "controller"}


# ----- the relay health report a store keeps -----------------------------------------------


def _fresh(store, scope: Scope) -> dict:
    return _comparable(monitor._report(store, scope, monitor._utc_now))


def _comparable(report) -> dict:
    d = report_to_dict(report)
    d.pop("at")
    return d


def test_the_kept_health_report_is_answered_again_only_while_nothing_moved(store) -> None:
    from datetime import UTC, datetime

    store.load_tenants(
        {"partners": {"p": {"organizations": {"a": {"smtp_enabled": True}, "b": {}}}, "q": {"organizations": {}}}}
    )
    store.put(Address("p"), settings("p.example"), expected_version=None, stack=None)
    scopes = [EVERYTHING, Scope(partners=frozenset({"p"})), Scope(orgs=frozenset({Address("p", "a")}))]

    def same_as_fresh() -> None:
        for scope in scopes:
            assert _comparable(monitor.last_report(store, scope)) == _fresh(store, scope), scope

    same_as_fresh()
    first = monitor.last_report(store)
    assert monitor.last_report(store).relays is first.relays  # kept: nothing moved

    def health_run() -> None:
        report = monitor.last_report(store)
        at = datetime.now(UTC)
        store.save_relay_health(
            [RelayHealth(h.relay, Check(False, at, 10, "auth_failed", "auth", "535", "fix it")) for h in report.relays],
            whole=True,
        )

    moves = [
        lambda: store.put(Address("p", "a"), settings("own.example"), expected_version=None, stack=None),
        lambda: store.put(CONTROLLER, settings("c.example"), expected_version=None, stack=None),
        lambda: store.set_smtp_enabled(Address("p", "a"), False),
        lambda: store.load_tenants({"partners": {"q": {"organizations": {"new": {}}}}}),
        lambda: store.put(Address("p"), settings("p2.example"), expected_version=1, stack=None),
        health_run,
        lambda: store.delete(Address("p"), expected_version=2, stack=None),
        lambda: store.set_smtp_enabled(Address("p", "a"), True),
        lambda: store.delete(CONTROLLER, expected_version=1, stack=None),
    ]
    for move in moves:
        before = monitor.last_report(store)
        move()
        after = monitor.last_report(store)
        assert after.relays is not before.relays or _comparable(after) == _comparable(before)
        same_as_fresh()
