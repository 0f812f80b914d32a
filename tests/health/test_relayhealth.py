"""The pure part of relay health (``smtp_iac.relayhealth``): which relay carries whose mail,
what a check does to a relay's history, statuses, exit codes, a caller's limited view, and the
JSON round trip. No store, no network."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.models import LiveRecord
from smtp_iac.relayhealth import (
    CERT_WARNING_DAYS,
    EVERYTHING,
    Check,
    HealthReport,
    Relay,
    RelayHealth,
    Scope,
    advance,
    coverage,
    relay_key,
    report_from_dict,
    report_to_dict,
)

T0 = datetime(2026, 5, 1, 10, 2, tzinfo=UTC)
ACME, GLOBEX, INITECH = Address("acme"), Address("globex"), Address("initech")


def rec(address: Address, host: str = "smtp.a.example", fp: str = "fp-1", **kw) -> LiveRecord:
    fields = dict(address=address, host=host, port=587, tls=True, username="apikey", password_fingerprint=fp, version=1)
    fields.update(kw)
    return LiveRecord(**fields)


def org(partner: str, name: str) -> Address:
    return Address(partner, name)


def expected_source(o: Address, enabled: bool, records) -> Address | None:
    """resolve's rule, spelled out: the organization's own record only when its switch is on,
    else its partner's, else the controller's, else none."""
    if enabled and o in records:
        return o
    if Address(o.partner) in records:
        return Address(o.partner)
    return CONTROLLER if CONTROLLER in records else None


# ----- coverage ------------------------------------------------------------------------------

ORGS = [
    (org("acme", "a1"), True),  # own record (on): relay A
    (org("acme", "a2"), True),  # partners/acme: relay A (identical settings to the controller's)
    (org("acme", "a3"), False),  # own record on B, switched off: partners/acme (A)
    (org("globex", "g1"), True),  # own record on B
    (org("globex", "g2"), True),  # no partner record: controller (A)
    (org("initech", "i1"), False),  # no record anywhere at all but the controller: A
]


def table_records(controller: bool = True) -> dict[Address, LiveRecord]:
    records = {
        ACME: rec(ACME),
        org("acme", "a1"): rec(org("acme", "a1"), host="SMTP.A.example "),  # same relay: case, blanks
        org("acme", "a3"): rec(org("acme", "a3"), host="smtp.b.example", fp="fp-2"),
        org("globex", "g1"): rec(org("globex", "g1"), host="smtp.b.example", fp="fp-2"),
    }
    if controller:
        records[CONTROLLER] = rec(CONTROLLER, tls_mode="starttls")  # the default mode, spelled out: same relay
    return records


def test_coverage_groups_organizations_by_the_relay_of_their_effective_settings():
    cov = coverage(table_records(), ORGS, EVERYTHING)
    assert cov.organizations == 6 and cov.without_settings == ()
    a, b = cov.relays  # the one carrying most first
    assert (a.host, a.port, a.tls_mode, a.username) == ("smtp.a.example", 587, "starttls", "apikey")
    assert a.sources == (CONTROLLER, ACME, org("acme", "a1"))  # a3's own record is not in force
    assert a.organizations == (("acme", 3), ("globex", 1), ("initech", 1)) and a.carried == 5
    assert (b.host, b.sources, b.organizations) == ("smtp.b.example", (org("globex", "g1"),), (("globex", 1),))
    assert a.key == relay_key(table_records()[CONTROLLER]) != b.key


def test_organizations_without_any_settings_are_counted_per_partner():
    cov = coverage(table_records(controller=False), ORGS, EVERYTHING)
    assert cov.without_settings == (("globex", 1), ("initech", 1))
    assert sum(r.carried for r in cov.relays) + 2 == cov.organizations == 6


def test_what_makes_two_records_one_relay():
    base = rec(ACME)
    assert relay_key(base) == relay_key(rec(GLOBEX))  # the scope is not part of it
    assert relay_key(base) == relay_key(rec(GLOBEX, host=" smtp.A.EXAMPLE"))
    assert relay_key(base) == relay_key(rec(GLOBEX, tls_mode="starttls"))  # 587's default mode
    assert relay_key(base) == relay_key(rec(GLOBEX, sender="other@example.com"))  # a login sends nothing
    for other in (
        rec(GLOBEX, fp="fp-2"),
        rec(GLOBEX, host="smtp.b.example"),
        rec(GLOBEX, port=2525),
        rec(GLOBEX, tls_mode="implicit"),
        rec(GLOBEX, username="someone"),
    ):
        assert relay_key(other) != relay_key(base), other


@pytest.mark.parametrize(
    ("scope", "organizations", "relays"),
    [
        (Scope(partners=frozenset({"acme"})), 3, [(("acme", 3),)]),
        (Scope(orgs=frozenset({org("globex", "g1")})), 1, [(("globex", 1),)]),
        (Scope(frozenset({"initech"}), frozenset({org("globex", "g1")})), 2, [(("initech", 1),), (("globex", 1),)]),
        (Scope(partners=frozenset({"nobody"})), 0, []),
    ],
)
def test_a_scope_limits_the_organizations_and_so_the_relays(scope, organizations, relays):
    cov = coverage(table_records(), ORGS, scope)
    assert cov.organizations == organizations
    assert [r.organizations for r in cov.relays] == relays


ALL_PARTNERS = ("acme", "globex", "initech")
ALL_ORGS = [org(p, o) for p in ALL_PARTNERS for o in ("eu", "us")]
ALL_SCOPES = [CONTROLLER] + [Address(p) for p in ALL_PARTNERS] + ALL_ORGS
SETTINGS = [("smtp.a.example", "fp-1"), ("smtp.a.example", "fp-2"), ("smtp.b.example", "fp-1")]


@settings(max_examples=300, deadline=None)
@given(
    present=st.dictionaries(st.sampled_from(ALL_SCOPES), st.sampled_from(SETTINGS)),
    switches=st.dictionaries(st.sampled_from(ALL_ORGS), st.booleans(), min_size=len(ALL_ORGS)),
    partners=st.frozensets(st.sampled_from(ALL_PARTNERS)),
    picked=st.frozensets(st.sampled_from(ALL_ORGS)),
)
def test_coverage_agrees_with_resolve_for_any_table(present, switches, partners, picked):
    records = {a: rec(a, host=h, fp=fp) for a, (h, fp) in present.items()}
    scope = Scope(partners, picked)
    orgs = [(o, switches[o]) for o in ALL_ORGS]
    cov = coverage(records, orgs, scope)

    in_scope = [(o, on) for o, on in orgs if scope.everything or o.partner in partners or o in picked]
    want_carried: dict[str, Counter[str]] = {}
    want_bare: Counter[str] = Counter()
    for o, on in in_scope:
        source = expected_source(o, on, records)
        if source is None:
            want_bare[o.partner] += 1
        else:
            want_carried.setdefault(relay_key(records[source]), Counter())[o.partner] += 1
    assert cov.organizations == len(in_scope)
    assert dict(cov.without_settings) == dict(want_bare)
    assert {r.key: dict(r.organizations) for r in cov.relays} == {k: dict(c) for k, c in want_carried.items()}
    assert len({r.key for r in cov.relays}) == len(cov.relays)  # identical settings: one relay
    for r in cov.relays:  # every source named is in force for some organization, and is this relay's
        assert r.sources and all(relay_key(records[s]) == r.key for s in r.sources)
        assert all(any(expected_source(o, on, records) == s for o, on in in_scope) for s in r.sources)
    assert [r.carried for r in cov.relays] == sorted((r.carried for r in cov.relays), reverse=True)


# ----- history: advance ----------------------------------------------------------------------

RELAY = Relay("k1", "smtp.a.example", 587, "starttls", "apikey", (ACME,), (("acme", 3),))


def ok(minutes: int, cert_days: float | None = None) -> Check:
    at = T0 + timedelta(minutes=minutes)
    cert = at + timedelta(days=cert_days) if cert_days is not None else None
    return Check(True, at, 12, cert_not_after=cert)


def fail(minutes: int) -> Check:
    return Check(False, T0 + timedelta(minutes=minutes), 40, "auth_failed", "auth", "535 no", "Verify the SMTP...")


def test_advance_sets_failing_since_keeps_it_then_sets_recovered_at():
    h = advance(None, RELAY, ok(0))
    assert (h.failing_since, h.recovered_at) == (None, None)
    h = advance(h, RELAY, fail(5))  # ok -> fail
    assert h.failing_since == T0 + timedelta(minutes=5) and h.recovered_at is None
    h = advance(h, RELAY, fail(10))  # fail -> fail: kept
    assert h.failing_since == T0 + timedelta(minutes=5) and h.last == fail(10)
    h = advance(h, RELAY, ok(15))  # fail -> ok
    assert h.failing_since is None and h.recovered_at == T0 + timedelta(minutes=15)
    h = advance(h, RELAY, ok(20))  # ok -> ok: the last recovery is still told
    assert h.recovered_at == T0 + timedelta(minutes=15)
    h = advance(h, RELAY, fail(25))  # failing again: a new run of failures
    assert h.failing_since == T0 + timedelta(minutes=25)


def test_a_first_check_that_fails_starts_the_run():
    h = advance(None, RELAY, fail(1))
    assert h.failing_since == fail(1).checked_at and h.recovered_at is None
    assert h.status(T0) == "failing"
    assert advance(RelayHealth(RELAY), RELAY, fail(2)).failing_since == fail(2).checked_at  # unchecked before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=30))
def test_advance_over_any_sequence_of_checks(outcomes):
    h: RelayHealth | None = None
    for i, good in enumerate(outcomes):
        h = advance(h, RELAY, ok(i) if good else fail(i))
    assert h is not None
    # failing since: the first failure of the final unbroken run of failures
    if outcomes[-1]:
        assert h.failing_since is None
    else:
        start = len(outcomes) - 1
        while start > 0 and not outcomes[start - 1]:
            start -= 1
        assert h.failing_since == T0 + timedelta(minutes=start)
    # recovered at: the last good check that followed a failed one
    recoveries = [i for i in range(1, len(outcomes)) if outcomes[i] and not outcomes[i - 1]]
    assert h.recovered_at == (T0 + timedelta(minutes=recoveries[-1]) if recoveries else None)


# ----- status, exit status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "status"),
    [(None, "ok"), (-1, "warning"), (1, "warning"), (20, "warning"), (20.99, "warning"), (21, "ok"), (22, "ok")],
)
def test_status_warns_of_a_certificate_that_expires_within_21_days(days, status):
    assert CERT_WARNING_DAYS == 21
    h = RelayHealth(RELAY, ok(0, cert_days=days))
    assert h.status(ok(0).checked_at) == status
    if days is not None:
        left = h.cert_left(ok(0).checked_at)
        assert left == timedelta(days=days)


def test_status_of_an_unchecked_and_a_failing_relay():
    assert RelayHealth(RELAY).status(T0) == "unchecked" and RelayHealth(RELAY).cert_left(T0) is None
    assert RelayHealth(RELAY, fail(0), T0).status(T0) == "failing"


def report(*healths: RelayHealth, bare: tuple[tuple[str, int], ...] = (), at: datetime = T0) -> HealthReport:
    total = sum(h.relay.carried for h in healths) + sum(n for _, n in bare)
    return HealthReport(EVERYTHING, healths, bare, total, at)


def other(key: str, partners: tuple[tuple[str, int], ...], sources: tuple[Address, ...] = (GLOBEX,)) -> Relay:
    return Relay(key, f"smtp.{key}.example", 465, "implicit", "u", sources, partners)


@pytest.mark.parametrize(
    ("healths", "bare", "code", "lost"),
    [
        ((), (), 0, 0),
        ((RelayHealth(RELAY, ok(0)),), (), 0, 0),
        ((RelayHealth(RELAY, ok(0, cert_days=30)),), (), 0, 0),
        ((RelayHealth(RELAY, ok(0, cert_days=10)),), (), 2, 0),
        ((RelayHealth(RELAY),), (), 2, 0),  # not checked yet: not known to work
        ((RelayHealth(RELAY, fail(0), T0),), (), 3, 3),
        ((RelayHealth(RELAY, ok(0, cert_days=10)),), (("globex", 4),), 3, 4),
        ((RelayHealth(RELAY, fail(0), T0), RelayHealth(other("b", (("globex", 2),)), fail(0), T0)), (), 3, 5),
    ],
)
def test_exit_status(healths, bare, code, lost):
    r = report(*healths, bare=bare)
    assert r.exit_status() == code
    assert r.without_mail() == lost


# ----- limited -------------------------------------------------------------------------------


def test_limited_shows_a_partner_only_its_relays_counted_for_it_alone():
    shared = Relay("s", "smtp.s.example", 587, "starttls", "u", (CONTROLLER, ACME), (("acme", 3), ("globex", 7)))
    theirs = other("g", (("globex", 2),))
    full = report(RelayHealth(shared, fail(0), T0), RelayHealth(theirs, ok(0)), bare=(("acme", 1), ("initech", 5)))
    assert full.limited(None) is full
    assert full.without_mail() == 16 and full.organizations == 18

    acme = full.limited(frozenset({"acme"}))
    assert [h.relay.key for h in acme.relays] == ["s"]
    assert acme.relays[0].relay.organizations == (("acme", 3),) and acme.relays[0].relay.carried == 3
    assert acme.relays[0].relay.sources == (CONTROLLER, ACME)
    assert acme.without_settings == (("acme", 1),) and acme.organizations == 4
    assert acme.without_mail() == 4 and acme.exit_status() == 3
    assert acme.relays[0].failing_since == T0 and acme.relays[0].last == fail(0)  # the history as it is

    readable = full.limited(frozenset({"acme"}), sources=frozenset({ACME}))
    assert readable.relays[0].relay.sources == (ACME,)  # the controller's record is not named

    globex = full.limited(frozenset({"globex"}))
    assert [h.relay.organizations for h in globex.relays] == [(("globex", 7),), (("globex", 2),)]
    assert globex.organizations == 9 and globex.without_settings == ()
    assert full.limited(frozenset()).relays == () and full.limited(frozenset()).organizations == 0


# ----- JSON ----------------------------------------------------------------------------------


def test_report_to_dict_and_back():
    at = T0 + timedelta(hours=1)
    r = HealthReport(
        Scope(frozenset({"acme", "globex"}), frozenset({org("initech", "i1")})),
        (
            RelayHealth(RELAY, ok(50, cert_days=10), None, T0 + timedelta(minutes=50)),
            RelayHealth(other("b", (("globex", 2),), sources=()), fail(40), T0),
            RelayHealth(other("c", (("initech", 1),))),
        ),
        (("globex", 3),),
        9,
        at,
        ("a note",),
    )
    d = report_to_dict(r)
    assert report_from_dict(d) == r
    assert report_to_dict(report_from_dict(d)) == d
    assert d["scope"] == {"partners": ["acme", "globex"], "orgs": ["partners/initech/organizations/i1"]}
    assert (d["organizations"], d["organizations_without_mail"], d["exit_status"]) == (9, 5, 3)
    first, failing, unchecked = d["relays"]
    assert first["status"] == "warning" and first["cert_days_left"] == 10.0  # 10 days less 10 minutes, in tenths
    assert first["recovered_at"] == "2026-05-01T10:52:00+00:00" and first["failing_since"] is None
    assert failing["last_check"] == {
        "ok": False,
        "checked_at": "2026-05-01T10:42:00+00:00",
        "latency_ms": 40,
        "failure": "auth_failed",
        "stage": "auth",
        "detail": "535 no",
        "advice": "Verify the SMTP...",
        "cert_not_after": None,
    }
    assert failing["sources"] == [] and failing["status"] == "failing"
    assert unchecked["last_check"] is None and unchecked["status"] == "unchecked"
    assert d["without_settings"] == [{"partner": "globex", "organizations": 3}] and d["notes"] == ["a note"]


def test_times_in_another_zone_read_back_as_the_same_instant():
    east = timezone(timedelta(hours=2))
    r = report(RelayHealth(RELAY, Check(True, T0.astimezone(east), 5)), at=T0.astimezone(east))
    back = report_from_dict(report_to_dict(r))
    assert back.at == T0 and back.relays[0].last is not None and back.relays[0].last.checked_at == T0
