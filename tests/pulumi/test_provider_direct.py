"""The providers' methods called directly, against a temporary store (each test on SQLite and
on PostgreSQL) and a real relay."""

from __future__ import annotations

import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi_support import NEW_PASSWORD, PASSWORD, USER
from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.errors import ConflictError, OwnershipError, VerifyFailed
from smtp_iac.models import ResolvedSettings
from smtp_iac.pulumi.provider import REFRESH_HINT, SmtpInheritanceProvider, SmtpSettingsProvider

pytestmark = pytest.mark.timeout(120)

ACME = Address("acme")


@pytest.fixture
def store(any_store):
    """Every test here runs on both backends."""
    return any_store


def configured(cls, store, **extra):
    p = cls()
    p.configure(ConfigureRequest(Config(store.config(**extra), "smtp-iac")))
    return p


def inputs(relay, ca_file, **over):
    """Inputs as the engine hands them to a dynamic provider: numbers as floats."""
    d = {
        "address": "partners/acme",
        "stack": "prod",
        "host": "127.0.0.1",
        "port": float(relay.port),
        "tls": True,
        "username": USER,
        "password": PASSWORD,
        "sender": "no-reply@acme.example",
        "verify": {"mode": "login", "timeout_seconds": 10.0, "ca_file": str(ca_file)},
    }
    d.update(over)
    return d


def resolved(relay, password=PASSWORD, host="127.0.0.1") -> ResolvedSettings:
    return ResolvedSettings(host=host, port=relay.port, tls=True, username=USER, password=SecretStr(password))


def audit_outcomes(store, address=ACME):
    with store.open() as s:
        return [(e.action, e.outcome) for e in s.audit_log(address=address)]


def assert_no_password(*texts):
    for t in texts:
        assert PASSWORD not in str(t) and NEW_PASSWORD not in str(t)


def test_whole_lifecycle(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    news = inputs(relay, ca_file)

    checked = p.check({}, news)
    assert checked.failures == []
    assert checked.inputs["port"] == relay.port and isinstance(checked.inputs["port"], int)

    created = p.create(checked.inputs)
    assert created.id == "partners/acme"
    outs = created.outs
    with store.open() as s:
        live = s.get(ACME)
        assert live.password_fingerprint == s.fingerprint(ACME, PASSWORD)
    assert outs["password_fingerprint"] == store.shown_fingerprint(ACME, PASSWORD)
    assert (outs["version"], outs["managed_by"]) == (1, "prod")
    assert set(checked.inputs) <= set(outs), "every input key is echoed, or every diff shows a change"
    assert relay.stats.auth_attempts == 1, "create verifies first"

    assert p.diff(created.id, outs, checked.inputs).changes is False

    read = p.read(created.id, outs)
    assert read.id == created.id
    assert read.outs == outs
    assert read.inputs == {k: v for k, v in checked.inputs.items()}, "no drift: refresh changes no input"

    news2 = dict(checked.inputs, sender="mail@acme.example")
    diff = p.diff(created.id, outs, news2)
    assert diff.changes is True and not diff.replaces
    updated = p.update(created.id, outs, news2).outs
    assert (updated["version"], updated["sender"]) == (2, "mail@acme.example")

    p.delete(created.id, updated)
    with store.open() as s:
        assert s.get(ACME) is None
    assert [a for a, o in audit_outcomes(store) if o == "ok"] == ["create", "update", "delete"]


def test_diff_replaces_when_the_address_changes(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    diff = p.diff("partners/acme", outs, dict(outs, address="partners/globex"))
    assert diff.changes is True and diff.replaces == ["address"]


def test_version_conflict_fails_with_refresh_advice_and_writes_nothing(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    with store.open() as s:  # someone else writes the scope out of band
        s.put(ACME, resolved(relay, host="localhost"), expected_version=1, stack="prod", actor="ui")
    sessions = relay.stats.sessions

    with pytest.raises(ConflictError) as exc:
        p.update("partners/acme", outs, dict(inputs(relay, ca_file), sender="x@acme.example"))
    assert exc.value.hint == REFRESH_HINT and "pulumi refresh" in str(exc.value)
    assert (exc.value.expected, exc.value.actual) == (1, 2)
    assert relay.stats.sessions == sessions, "a stale state is refused before any SMTP traffic"
    with store.open() as s:
        assert (s.get(ACME).version, s.get(ACME).host) == (2, "localhost")
    assert audit_outcomes(store)[-1] == ("update", "conflict")

    # after `pulumi refresh` (read), the update goes through
    refreshed = p.read("partners/acme", outs)
    assert refreshed.outs["version"] == 2
    assert p.update("partners/acme", refreshed.outs, inputs(relay, ca_file)).outs["version"] == 3


def test_another_stacks_scope_is_refused_unless_adopting(store, relay, ca_file):
    with store.open() as s:
        s.put(ACME, resolved(relay), expected_version=None, stack="other", actor="test")
    p = configured(SmtpSettingsProvider, store)
    with pytest.raises(OwnershipError) as exc:
        p.create(p.check({}, inputs(relay, ca_file)).inputs)
    assert "other" in str(exc.value) and "smtp-iac:adopt" in exc.value.hint
    assert relay.stats.sessions == 0, "refused before the verify check"
    assert audit_outcomes(store)[-1][1] == "refused"
    with store.open() as s:
        assert s.get(ACME).managed_by == "other"

    adopting = configured(SmtpSettingsProvider, store, **{"smtp-iac:adopt": "true"})
    outs = adopting.create(adopting.check({}, inputs(relay, ca_file)).inputs).outs
    assert (outs["managed_by"], outs["version"]) == ("prod", 2)


def test_password_change_is_seen_by_fingerprint_verified_and_written(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    relay.users[USER] = NEW_PASSWORD
    news = p.check({}, inputs(relay, ca_file, password=NEW_PASSWORD)).inputs
    diff = p.diff("partners/acme", outs, news)
    assert diff.changes is True
    new_outs = p.update("partners/acme", outs, news).outs
    with store.open() as s:
        assert s.reveal_password(ACME).get_secret_value() == NEW_PASSWORD
    assert (
        new_outs["password_fingerprint"] == store.shown_fingerprint(ACME, NEW_PASSWORD) != outs["password_fingerprint"]
    )
    assert p.diff("partners/acme", new_outs, news).changes is False
    assert_no_password(outs["password_fingerprint"], new_outs["password_fingerprint"])


def test_failed_verify_writes_nothing_and_is_audited(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    news = p.check({}, inputs(relay, ca_file, password=NEW_PASSWORD)).inputs  # relay still wants PASSWORD
    with pytest.raises(VerifyFailed) as exc:
        p.update("partners/acme", outs, news)
    assert exc.value.result.failure == "auth_failed"
    assert_no_password(str(exc.value), exc.value.hint)
    with store.open() as s:
        assert s.get(ACME).version == 1
        assert s.get(ACME).password_fingerprint == s.fingerprint(Address("acme"), PASSWORD)
    assert audit_outcomes(store)[-1] == ("update", "verify_failed")  # the write it stopped


def test_out_of_band_change_shows_in_read_with_the_password_by_fingerprint(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    news = p.check({}, inputs(relay, ca_file)).inputs
    outs = p.create(news).outs
    with store.open() as s:
        s.put(
            ACME,
            resolved(relay, password="someone-else", host="localhost"),
            expected_version=1,
            stack="prod",
            actor="ui",
        )
    fp_other = store.shown_fingerprint(ACME, "someone-else")
    read = p.read("partners/acme", outs)
    assert read.outs["host"] == "localhost" and read.inputs["host"] == "localhost"
    assert read.outs["password_fingerprint"] == fp_other != outs["password_fingerprint"]
    assert (read.outs["version"], read.outs["updated_by"]) == (2, "ui")
    assert "someone-else" not in repr(read.outs) + repr(read.inputs)
    diff = p.diff("partners/acme", read.outs, news)
    assert diff.changes is True, "the next `pulumi up` restores host and password"


def test_record_gone_read_reports_empty_id_and_delete_succeeds(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    with store.open() as s:
        s.delete(ACME, expected_version=1, stack="prod", actor="ui")
    read = p.read("partners/acme", outs)
    assert read.id == "" and read.outs == {}
    p.delete("partners/acme", outs)  # nothing left to delete: not an error
    with store.open() as s:
        assert s.get(ACME) is None


def test_a_scope_another_stack_took_over_shows_as_a_change_and_is_left_on_delete(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    news = p.check({}, inputs(relay, ca_file)).inputs
    outs = p.create(news).outs
    with store.open() as s:  # same settings, but now owned by stack "other"
        s.put(ACME, resolved(relay), expected_version=1, stack="other", actor="ci", adopt=True)
    read = p.read("partners/acme", outs)
    assert read.outs["managed_by"] == "other"
    assert p.diff("partners/acme", read.outs, news).changes is True
    with pytest.raises(OwnershipError):
        p.update("partners/acme", read.outs, news)
    p.delete("partners/acme", read.outs)
    with store.open() as s:
        assert s.get(ACME).managed_by == "other"


def test_check_reports_one_failure_per_field_and_never_the_password(store, relay, ca_file):
    p = configured(SmtpSettingsProvider, store)
    bad = inputs(
        relay,
        ca_file,
        host="smtp://bad host",
        port=465.0,
        tls=False,
        sender="not-an-email",
        password="line\nbreak" + PASSWORD,
        address="partners/Acme",
    )
    failures = p.check({}, bad).failures
    by_prop = {f.property: f.reason for f in failures}
    assert sorted(by_prop) == ["address", "host", "password", "port", "sender"]
    assert len(failures) == len(by_prop)
    assert "465" in by_prop["port"]
    assert_no_password(*by_prop.values())
    missing = p.check({}, {"address": "controller", "stack": "prod"}).failures
    assert {f.property for f in missing} == {"host", "port", "tls", "username", "password"}


def test_inheritance_removes_reports_and_leaves_alone(store, relay, ca_file):
    globex = Address("globex")
    with store.open() as s:
        s.put(globex, resolved(relay), expected_version=None, stack="prod", actor="ui")
    p = configured(SmtpInheritanceProvider, store)
    props = p.check({}, {"address": "partners/globex", "stack": "prod", "stack_file": None}).inputs
    created = p.create(props)
    assert created.outs["override_present"] is False
    with store.open() as s:
        assert s.get(globex) is None
    assert p.diff(created.id, created.outs, props).changes is False

    with store.open() as s:  # an override appears out of band
        s.put(globex, resolved(relay, host="localhost"), expected_version=None, stack="prod", actor="ui")
    read = p.read(created.id, created.outs)
    assert read.outs["override_present"] is True and read.outs["host"] == "localhost"
    assert read.inputs == {"address": "partners/globex", "stack": "prod"}
    assert p.diff(created.id, created.outs, props).changes is False, "unseen until refresh"
    assert p.diff(created.id, read.outs, props).changes is True
    updated = p.update(created.id, read.outs, props)
    assert updated.outs["override_present"] is False
    with store.open() as s:
        assert s.get(globex) is None
        s.put(globex, resolved(relay), expected_version=None, stack="prod", actor="ui")
    p.delete(created.id, updated.outs)
    with store.open() as s:
        assert s.get(globex) is not None, "deleting an inheritance resource changes nothing"


def test_inheritance_update_with_stale_state_conflicts(store, relay):
    globex = Address("globex")
    p = configured(SmtpInheritanceProvider, store)
    props = {"address": "partners/globex", "stack": "prod"}
    created = p.create(props)
    with store.open() as s:
        s.put(globex, resolved(relay), expected_version=None, stack="prod", actor="ui")
    with pytest.raises(ConflictError) as exc:
        p.update(created.id, created.outs, dict(props, stack="prod2"))
    assert exc.value.hint == REFRESH_HINT
    with store.open() as s:
        assert s.get(globex) is not None


def test_create_takes_over_a_record_this_stack_already_manages(store, relay, ca_file):
    """E.g. the same stack file was applied with `smtp-iac apply` before Pulumi managed it, or
    the state was lost: the record is this stack's, so create writes over it (CAS on its version)."""
    with store.open() as s:
        s.put(ACME, resolved(relay, host="localhost"), expected_version=None, stack="prod", actor="cli")
    p = configured(SmtpSettingsProvider, store)
    outs = p.create(p.check({}, inputs(relay, ca_file)).inputs).outs
    assert (outs["version"], outs["host"], outs["managed_by"]) == (2, "127.0.0.1", "prod")


def test_preview_refresh_and_delete_never_create_a_store(tmp_path, relay, ca_file):
    """SPEC: only writes make a store. A typo in smtp-iac:store must fail preview (diff),
    refresh (read) and destroy (delete), not hand them a new empty store."""
    from cryptography.fernet import Fernet

    from smtp_iac.errors import StoreError

    typo = tmp_path / "typo"
    cfg = {"smtp-iac:store": f"sqlite:///{typo}/store.db", "smtp-iac:storeKey": Fernet.generate_key().decode()}
    p = SmtpSettingsProvider()
    p.configure(ConfigureRequest(Config(cfg, "smtp-iac")))
    props = inputs(relay, ca_file)
    old = {**props, "password": "an-old-secret-value"}
    for call in (
        lambda: p.read("partners/acme", props),
        lambda: p.diff("partners/acme", old, props),
        lambda: p.delete("partners/acme", {**props, "version": 1.0}),
    ):
        with pytest.raises(StoreError, match="no store at"):
            call()
        assert not typo.exists()
    p.create({**props, "address": "controller"})  # up: the first write makes the store
    assert (typo / "store.db").is_file()
