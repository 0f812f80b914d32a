"""Records on both backends: the platform's override table through Snapshot.effective, the feature
switch, deletion falling back, compare-and-swap, ownership, audit of writes and refusals."""

from __future__ import annotations

import pytest
from store_helpers import ACME, BLUE, CONTROLLER, GREEN, HQ, INITECH, RED, settings

from smtp_iac.addresses import Address, Tier
from smtp_iac.errors import ConflictError, FeatureDisabled, OwnershipError, StoreError, UnknownTenant
from smtp_iac.resolve import StepOutcome
from smtp_iac.store import open_store
from smtp_iac.store.schema import LATEST


def put(store, address, host, *, stack="prod", expected=None, **kw):
    return store.put(address, settings(host=host, **kw), expected_version=expected, stack=stack).record


def source(snap, org):
    r = snap.effective(org)
    return (str(r.source) if r.source else None, r.record.host if r.record else None)


# ----- the platform's four scenarios ---------------------------------------------------------


def test_only_controller_configured(loaded):
    put(loaded, CONTROLLER, "ctl.example.com")
    snap = loaded.snapshot()
    for org in (BLUE, RED, GREEN, HQ):
        assert source(snap, org) == ("controller", "ctl.example.com")


def test_controller_and_partner_configured(loaded):
    put(loaded, CONTROLLER, "ctl.example.com")
    put(loaded, ACME, "acme.example.com")
    snap = loaded.snapshot()
    for org in (BLUE, RED, GREEN):
        assert source(snap, org) == ("partners/acme", "acme.example.com")
    assert source(snap, HQ) == ("controller", "ctl.example.com")  # other partner: unaffected


def test_all_three_configured(loaded):
    put(loaded, CONTROLLER, "ctl.example.com")
    put(loaded, ACME, "acme.example.com")
    put(loaded, BLUE, "blue.example.com")
    snap = loaded.snapshot()
    assert source(snap, BLUE) == (str(BLUE), "blue.example.com")
    assert source(snap, RED) == ("partners/acme", "acme.example.com")
    assert snap.effective(BLUE).chain[0].outcome == StepOutcome.USED
    assert [s.outcome for s in snap.effective(RED).chain] == [StepOutcome.NO_RECORD, StepOutcome.USED]


def test_partner_configured_organization_not(loaded):
    put(loaded, ACME, "acme.example.com")
    snap = loaded.snapshot()
    assert source(snap, RED) == ("partners/acme", "acme.example.com")
    assert source(snap, HQ) == (None, None)  # no controller, no initech record: no SMTP at all
    assert snap.effective(HQ).tier == "none"


def test_effective_all_agrees_with_effective(loaded):
    put(loaded, CONTROLLER, "ctl.example.com")
    put(loaded, ACME, "acme.example.com")
    put(loaded, BLUE, "blue.example.com")
    snap = loaded.snapshot()
    every = snap.effective_all()
    assert set(every) == {BLUE, RED, GREEN, HQ}
    for org, res in every.items():
        assert (res.source, res.record) == (snap.effective(org).source, snap.effective(org).record)


def test_effective_of_unknown_org_is_refused(loaded):
    snap = loaded.snapshot()
    with pytest.raises(UnknownTenant) as e:
        snap.effective(type(BLUE)("acme", "nope"))
    assert e.value.address == Address.parse("partners/acme/organizations/nope")


# ----- the feature switch -----------------------------------------------------------------


def test_org_record_ignored_while_switch_off_and_writes_refused_with_advice(loaded):
    put(loaded, ACME, "acme.example.com")
    put(loaded, BLUE, "blue.example.com")
    loaded.set_smtp_enabled(BLUE, False)
    snap = loaded.snapshot()
    assert source(snap, BLUE) == ("partners/acme", "acme.example.com")
    assert snap.effective(BLUE).chain[0].outcome == StepOutcome.SMTP_DISABLED
    assert snap.records[BLUE].host == "blue.example.com"  # kept, only ignored

    with pytest.raises(FeatureDisabled) as e:
        put(loaded, BLUE, "blue2.example.com", expected=1)
    assert "partner admin or system administrator" in e.value.hint
    assert e.value.address == BLUE
    with pytest.raises(FeatureDisabled):
        put(loaded, GREEN, "green.example.com")  # disabled from the start
    assert loaded.get(GREEN) is None
    assert loaded.get(BLUE).version == 1

    refused = [a for a in loaded.audit_log() if a.outcome == "refused"]
    assert [(a.address, a.action) for a in refused] == [(str(BLUE), "update"), (str(GREEN), "create")]
    assert all(a.detail.startswith("feature_disabled") for a in refused)

    loaded.set_smtp_enabled(BLUE, True)
    assert source(loaded.snapshot(), BLUE) == (str(BLUE), "blue.example.com")
    switches = [(a.action, a.address, a.outcome) for a in loaded.audit_log() if "smtp" in a.action]
    assert switches == [("disable-smtp", str(BLUE), "ok"), ("enable-smtp", str(BLUE), "ok")]


def test_deleting_an_override_falls_back_tier_by_tier(loaded):
    put(loaded, CONTROLLER, "ctl.example.com")
    put(loaded, ACME, "acme.example.com")
    put(loaded, BLUE, "blue.example.com")
    loaded.delete(BLUE, expected_version=1, stack="prod")
    assert source(loaded.snapshot(), BLUE) == ("partners/acme", "acme.example.com")
    loaded.delete(ACME, expected_version=1, stack="prod")
    assert source(loaded.snapshot(), BLUE) == ("controller", "ctl.example.com")
    loaded.delete(CONTROLLER, expected_version=1, stack="prod")
    assert source(loaded.snapshot(), BLUE) == (None, None)
    deletes = [(a.address, a.outcome) for a in loaded.audit_log() if a.action == "delete"]
    assert deletes == [(str(BLUE), "ok"), (str(ACME), "ok"), ("controller", "ok")]
    # deleting what is already absent, having seen it absent, is a no-op
    loaded.delete(BLUE, expected_version=None, stack="prod")


def test_delete_allowed_while_switch_off(loaded):
    put(loaded, BLUE, "blue.example.com")
    loaded.set_smtp_enabled(BLUE, False)
    loaded.delete(BLUE, expected_version=1, stack="prod")
    assert loaded.get(BLUE) is None


# ----- record contents --------------------------------------------------------------------


def test_put_returns_what_get_reads(loaded):
    rec = loaded.put(
        ACME,
        settings(
            host="relay.example.com",
            port=465,
            tls=True,
            tls_mode="implicit",
            username="u@example.com",
            sender="no-reply@example.com",
        ),
        expected_version=None,
        stack="prod",
        actor="alice",
    )
    assert rec.check is None  # this store does not check writes: its writer did
    got = loaded.get(ACME)
    assert rec.record == got
    assert (got.host, got.port, got.tls, got.tls_mode, got.username, got.sender) == (
        "relay.example.com",
        465,
        True,
        "implicit",
        "u@example.com",
        "no-reply@example.com",
    )
    assert (got.version, got.managed_by, got.updated_by, str(got.address)) == (1, "prod", "alice", "partners/acme")
    assert got.updated_at is not None and got.updated_at.utcoffset().total_seconds() == 0
    assert got.password_fingerprint == loaded.fingerprint(CONTROLLER, "s3cret-pw")
    assert got.password_fingerprint.startswith("hmac-sha256:") and len(got.password_fingerprint) == 12 + 16
    assert loaded.fingerprint(CONTROLLER, "other") != got.password_fingerprint
    assert loaded.reveal_password(ACME).get_secret_value() == "s3cret-pw"


def test_update_bumps_version_and_audits_changed_fields(loaded):
    put(loaded, ACME, "a.example.com", password="one")
    rec = put(loaded, ACME, "b.example.com", expected=1, password="two")
    assert rec.version == 2 and loaded.get(ACME).version == 2
    assert loaded.reveal_password(ACME).get_secret_value() == "two"
    last = loaded.audit_log(address=ACME)[-1]
    assert (last.action, last.outcome) == ("update", "ok")
    assert last.old_fingerprint == loaded.fingerprint(CONTROLLER, "one")
    assert last.new_fingerprint == loaded.fingerprint(CONTROLLER, "two")
    assert "host" in last.detail and "password" in last.detail


def test_list_records_by_tier_and_partner(loaded):
    for a, h in ((CONTROLLER, "c"), (ACME, "a"), (BLUE, "b"), (RED, "r"), (INITECH, "i"), (HQ, "h")):
        put(loaded, a, f"{h}.example.com")
    assert [str(r.address) for r in loaded.list_records()] == [
        "controller",
        "partners/acme",
        "partners/acme/organizations/blue",
        "partners/acme/organizations/red",
        "partners/initech",
        "partners/initech/organizations/hq",
    ]
    assert [str(r.address) for r in loaded.list_records(tier=Tier.PARTNER)] == ["partners/acme", "partners/initech"]
    assert [str(r.address) for r in loaded.list_records(tier=Tier.ORGANIZATION, partner="acme")] == [
        str(BLUE),
        str(RED),
    ]
    assert [str(r.address) for r in loaded.list_records(tier=Tier.CONTROLLER)] == ["controller"]


# ----- compare-and-swap -------------------------------------------------------------------


def test_stale_version_is_refused_with_both_versions_writer_and_time(loaded):
    put(loaded, ACME, "a.example.com")
    loaded.put(ACME, settings(host="b.example.com"), expected_version=1, stack="prod", actor="bob")
    with pytest.raises(ConflictError) as e:
        put(loaded, ACME, "c.example.com", expected=1)
    err = e.value
    assert (str(err.address), err.expected, err.actual, err.last_writer) == ("partners/acme", 1, 2, "bob")
    assert err.last_written == loaded.get(ACME).updated_at.isoformat()
    assert "expected version 1, store has 2" in err.message and "bob" in err.message
    assert loaded.get(ACME).host == "b.example.com"
    last = loaded.audit_log()[-1]
    assert (last.address, last.action, last.outcome, last.actor) == ("partners/acme", "update", "conflict", "tester")


def test_create_over_existing_and_update_of_absent_conflict(loaded):
    put(loaded, ACME, "a.example.com")
    with pytest.raises(ConflictError) as e:
        put(loaded, ACME, "x.example.com", expected=None)
    assert (e.value.expected, e.value.actual) == (None, 1)
    with pytest.raises(ConflictError) as e:
        put(loaded, INITECH, "x.example.com", expected=3)
    assert (e.value.expected, e.value.actual) == (3, None)
    with pytest.raises(ConflictError):
        loaded.delete(ACME, expected_version=7, stack="prod")
    with pytest.raises(ConflictError):
        loaded.delete(INITECH, expected_version=1, stack="prod")
    assert loaded.get(ACME).version == 1 and loaded.get(INITECH) is None
    outcomes = [(a.address, a.action, a.outcome) for a in loaded.audit_log() if a.address]
    assert outcomes == [
        ("partners/acme", "create", "ok"),
        ("partners/acme", "create", "conflict"),
        ("partners/initech", "update", "conflict"),
        ("partners/acme", "delete", "conflict"),
        ("partners/initech", "delete", "conflict"),
    ]


# ----- ownership --------------------------------------------------------------------------


def test_other_stacks_scope_is_refused_unless_adopted(loaded):
    put(loaded, ACME, "a.example.com", stack="team-a")
    with pytest.raises(OwnershipError) as e:
        put(loaded, ACME, "b.example.com", expected=1, stack="team-b")
    assert (e.value.owner, e.value.stack, str(e.value.address)) == ("team-a", "team-b", "partners/acme")
    assert "adopt" in e.value.hint
    with pytest.raises(OwnershipError):
        loaded.delete(ACME, expected_version=1, stack="team-b")
    assert loaded.get(ACME).managed_by == "team-a" and loaded.get(ACME).host == "a.example.com"

    rec = loaded.put(ACME, settings(host="b.example.com"), expected_version=1, stack="team-b", adopt=True).record
    assert (rec.managed_by, rec.version) == ("team-b", 2)
    assert "adopted from stack 'team-a'" in loaded.audit_log()[-1].detail
    with pytest.raises(OwnershipError):
        loaded.delete(ACME, expected_version=2, stack="team-a")
    loaded.delete(ACME, expected_version=2, stack="team-a", adopt=True)
    assert loaded.get(ACME) is None
    refusals = [a.detail.split(":")[0] for a in loaded.audit_log() if a.outcome == "refused"]
    assert refusals == ["ownership"] * 3


# ----- tenants checked on write -----------------------------------------------------------


@pytest.mark.parametrize(
    "address, expect",
    [
        (type(ACME)("acmee"), "partner 'acmee' is not known"),
        (type(ACME)("acme", "purple"), "organization 'purple' is not known"),
        (type(ACME)("initech", "blue"), "organization 'blue' is not under partner 'initech'"),
    ],
)
def test_unknown_tenants_are_refused_and_audited(loaded, address, expect):
    with pytest.raises(UnknownTenant) as e:
        put(loaded, address, "x.example.com")
    assert expect in e.value.message and e.value.address == address
    assert loaded.get(address) is None
    last = loaded.audit_log()[-1]
    assert (last.address, last.outcome) == (str(address), "refused")


def test_unknown_partner_hint_suggests_the_near_one(loaded):
    with pytest.raises(UnknownTenant) as e:
        put(loaded, type(ACME)("acmee"), "x.example.com")
    assert "acme" in e.value.hint and "tenants load" in e.value.hint


def test_record_attempt_audits_a_failed_verify(loaded):
    put(loaded, ACME, "a.example.com", password="old")
    loaded.record_attempt(
        ACME,
        stack="prod",
        action="update",
        outcome="verify_failed",
        detail="auth_failed: 535 authentication failed",
        actor="ci",
        new_fingerprint=loaded.fingerprint(CONTROLLER, "new"),
    )
    last = loaded.audit_log(address=ACME, limit=1)
    assert len(last) == 1
    e = last[0]
    assert (e.action, e.outcome, e.actor, e.stack) == ("update", "verify_failed", "ci", "prod")
    assert e.old_fingerprint == loaded.fingerprint(CONTROLLER, "old") and e.new_fingerprint == loaded.fingerprint(
        CONTROLLER, "new"
    )
    assert loaded.get(ACME).version == 1


def test_audit_log_filters_and_limits_newest(loaded):
    for i in range(5):
        put(loaded, ACME, f"h{i}.example.com", expected=i or None)
    put(loaded, INITECH, "i.example.com")
    acme = loaded.audit_log(address=ACME)
    assert [a.action for a in acme] == ["create"] + ["update"] * 4
    assert [a.id for a in acme] == sorted(a.id for a in acme)
    newest = loaded.audit_log(limit=2)
    assert [a.address for a in newest] == ["partners/acme", "partners/initech"]


def test_invalid_stack_name_is_refused(loaded):
    with pytest.raises(StoreError):
        put(loaded, ACME, "a.example.com", stack="bad\nname")


# ----- schema -----------------------------------------------------------------------------


def test_reopen_keeps_data_and_schema_version(store_url, loaded):
    put(loaded, ACME, "a.example.com")
    loaded.close()
    with open_store(store_url) as again:
        assert again.schema_version() == LATEST
        assert again.get(ACME).host == "a.example.com"
        assert again.tenants().has_partner("acme")


def test_a_newer_schema_is_refused(store_url, loaded):
    with loaded.db.write() as cur:
        loaded.db.x(
            cur,
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (LATEST + 1, "from the future", "2099-01-01T00:00:00+00:00"),
        )
    loaded.close()
    with pytest.raises(StoreError) as e:
        open_store(store_url)
    assert "upgrade smtp-iac" in e.value.hint


def test_snapshot_is_a_constant_number_of_queries(loaded):
    """Reading the platform must not cost one query per organization."""

    def count_queries(store):
        calls = []
        real = store.db.x

        def counting(cur, sql, params=()):
            calls.append(sql)
            return real(cur, sql, params)

        store.db.x = counting
        try:
            snap = store.snapshot()
            snap.effective_all()
        finally:
            del store.db.x
        return len(calls), len(snap.tenants.orgs)

    put(loaded, ACME, "a.example.com")
    small, n_small = count_queries(loaded)
    many = {
        "partners": {
            f"p{i}": {"organizations": {f"o{j}": {"smtp_enabled": j % 2 == 0} for j in range(30)}} for i in range(20)
        }
    }
    loaded.load_tenants(many)
    for i in range(20):
        put(loaded, type(ACME)(f"p{i}"), f"p{i}.example.com")
    big, n_big = count_queries(loaded)
    assert n_big == n_small + 600
    assert small == big <= 3


def test_actor_given_by_a_caller_is_cleaned_for_the_log(loaded):
    loaded.put(ACME, settings(), expected_version=None, stack="prod", actor="mallory\n2099 forged entry")
    assert loaded.get(ACME).updated_by == "mallory?2099 forged entry"
    assert loaded.audit_log()[-1].actor == "mallory?2099 forged entry"


def test_loading_the_same_tenants_from_another_connection_changes_nothing(store_url, loaded):
    from store_helpers import TENANTS

    with open_store(store_url) as other:
        assert not other.load_tenants(TENANTS).changed
    assert loaded.load_tenants(TENANTS).unchanged == 6
