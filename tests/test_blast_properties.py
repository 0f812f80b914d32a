"""Property tests of the blast radius (``smtp_iac.planning.blast``) against the plain definition: resolve
every organization before and after with ``resolve`` (held to the platform's table in
``test_resolve_properties``) and keep those whose source or record moved.

``blast_radius`` visits only the organizations whose records could have moved; these tests
show that skipping the others never changes the answer, on random platforms where records
appear, disappear and change at every tier, organizations are switched on and off, and the
plan touches organizations the tenants do not know."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.models import Organization
from smtp_iac.planning.blast import ImpactKind, blast_radius
from smtp_iac.resolve import resolve
from smtp_iac.store.snapshot import Tenants

PARTNERS = ("acme", "globex", "initech")
ORGS = ("eu", "us", "hq-1", "lab")


@st.composite
def platforms(draw):
    partners = draw(st.lists(st.sampled_from(PARTNERS), unique=True, max_size=3))
    orgs = {p: sorted(draw(st.lists(st.sampled_from(ORGS), unique=True, max_size=4))) for p in sorted(partners)}
    switches = {Address(p, o): draw(st.booleans()) for p, names in orgs.items() for o in names}
    tenants = Tenants(
        orgs, {a: Organization(partner=a.partner, name=a.org, smtp_enabled=on) for a, on in sorted(switches.items())}
    )
    # any address may hold a record before and after, also of partners and orgs not loaded
    everywhere = [CONTROLLER] + [Address(p) for p in PARTNERS] + [Address(p, o) for p in PARTNERS for o in ORGS]
    contents = st.none() | st.integers(0, 2)  # None: no record; equal numbers: equal contents
    before, after = {}, {}
    for a in everywhere:
        b, c = draw(contents), draw(st.sampled_from(["same", "other"]))
        if b is not None:
            before[a] = b
        if c == "same" and b is not None:
            after[a] = b
        elif (n := draw(contents)) is not None:
            after[a] = n
    return tenants, before, after


def plain_blast(tenants: Tenants, before, after):
    impacts, per_partner = [], {}
    for org, o in tenants.orgs.items():
        b, a = resolve(org, o.smtp_enabled, before), resolve(org, o.smtp_enabled, after)
        if b.source != a.source:
            kind = ImpactKind.SOURCE
        elif b.record != a.record:
            kind = ImpactKind.SETTINGS
        else:
            continue
        impacts.append((org, b.source, a.source, kind))
        tiers = (b.tier, a.tier)  # ``Resolution.tier``: the source's tier, or "none"
        per_partner.setdefault(org.partner, Counter())[(*tiers, kind)] += 1
    return impacts, per_partner


@settings(max_examples=500, deadline=None)
@given(platforms())
def test_blast_radius_is_every_organization_resolved_before_and_after(platform):
    tenants, before, after = platform
    got = blast_radius(tenants, before, after)
    impacts, per_partner = plain_blast(tenants, before, after)
    assert [(i.org, i.before, i.after, i.kind) for i in got.impacts] == impacts
    assert got.organizations == len(tenants.orgs)
    assert {p.partner: p.transitions for p in got.partners} == per_partner
    for p in got.partners:
        assert p.organizations == len(tenants.partners[p.partner])
        assert p.affected == sum(p.transitions.values())
    assert [p.partner for p in got.partners] == sorted(per_partner, key=lambda p: (-sum(per_partner[p].values()), p))


def test_an_unchanged_partner_record_shields_its_organizations_from_the_controller():
    tenants = Tenants(
        {"acme": ["eu"], "globex": ["hq-1"]},
        {
            Address("acme", "eu"): Organization(partner="acme", name="eu", smtp_enabled=True),
            Address("globex", "hq-1"): Organization(partner="globex", name="hq-1", smtp_enabled=True),
        },
    )
    before = {CONTROLLER: 1, Address("acme"): 5}
    got = blast_radius(tenants, before, {CONTROLLER: 2, Address("acme"): 5})
    assert [(i.org, i.kind) for i in got.impacts] == [(Address("globex", "hq-1"), ImpactKind.SETTINGS)]
    assert [(p.partner, p.organizations, p.affected) for p in got.partners] == [("globex", 1, 1)]
