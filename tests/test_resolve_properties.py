"""Property tests of the platform's override table (``smtp_iac.resolve``).

The oracle is the platform's table written out row by row as a truth table over
(controller record?, partner record?, organization record?, organization SMTP enabled?),
not a re-run of the implementation's fall-through loop.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_iac.addresses import CONTROLLER, Address, Tier
from smtp_iac.resolve import StepOutcome, effective_source, resolve, resolve_all

PARTNERS = ("acme", "globex", "initech")
ORGS = ("eu", "us", "hq-1")

# The platform's table, plus its feature switch ("the SMTP Configuration feature may not be
# available to all organizations"), plus "no record anywhere". One row per combination:
# (controller, partner, organization, org SMTP enabled) -> tier whose record applies.
TABLE = {
    # nothing configured: no SMTP at all
    (False, False, False, False): None,
    (False, False, False, True): None,
    # "Only controller configured": controller settings for all partners and organizations
    (True, False, False, False): "controller",
    (True, False, False, True): "controller",
    # "Controller + partner configured": partner settings for all organizations under it
    (True, True, False, False): "partner",
    (True, True, False, True): "partner",
    # "Partner configured, organization not configured": partner settings
    (False, True, False, False): "partner",
    (False, True, False, True): "partner",
    # "All three configured": the organization's own settings (when its feature is on)
    (True, True, True, True): "organization",
    (False, True, True, True): "organization",
    (True, False, True, True): "organization",
    (False, False, True, True): "organization",
    # feature switched off: the organization's record is ignored, the next tier applies
    (True, True, True, False): "partner",
    (False, True, True, False): "partner",
    (True, False, True, False): "controller",
    (False, False, True, False): None,
}


def expected_source(org: Address, enabled: bool, records) -> Address | None:
    row = (CONTROLLER in records, Address(org.partner) in records, org in records, enabled)
    tier = TABLE[row]
    return {None: None, "controller": CONTROLLER, "partner": Address(org.partner), "organization": org}[tier]


ALL_ADDRESSES = [CONTROLLER] + [Address(p) for p in PARTNERS] + [Address(p, o) for p in PARTNERS for o in ORGS]
ALL_ORGS = [a for a in ALL_ADDRESSES if a.tier is Tier.ORGANIZATION]

present = st.sets(st.sampled_from(ALL_ADDRESSES))
switches = st.dictionaries(st.sampled_from(ALL_ORGS), st.booleans())


def make_records(addresses) -> dict[Address, dict]:
    # Distinct objects per address; partial on purpose, to show nothing is merged.
    return {a: {"host": f"smtp.{a.tier.value}.example", "set_at": str(a)} for a in addresses}


@settings(max_examples=300, deadline=None)
@given(present=present, org=st.sampled_from(ALL_ORGS), enabled=st.booleans())
def test_resolve_matches_the_seed_table(present, org, enabled):
    records = make_records(present)
    r = resolve(org, enabled, records)
    want = expected_source(org, enabled, records)
    assert r.source == want
    assert r.org == org
    if want is None:
        assert r.record is None and r.tier == "none"
    else:
        assert r.record is records[want]  # the record overrides whole: the very object, unmerged
        assert r.tier == want.tier.value


@settings(max_examples=300, deadline=None)
@given(present=present, org=st.sampled_from(ALL_ORGS), enabled=st.booleans())
def test_effective_source_matches_the_seed_table(present, org, enabled):
    # the blast radius's lean form of the rule, held to the same table
    assert effective_source(org, enabled, make_records(present)) == expected_source(org, enabled, make_records(present))


@settings(max_examples=200, deadline=None)
@given(present=present, org=st.sampled_from(ALL_ORGS), enabled=st.booleans())
def test_chain_explains_the_choice(present, org, enabled):
    records = make_records(present)
    r = resolve(org, enabled, records)
    chain = r.chain
    # most specific first, each tier at most once, only the org's own line of tiers
    looked = [s.address for s in chain]
    assert looked == [org, Address(org.partner), CONTROLLER][: len(looked)]
    for step in chain[:-1]:
        assert step.outcome in (StepOutcome.NO_RECORD, StepOutcome.SMTP_DISABLED)
    if r.source is None:
        assert len(chain) == 3 and chain[-1].outcome == StepOutcome.NO_RECORD
    else:
        assert chain[-1] == type(chain[-1])(r.source, StepOutcome.USED)
    own = chain[0]
    if org in records and not enabled:
        assert own.outcome == StepOutcome.SMTP_DISABLED
    elif org not in records:
        assert own.outcome == StepOutcome.NO_RECORD


@settings(max_examples=200, deadline=None)
@given(
    present=present, org=st.sampled_from(ALL_ORGS), enabled=st.booleans(), noise=st.sets(st.sampled_from(ALL_ADDRESSES))
)
def test_other_partners_and_orgs_do_not_matter(present, org, enabled, noise):
    """Records of other partners and of sibling organizations never change the result."""
    mine = {CONTROLLER, Address(org.partner), org}
    records = make_records((present & mine) | (noise - mine))
    alone = make_records(present & mine)
    assert resolve(org, enabled, records).source == resolve(org, enabled, alone).source


@settings(max_examples=150, deadline=None)
@given(present=present, enabled=switches)
def test_resolve_all_is_resolve_for_each(present, enabled):
    records = make_records(present)
    orgs = [(o, enabled.get(o, False)) for o in ALL_ORGS]
    out = resolve_all(orgs, records)
    assert list(out) == [o for o, _ in orgs]
    for o, on in orgs:
        single = resolve(o, on, records)
        assert out[o] == single
        assert out[o].record is single.record


@settings(max_examples=100, deadline=None)
@given(present=present, org=st.sampled_from(ALL_ORGS))
def test_feature_switch_only_affects_the_orgs_own_record(present, org):
    records = make_records(present)
    on, off = resolve(org, True, records), resolve(org, False, records)
    if org in records:
        assert on.source == org
        assert off.source != org
    else:
        assert on.source == off.source
        assert on.record is off.record


# ----- the platform's four scenarios, as named examples ---------------------------------------

CTRL = {"host": "smtp.platform.example", "port": 587}
ACME = {"host": "smtp.acme.example", "port": 465}
ACME_EU = {"host": "smtp.eu.acme.example"}  # partial: if fields were merged, port would leak in
EU, US = Address("acme", "eu"), Address("acme", "us")


def test_scenario_only_controller_configured():
    records = {CONTROLLER: CTRL}
    for org in (EU, US, Address("globex", "hq-1")):
        r = resolve(org, True, records)
        assert (r.source, r.tier, r.record) == (CONTROLLER, "controller", CTRL)


def test_scenario_controller_and_partner_configured():
    records = {CONTROLLER: CTRL, Address("acme"): ACME}
    assert resolve(EU, True, records).record is ACME
    assert resolve(US, False, records).record is ACME
    assert resolve(Address("globex", "hq-1"), True, records).record is CTRL  # other partner: controller


def test_scenario_all_three_configured():
    records = {CONTROLLER: CTRL, Address("acme"): ACME, EU: ACME_EU}
    eu = resolve(EU, True, records)
    assert eu.source == EU and eu.tier == "organization"
    assert eu.record is ACME_EU and "port" not in eu.record  # overrides whole, never field by field
    assert resolve(US, True, records).record is ACME  # other organizations under the partner


def test_scenario_partner_configured_organization_not():
    records = {Address("acme"): ACME}
    for org in (EU, US):
        r = resolve(org, True, records)
        assert (r.source, r.record) == (Address("acme"), ACME)
    assert resolve(Address("globex", "hq-1"), True, records).source is None


def test_feature_switch_off_ignores_the_org_record():
    records = {CONTROLLER: CTRL, Address("acme"): ACME, EU: ACME_EU}
    r = resolve(EU, False, records)
    assert r.record is ACME
    assert [s.outcome for s in r.chain] == [StepOutcome.SMTP_DISABLED, StepOutcome.USED]


@pytest.mark.parametrize("address", [CONTROLLER, Address("acme")])
def test_only_organizations_resolve(address):
    with pytest.raises(ValueError):
        resolve(address, True, {CONTROLLER: CTRL})
    with pytest.raises(ValueError):
        effective_source(address, True, {CONTROLLER: CTRL})


def test_table_covers_every_combination():
    assert len(TABLE) == 16
