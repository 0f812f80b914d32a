"""The providers through the SDK's real dynamic provider host (``python -m pulumi.dynamic``),
driven over gRPC the way the engine drives it, with the engine's state bookkeeping simulated."""

from __future__ import annotations

import base64

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2
from pulumi_engine import UNKNOWN, HostError, ResourceState, SimulatedState, annotate_secrets, urn
from pulumi_support import NEW_PASSWORD, PASSWORD, USER, inputs

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings
from smtp_iac.pulumi.provider import SmtpInheritanceProvider, SmtpSettingsProvider
from smtp_iac.pulumi.resources import INHERITANCE_TYPE, SETTINGS_TYPE

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

ADDRESS = "partners/acme"
URN = urn("prod", SETTINGS_TYPE, ADDRESS)
SECRET_INPUTS = {"password", "__provider"}  # require_secret / Output.secret, and the SDK's secret __provider
ADDITIONAL_SECRET_OUTPUTS = {"password"}


def program_inputs(relay, ca_file, provider_str, **over):
    """What the program sends for ``ADDRESS`` (``pulumi_support.inputs``, with a sender)."""
    return inputs(ADDRESS, relay, ca_file, **{"sender": "no-reply@acme.example", "__provider": provider_str, **over})


def test_pickled_provider_holds_no_store_url_or_key(store):
    p = SmtpSettingsProvider()
    from pulumi.dynamic import Config, ConfigureRequest

    p.configure(ConfigureRequest(Config(store.config(), "smtp-iac")))  # even a configured one
    raw = base64.b64decode(serialize_provider(p))
    assert str(store.path).encode() not in raw and store.marker.encode() not in raw
    assert store.key.encode() not in raw
    assert b"smtp_iac.pulumi.provider" in raw and b"SmtpSettingsProvider" in raw, "pickled by reference"


def test_full_lifecycle_through_the_real_host(host, any_store, relay, ca_file, tmp_path):
    store = any_store
    state = SimulatedState(tmp_path / "stack-state.json")
    provider_str = serialize_provider(SmtpSettingsProvider())

    # Configure: the whole stack config, the key as a secret; the host declines secrets
    resp = host.configure(
        store.config(**{"smtp-iac:adopt": "false", "aws:region": "eu-west-1"}), secret_keys=store.secret_keys
    )
    assert resp.acceptSecrets is False and host.accept_secrets is False

    news = program_inputs(relay, ca_file, provider_str)

    # Check, failing: one failure per field
    _, failures = host.check(URN, {}, dict(news, host="smtp://x y", port=465, tls=False), SECRET_INPUTS)
    assert {p for p, _ in failures} == {"host", "port"}

    # Check with unknown values, as in a preview of a first run
    inputs, failures = host.check(URN, {}, dict(news, host=UNKNOWN, password=UNKNOWN), SECRET_INPUTS)
    assert failures == [] and inputs["host"] == UNKNOWN and inputs["password"] == UNKNOWN

    checked, failures = host.check(URN, {}, news, SECRET_INPUTS)
    assert failures == []
    assert checked["port"] == relay.port

    # Create: verify (a real SMTP AUTH), then the write
    id_, outs = host.create(URN, checked, SECRET_INPUTS)
    assert id_ == ADDRESS and relay.stats.auth_attempts == 1
    secret_outs = annotate_secrets(outs, SECRET_INPUTS | ADDITIONAL_SECRET_OUTPUTS)
    assert "password" in secret_outs, "the password is echoed under its own key only, so it stays secret"
    state.record(ResourceState(URN, SETTINGS_TYPE, id_, checked, outs, set(SECRET_INPUTS), secret_outs))
    with store.open() as s:
        assert s.get(Address("acme")).managed_by == "prod"
    assert outs["password_fingerprint"] == store.shown_fingerprint(Address("acme"), PASSWORD)

    # Diff: none
    assert host.diff(URN, id_, outs, checked, SECRET_INPUTS).changes == provider_pb2.DiffResponse.DIFF_NONE

    # an out-of-band change (someone edits the scope in the UI)
    with store.open() as s:
        s.put(
            Address("acme"),
            ResolvedSettings(host="localhost", port=relay.port, tls=True, username=USER, password=NEW_PASSWORD),
            expected_version=1,
            stack="prod",
            actor="ui",
        )
    fp_new = store.shown_fingerprint(Address("acme"), NEW_PASSWORD)

    # Read (refresh) shows it: every field, the password by fingerprint
    rid, routs, rinputs = host.read(URN, id_, outs, checked, SECRET_INPUTS)
    assert rid == id_
    assert (routs["host"], routs["password_fingerprint"], routs["version"]) == ("localhost", fp_new, 2)
    assert rinputs["host"] == "localhost"
    state.record(
        ResourceState(
            URN,
            SETTINGS_TYPE,
            rid,
            rinputs,
            routs,
            set(SECRET_INPUTS),
            annotate_secrets(routs, SECRET_INPUTS | ADDITIONAL_SECRET_OUTPUTS),
        )
    )

    # Diff: some (host and password differ from the program's)
    diff = host.diff(URN, id_, routs, checked, SECRET_INPUTS)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []

    # Update: verify, then CAS with the refreshed version
    uouts = host.update(URN, id_, routs, checked, SECRET_INPUTS)
    assert (uouts["host"], uouts["version"]) == ("127.0.0.1", 3)
    state.record(
        ResourceState(
            URN,
            SETTINGS_TYPE,
            id_,
            checked,
            uouts,
            set(SECRET_INPUTS),
            annotate_secrets(uouts, SECRET_INPUTS | ADDITIONAL_SECRET_OUTPUTS),
        )
    )

    # a stale update fails with the refresh advice, no password in what the engine shows
    with pytest.raises(HostError) as exc:
        host.update(URN, id_, routs, dict(checked, sender="x@acme.example"), SECRET_INPUTS)
    assert "pulumi refresh" in exc.value.details and "ConflictError" in exc.value.details
    assert PASSWORD not in exc.value.details and not any(x in exc.value.details for x in store.secrets)

    # Delete, then a Read of the gone record
    host.delete(URN, id_, uouts, SECRET_INPUTS)
    with store.open() as s:
        assert s.get(Address("acme")) is None
    gid, gouts, _ = host.read(URN, id_, uouts, checked, SECRET_INPUTS)
    assert gid == "" and gouts == {"__provider": provider_str}
    state.forget(URN)

    text = state.text()
    assert "password_fingerprint" in text and '"ciphertext"' in text
    for secret in (PASSWORD, NEW_PASSWORD, *store.secrets):
        assert secret not in text
    assert store.url not in text and store.marker not in text, "the store URL is never in state"
    for secret in (PASSWORD, NEW_PASSWORD, *store.secrets):
        assert secret not in host.stderr()


def test_inheritance_through_the_real_host(host, store, relay):
    globex = Address("globex")
    with store.open() as s:
        s.put(
            globex,
            ResolvedSettings(host="127.0.0.1", port=relay.port, tls=True, username=USER, password=PASSWORD),
            expected_version=None,
            stack="prod",
            actor="ui",
        )
    host.configure(store.config(), secret_keys={"smtp-iac:storeKey"})
    u = urn("prod", INHERITANCE_TYPE, "partners/globex")
    news = {"address": "partners/globex", "stack": "prod", "__provider": serialize_provider(SmtpInheritanceProvider())}
    checked, failures = host.check(u, {}, news, {"__provider"})
    assert failures == []
    id_, outs = host.create(u, checked, {"__provider"})
    assert outs["override_present"] is False
    with store.open() as s:
        assert s.get(globex) is None
        s.put(
            globex,
            ResolvedSettings(host="localhost", port=relay.port, tls=True, username=USER, password=PASSWORD),
            expected_version=None,
            stack="other",
            actor="ui",
        )
    rid, routs, _ = host.read(u, id_, outs, checked, {"__provider"})
    assert rid == id_ and routs["override_present"] is True and routs["managed_by"] == "other"
    assert host.diff(u, id_, routs, checked).changes == provider_pb2.DiffResponse.DIFF_SOME
    with pytest.raises(HostError) as exc:  # another stack's override: refused without adopt
        host.update(u, id_, routs, checked)
    assert "OwnershipError" in exc.value.details and "smtp-iac:adopt" in exc.value.details
    host.delete(u, id_, routs)
    with store.open() as s:
        assert s.get(globex).managed_by == "other"


def test_host_without_store_config_uses_the_environment(tmp_path, store, relay, ca_file):
    """Config absent: SMTP_IAC_STORE / SMTP_IAC_STORE_KEY, read by the provider at run time."""
    from pulumi_engine import ProviderHost
    from pulumi_support import ROOT

    h = ProviderHost(ROOT, tmp_path / "stderr.log", env={"SMTP_IAC_STORE": store.url, "SMTP_IAC_STORE_KEY": store.key})
    try:
        h.configure({"smtp-iac:other": "x"})
        news = program_inputs(relay, ca_file, serialize_provider(SmtpSettingsProvider()))
        checked, _ = h.check(URN, {}, news)
        _id, outs = h.create(URN, checked)
        with store.open() as s:
            assert s.get(Address("acme")).version == outs["version"] == 1
    finally:
        h.close()
