"""The tier map in the store (``org_page``, ``partner_page``, ``blast_radius``) on both backends,
against an oracle computed here: random platforms (seeded, so a failure replays) of a few
partners, organizations with random SMTP switches and random records at every tier, changed
over a few rounds; after each round every page and count the store answers is compared with
``resolve`` applied to the platform as this test built it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.errors import UnknownTenant
from smtp_iac.models import ResolvedSettings
from smtp_iac.resolve import resolve
from smtp_iac.tiermap import PAGE_MAX, TIERS, OrgQuery, PartnerRow

# Ids whose code-point order differs from a locale's ("a-c" < "a0" < "ab" by code point; a
# collation that ignores '-' puts "ab" first), and org ids shared between partners. Pages come
# in the primary key's order: code-point order on SQLite and on a PostgreSQL database with a C
# collation (CI's); under another collation PostgreSQL orders by it (store/tiermap.py says so).
PARTNER_IDS = ["p", "p-a", "p0", "pa", "q-1", "q1"]
ORG_IDS = ["a", "a-c", "a0", "ab", "b", "b-2", "hq", "x1", "x-1", "zz"]
SEARCHES = ["a", "-", "0", "1", "b", "a-", "x-1", "zz", "q", "nothing"]
STACKS = [None, "prod", "staging"]


def settings(host: str) -> ResolvedSettings:
    from pydantic import SecretStr

    return ResolvedSettings(host=host, port=587, tls=True, username="apikey", password=SecretStr("tiermap-pw"))


@dataclass
class Platform:
    """What the test put in the store: the oracle's input."""

    switches: dict[Address, bool] = field(default_factory=dict)  # every organization
    partners: set[str] = field(default_factory=set)
    records: dict[Address, str | None] = field(default_factory=dict)  # address -> managed_by
    hosts: dict[Address, str] = field(default_factory=dict)  # address -> its record's relay host

    def orgs(self) -> list[Address]:
        return sorted(self.switches, key=lambda a: (a.partner, a.org))  # code-point order

    def present(self) -> dict[Address, Address]:
        return {a: a for a in self.records}  # resolve reads a None value as no record

    def tier(self, org: Address) -> str:
        return resolve(org, self.switches[org], self.present()).tier

    def row(self, org: Address) -> tuple:
        own = org in self.records
        return (org, self.switches[org], self.tier(org), own, self.records[org] if own else None)

    def reach(self, address: Address) -> int:
        """Blast radius, straight from its definition: how many organizations would take their
        settings from ``address`` once a record is there."""
        with_it = {**self.present(), address: address}
        return sum(1 for o in self.orgs() if resolve(o, self.switches[o], with_it).source == address)


def rows(page) -> list[tuple]:
    return [(r.address, r.smtp_enabled, r.tier, r.own_record, r.managed_by) for r in page.items]


# ----- building and changing a platform ------------------------------------------------------


def put(store, plat: Platform, rng: random.Random, address: Address) -> None:
    live = store.get(address)
    stack = rng.choice(STACKS)
    host = f"h{rng.randrange(1000)}.example.com"
    store.put(
        address,
        settings(host),
        expected_version=live.version if live else None,
        stack=stack,
        adopt=True,
    )
    # a write out of band (stack None) keeps the record's owner
    plat.records[address] = stack if stack is not None else plat.records.get(address)
    plat.hosts[address] = host


def delete(store, plat: Platform, address: Address) -> None:
    live = store.get(address)
    assert live is not None
    store.delete(address, expected_version=live.version, stack=None, adopt=True)
    del plat.records[address]
    del plat.hosts[address]


def set_switch(store, plat: Platform, org: Address, on: bool) -> None:
    store.set_smtp_enabled(org, on)
    plat.switches[org] = on


def build(store, rng: random.Random) -> Platform:
    plat = Platform()
    doc: dict = {"partners": {}}
    for p in rng.sample(PARTNER_IDS, rng.randint(2, 4)):
        orgs = rng.sample(ORG_IDS, rng.randint(0, 6))
        doc["partners"][p] = {"organizations": {o: {"smtp_enabled": True} for o in orgs}}
        plat.partners.add(p)
        for o in orgs:
            plat.switches[Address(p, o)] = True
    store.load_tenants(doc)
    if rng.random() < 0.6:
        put(store, plat, rng, CONTROLLER)
    for p in sorted(plat.partners):
        if rng.random() < 0.5:
            put(store, plat, rng, Address(p))
    for org in plat.orgs():  # records first (writable while on), then the switches
        if rng.random() < 0.45:
            put(store, plat, rng, org)
    for org in plat.orgs():
        if rng.random() < 0.35:
            set_switch(store, plat, org, False)
    return plat


def mutate(store, plat: Platform, rng: random.Random) -> None:
    """A few random changes: switches, records at every tier, a new partner or organization."""
    for _ in range(rng.randint(2, 5)):
        op = rng.choice(["switch", "record", "record", "controller", "partner", "tenant"])
        orgs = plat.orgs()
        if op == "switch" and orgs:
            org = rng.choice(orgs)
            set_switch(store, plat, org, not plat.switches[org])
        elif op == "record" and orgs:
            org = rng.choice(orgs)
            was_on = plat.switches[org]
            if not was_on:
                set_switch(store, plat, org, True)  # an org's record is written while its switch is on
            if org in plat.records and rng.random() < 0.5:
                delete(store, plat, org)
            else:
                put(store, plat, rng, org)
            if not was_on:
                set_switch(store, plat, org, False)
        elif op == "controller":
            if CONTROLLER in plat.records:
                delete(store, plat, CONTROLLER)
            else:
                put(store, plat, rng, CONTROLLER)
        elif op == "partner":
            p = Address(rng.choice(sorted(plat.partners)))
            if p in plat.records:
                delete(store, plat, p)
            else:
                put(store, plat, rng, p)
        elif op == "tenant":
            p = rng.choice(PARTNER_IDS)
            o = rng.choice(ORG_IDS)
            on = rng.random() < 0.5
            store.load_tenants({"partners": {p: {"organizations": {o: {"smtp_enabled": on}}}}})
            plat.partners.add(p)
            plat.switches[Address(p, o)] = on


# ----- the checks ---------------------------------------------------------------------------


def check_store_is_the_platform(store, plat: Platform) -> None:
    """The oracle's input is what the store holds (else the comparisons below prove nothing)."""
    assert {r.address: r.managed_by for r in store.list_records()} == plat.records
    tenants = store.tenants()
    assert {o: tenants.smtp_enabled(o) for o in tenants.orgs} == plat.switches


def check_org_pages(store, plat: Platform, rng: random.Random) -> None:
    expected = [plat.row(o) for o in plat.orgs()]
    n = len(expected)

    # every page, for a few page sizes: each organization exactly once, in (partner, id) order
    for limit in sorted({1, 2, 3, rng.randint(1, 9), PAGE_MAX}):
        seen: list[tuple] = []
        offset = 0
        while True:
            page = store.org_page(OrgQuery(offset=offset, limit=limit))
            assert (page.total, page.offset, page.limit) == (n, offset, limit)
            assert len(page.items) == max(0, min(limit, n - offset))
            if not page.items:
                break
            seen += rows(page)
            offset += limit
        assert seen == expected, f"limit {limit}"
    beyond = store.org_page(OrgQuery(offset=n + rng.randint(0, 5), limit=10))
    assert beyond.items == () and beyond.total == n
    middle = rng.randint(0, n)
    assert rows(store.org_page(OrgQuery(offset=middle, limit=3))) == expected[middle : middle + 3]

    # tier filter: the tier counted in the database is resolve's
    for tier in TIERS:
        want = [r for r in expected if r[2] == tier]
        page = store.org_page(OrgQuery(tier=tier, limit=PAGE_MAX))
        assert (page.total, rows(page)) == (len(want), want), tier
        if len(want) > 1:  # the total is over every page, not this one
            small = store.org_page(OrgQuery(tier=tier, offset=1, limit=1))
            assert (small.total, rows(small)) == (len(want), want[1:2]), tier

    # partner filter (and with a tier), an unknown partner
    for p in sorted(plat.partners) + ["nope"]:
        want = [r for r in expected if r[0].partner == p]
        page = store.org_page(OrgQuery(partner=p, limit=PAGE_MAX))
        assert (page.total, rows(page)) == (len(want), want), p
        tier = rng.choice(TIERS)
        page = store.org_page(OrgQuery(partner=p, tier=tier, limit=PAGE_MAX))
        assert rows(page) == [r for r in want if r[2] == tier], (p, tier)

    # one organization (an org admin's reach); an org id under another partner is not it
    for org in plat.orgs():
        page = store.org_page(OrgQuery(partner=org.partner, org=org.org))
        assert (page.total, rows(page)) == (1, [plat.row(org)]), org
        for other in sorted(plat.partners - {org.partner}):
            if Address(other, org.org) not in plat.switches:
                assert store.org_page(OrgQuery(partner=other, org=org.org)).total == 0
                break

    # search: a part of the organization id only (never of the partner's id)
    for s in SEARCHES:
        want = [r for r in expected if s in r[0].org]
        page = store.org_page(OrgQuery(search=s, limit=PAGE_MAX))
        assert (page.total, rows(page)) == (len(want), want), s
        p = rng.choice(sorted(plat.partners))
        tier = rng.choice(TIERS)
        page = store.org_page(OrgQuery(partner=p, search=s, tier=tier, limit=PAGE_MAX))
        both = [r for r in want if r[0].partner == p and r[2] == tier]
        assert (page.total, rows(page)) == (len(both), both), (p, s, tier)


def check_partner_pages(store, plat: Platform) -> None:
    expected = [
        PartnerRow(
            p,
            sum(1 for o in plat.switches if o.partner == p),
            Address(p) in plat.records,
            plat.records.get(Address(p)),
            plat.hosts.get(Address(p)),
            587 if Address(p) in plat.records else None,
        )
        for p in sorted(plat.partners)
    ]
    page = store.partner_page(limit=PAGE_MAX)
    assert (page.total, list(page.items)) == (len(expected), expected)
    seen = []
    for offset in range(0, len(expected) + 1, 2):
        page = store.partner_page(offset=offset, limit=2)
        assert (page.total, page.offset, page.limit) == (len(expected), offset, 2)
        seen += page.items
    assert seen == expected
    for s in ["p", "-", "1", "a", "q1", "nothing"]:
        want = [r for r in expected if s in r.partner]
        page = store.partner_page(s, 0, PAGE_MAX)
        assert (page.total, list(page.items)) == (len(want), want), s
    for row in expected:
        page = store.partner_page(partner=row.partner)
        assert (page.total, list(page.items)) == (1, [row])
    assert store.partner_page(partner="nope").total == 0


def check_blast_radius(store, plat: Platform) -> None:
    assert store.blast_radius(CONTROLLER) == plat.reach(CONTROLLER)
    for p in sorted(plat.partners):
        assert store.blast_radius(Address(p)) == plat.reach(Address(p)), p
    for org in plat.orgs():
        assert store.blast_radius(org) == plat.reach(org) == int(plat.switches[org]), org


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_tier_map_agrees_with_resolve(store, seed: int) -> None:
    rng = random.Random(seed)
    plat = build(store, rng)
    tiers_seen: set[str] = set()
    for _ in range(5):
        check_store_is_the_platform(store, plat)
        check_org_pages(store, plat, rng)
        check_partner_pages(store, plat)
        check_blast_radius(store, plat)
        tiers_seen |= {plat.tier(o) for o in plat.orgs()}
        mutate(store, plat, rng)
    assert len(tiers_seen) >= 3, "the random platform is too plain to test the tier rule"


def test_every_tier_and_blast_radius_on_a_fixed_platform(store) -> None:
    """A hand-made platform where each tier, and each branch of the blast radius, occurs."""
    store.load_tenants(
        {
            "partners": {
                "acme": {"organizations": {"own": {"smtp_enabled": True}, "off": {"smtp_enabled": True}}},
                "bare": {"organizations": {"b1": {"smtp_enabled": True}, "b2": {"smtp_enabled": False}}},
                "empty": None,
            }
        }
    )
    for a, stack in ((Address("acme", "own"), "prod"), (Address("acme", "off"), None), (Address("acme"), "ps")):
        store.put(a, settings("h.example.com"), expected_version=None, stack=stack)
    store.set_smtp_enabled(Address("acme", "off"), False)

    page = store.org_page(OrgQuery())
    assert rows(page) == [
        (Address("acme", "off"), False, "partner", True, None),
        (Address("acme", "own"), True, "organization", True, "prod"),
        (Address("bare", "b1"), True, "none", False, None),
        (Address("bare", "b2"), False, "none", False, None),
    ]
    assert store.blast_radius(CONTROLLER) == 2  # bare's two
    assert store.blast_radius(Address("acme")) == 1  # off (its own record is ignored), not own
    assert store.blast_radius(Address("bare")) == 2
    assert store.blast_radius(Address("empty")) == 0
    assert [store.blast_radius(Address(p, o)) for p, o in (("acme", "own"), ("acme", "off"), ("bare", "b2"))] == [
        1,
        0,
        0,
    ]

    store.put(CONTROLLER, settings("c.example.com"), expected_version=None, stack=None)
    assert [r.tier for r in store.org_page(OrgQuery()).items] == ["partner", "organization", "controller", "controller"]
    assert store.blast_radius(CONTROLLER) == 2
    assert store.org_page(OrgQuery(tier="none")).total == 0
    assert list(store.partner_page().items) == [
        PartnerRow("acme", 2, True, "ps", "h.example.com", 587),
        PartnerRow("bare", 2, False, None),
        PartnerRow("empty", 0, False, None),
    ]


def test_blast_radius_of_an_unknown_tenant_is_refused(store) -> None:
    store.load_tenants({"partners": {"acme": {"organizations": {"blue": {"smtp_enabled": True}}}, "other": None}})
    for unknown in (Address("nope"), Address("acme", "nope"), Address("nope", "blue"), Address("other", "blue")):
        with pytest.raises(UnknownTenant):
            store.blast_radius(unknown)
    assert store.blast_radius(Address("acme", "blue")) == 1  # and the known ones are answered
    assert store.blast_radius(Address("other")) == 0


# ----- the query's own checks (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"search": "%"},
        {"search": "_"},
        {"search": "a%b"},
        {"search": "A"},
        {"search": "a b"},
        {"search": "ab\n"},
        {"search": "a" * 64},
        {"tier": "Partner"},
        {"tier": "all"},
        {"tier": ""},
        {"limit": 0},
        {"limit": PAGE_MAX + 1},
        {"offset": -1},
        {"org": "blue"},
    ],
    ids=repr,
)
def test_org_query_refuses_bad_values(kw: dict) -> None:
    with pytest.raises(ValueError):
        OrgQuery(**kw)


def test_org_query_takes_the_edges() -> None:
    OrgQuery(search="a" * 63, limit=PAGE_MAX, offset=10**9, tier="none", partner="p", org="o")
    OrgQuery(search="-", limit=1)
    for t in TIERS:
        assert OrgQuery(tier=t).tier == t


def test_partner_page_refuses_bad_values(store) -> None:
    for args in (("%",), ("_",), ("A",), ("", 0, 0), ("", 0, PAGE_MAX + 1), ("", -1, 10)):
        with pytest.raises(ValueError):
            store.partner_page(*args)
