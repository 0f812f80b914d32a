"""The native plugin (``pulumi-resource-smtp-iac``) as the engine drives it: started as a
process with the engine's address, its port read from stdout, every call over gRPC with
``pulumi.runtime.proto`` stubs; real SQLite and PostgreSQL stores and the settings service
behind it, real relays in front. State is kept as the engine keeps it (``SimulatedState``),
and searched, with every response and the plugin's log, for secrets."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2
from pulumi_engine import SECRET_SIG, SIG_KEY, UNKNOWN, HostError, ProviderHost, ResourceState, SimulatedState, urn
from pulumi_support import NEW_PASSWORD, PASSWORD, ROOT, USER

from smtp_iac import __version__
from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = [pytest.mark.timeout(180)]

SETTINGS = "smtp-iac:index:SmtpSettings"
INHERITANCE = "smtp-iac:index:SmtpInheritance"
EFFECTIVE = "smtp-iac:index:getEffectiveSettings"
ADDRESS = "partners/acme"
URN = urn("prod", SETTINGS, "acme")
OWNER = "pulumi/smtp-iac/prod"  # the default owner: pulumi/<project>/<stack> from the URN
SECRET = {"password"}
NONE = provider_pb2.DiffResponse.DIFF_NONE
SOME = provider_pb2.DiffResponse.DIFF_SOME


def plugin_command() -> list[str]:
    """The console script installed beside this interpreter, given the engine's address."""
    exe = shutil.which("pulumi-resource-smtp-iac", path=str(Path(sys.executable).parent))
    assert exe, "pulumi-resource-smtp-iac is installed with smtp-iac (pyproject [project.scripts])"
    return [exe, "127.0.0.1:1"]


@pytest.fixture
def plugin(tmp_path: Path):
    p = ProviderHost(tmp_path, tmp_path / "plugin-stderr.log", command=plugin_command())
    try:
        yield p
    finally:
        p.close()


def config_of(store, ca_file: Path, *, as_text: bool = True, **extra) -> tuple[dict, set[str]]:
    """Provider config as the engine sends it to Configure: ``verify`` as JSON text (stack
    config, the SDKs) or as an object (a Pulumi YAML provider resource)."""
    verify = {"mode": "login", "timeoutSeconds": 10, "caFile": str(ca_file)}
    cfg = {"store": store.url, "verify": json.dumps(verify) if as_text else verify, **extra}
    if store.token:
        cfg["token"] = store.token
        return cfg, {"token"}
    cfg["storeKey"] = store.key
    return cfg, {"storeKey"}


def settings_inputs(relay, **over) -> dict:
    d = {"address": ADDRESS, "host": "127.0.0.1", "port": relay.port, "tls": True, "username": USER}
    d["password"] = PASSWORD
    d.update(over)
    return d


def unwrap(value):
    """A secret's value (and whether it was marked secret)."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return value["value"], True
    return value, False


def test_plugin_starts_as_the_engine_starts_it_and_serves_its_schema(plugin):
    assert plugin.plugin_info() == __version__
    served = json.loads(plugin.schema())
    assert served == json.loads((ROOT / "schemas" / "pulumi-schema.json").read_text())
    assert set(served["resources"]) == {SETTINGS, INHERITANCE} and EFFECTIVE in served["functions"]


def test_plugin_without_engine_address_says_what_it_is(tmp_path):
    import subprocess

    done = subprocess.run(plugin_command()[:1], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Pulumi engine starts it" in done.stderr and "Traceback" not in done.stderr


def test_check_config_names_each_bad_key(plugin, store, ca_file):
    failures = plugin.check_config(
        "urn:pulumi:prod::smtp-iac::pulumi:providers:smtp-iac::default",
        {"store": store.url, "verify": '{"mode": "sned"}', "owner": "bad owner!", "stroe": "x"},
    )
    assert {p for p, _ in failures} == {"verify", "owner", "stroe"}
    assert plugin.check_config("urn:x", {"store": store.url, "verify": json.dumps({"mode": "off"})}) == []
    with pytest.raises(HostError) as exc:  # Configure itself refuses what CheckConfig would have
        plugin.configure({"store": store.url, "verify": "{not json"})
    assert (
        exc.value.code == grpc.StatusCode.INVALID_ARGUMENT and "smtp-iac:verify is not valid JSON" in exc.value.details
    )
    assert "Traceback" not in exc.value.details


def test_full_lifecycle_through_the_plugin(plugin, any_store, relay, ca_file, tmp_path):
    store = any_store
    state = SimulatedState(tmp_path / "stack-state.json")
    seen: list[str] = []  # every response, searched for secrets at the end
    cfg, secret_cfg = config_of(store, ca_file)
    resp = plugin.configure(cfg, secret_cfg)
    assert resp.acceptSecrets and resp.supportsPreview

    # Check: one failure per bad field, an unknown property named, unknowns (preview) let through
    _, failures = plugin.check(
        URN, {}, settings_inputs(relay, host="smtp://x y", port=465, tls=False, stak="x"), SECRET
    )
    assert {p for p, _ in failures} == {"host", "port", "stak"}
    checked, failures = plugin.check(URN, {}, settings_inputs(relay, host=UNKNOWN, password=UNKNOWN), SECRET)
    assert failures == [] and checked["host"] == UNKNOWN
    checked, failures = plugin.check(URN, {}, settings_inputs(relay), SECRET)
    assert failures == [] and checked["port"] == relay.port and unwrap(checked["password"]) == (PASSWORD, True)
    news = settings_inputs(relay)

    # Create in preview: the record's facts unknown, no store write, no SMTP connection
    before = store.snapshot()
    pid, pouts = plugin.create(URN, news, SECRET, preview=True)
    assert pid == "" and pouts["version"] == UNKNOWN and pouts["managedBy"] == OWNER
    assert store.snapshot() == before and relay.stats.sessions == 0

    # Create: a real SMTP login, then the compare-and-swap write
    id_, outs = plugin.create(URN, news, SECRET)
    seen.append(json.dumps(outs))
    assert id_ == ADDRESS and relay.stats.auth_attempts == 1
    assert unwrap(outs["password"]) == (PASSWORD, True), "the password output stays secret"
    assert (outs["version"], outs["managedBy"]) == (1, OWNER)
    assert outs["passwordFingerprint"] == store.shown_fingerprint(Address("acme"), PASSWORD)
    state.record(ResourceState(URN, SETTINGS, id_, news, outs, SECRET, SECRET))
    with store.open() as s:
        assert s.get(Address("acme")).managed_by == OWNER

    assert plugin.diff(URN, id_, outs, news, SECRET).changes == NONE

    # an out-of-band change: refresh reports it, the password by fingerprint
    with store.open() as s:
        s.put(
            Address("acme"),
            ResolvedSettings(host="localhost", port=relay.port, tls=True, username=USER, password=NEW_PASSWORD),
            expected_version=1,
            stack=OWNER,
            actor="ui",
        )
    rid, routs, rinputs = plugin.read(URN, id_, outs, news, SECRET)
    seen.append(json.dumps([routs, rinputs]))
    assert rid == id_ and (routs["host"], routs["version"]) == ("localhost", 2)
    assert routs["passwordFingerprint"] == store.shown_fingerprint(Address("acme"), NEW_PASSWORD)
    assert rinputs["host"] == "localhost" and unwrap(rinputs["password"]) == (PASSWORD, True)
    diff = plugin.diff(URN, id_, routs, news, SECRET)
    assert diff.changes == SOME and set(diff.diffs) == {"host", "password"} and list(diff.replaces) == []

    # a stale update is refused with the refresh advice; the current one goes through
    with pytest.raises(HostError) as exc:
        plugin.update(URN, id_, outs, dict(news, sender="x@acme.example"), SECRET)
    assert exc.value.code == grpc.StatusCode.FAILED_PRECONDITION and "pulumi refresh" in exc.value.details
    assert "Traceback" not in exc.value.details
    upre = plugin.update(URN, id_, routs, news, SECRET, preview=True)
    assert upre["version"] == UNKNOWN and store.snapshot()[0][0]["host"] == "localhost"
    uouts = plugin.update(URN, id_, routs, news, SECRET)
    seen.append(json.dumps(uouts))
    assert (uouts["host"], uouts["version"]) == ("127.0.0.1", 3)
    state.record(ResourceState(URN, SETTINGS, id_, news, uouts, SECRET, SECRET))

    # import: Read with only an id gives the inputs without a password, and the outputs;
    # the user's own password is then no change, a different one is
    iid, iouts, iinputs = plugin.read(URN, ADDRESS, {}, {})
    seen.append(json.dumps([iouts, iinputs]))
    assert iid == ADDRESS and "password" not in iinputs and "password" not in iouts
    assert iinputs == {k: v for k, v in news.items() if k != "password"}
    assert iouts["version"] == 3 and iouts["passwordFingerprint"] == uouts["passwordFingerprint"]
    assert plugin.diff(URN, iid, iouts, news, SECRET).changes == NONE
    assert list(plugin.diff(URN, iid, iouts, dict(news, password=NEW_PASSWORD), SECRET).diffs) == ["password"]
    with pytest.raises(HostError) as exc:
        plugin.read(URN, "partners/globex", {}, {})
    assert "nothing to import" in exc.value.details

    # the effective settings of an organization: the partner's record, never a password
    result, failures = plugin.invoke(EFFECTIVE, {"organization": "acme/acme-eu"})
    seen.append(json.dumps(result))
    assert failures == [] and (result["source"], result["tier"], result["host"]) == (ADDRESS, "partner", "127.0.0.1")
    assert result["chain"] == ["partners/acme/organizations/acme-eu", ADDRESS]
    with pytest.raises(HostError) as exc:
        plugin.invoke(EFFECTIVE, {"organization": "nobody/none"})
    assert exc.value.code == grpc.StatusCode.NOT_FOUND

    # Delete removes this owner's override; a refresh then finds it gone (empty id)
    plugin.delete(URN, id_, uouts, SECRET)
    with store.open() as s:
        assert s.get(Address("acme")) is None
    assert plugin.read(URN, id_, uouts, news, SECRET)[0] == ""
    state.forget(URN)

    text = "\n".join([state.text(), *seen, plugin.stderr()])
    for secret in (NEW_PASSWORD, *store.secrets):
        assert secret not in text
    assert PASSWORD not in plugin.stderr() and PASSWORD not in state.text()
    assert store.marker not in state.text(), "the store URL is never in state"


def test_a_failed_check_writes_nothing_and_names_the_failure(plugin, store, relay, ca_file):
    plugin.configure(*config_of(store, ca_file))
    before = store.snapshot()
    with pytest.raises(HostError) as exc:
        plugin.create(URN, settings_inputs(relay, password="wrong-" + PASSWORD), SECRET)
    details = exc.value.details
    assert exc.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "verify failed (auth" in details and "hint:" in details and "Traceback" not in details
    assert PASSWORD not in details and PASSWORD not in plugin.stderr()
    records, audit = store.snapshot()
    assert records == before[0] and audit[-1]["outcome"] == "verify_failed"


def test_another_owner_is_refused_unless_adopting(tmp_path, store, relay, ca_file):
    with store.open() as s:
        s.put(
            Address("acme"),
            ResolvedSettings(host="127.0.0.1", port=relay.port, tls=True, username=USER, password=PASSWORD),
            expected_version=None,
            stack="prod",
            actor="ui",
        )
    for adopt, refused in ((False, True), (True, False)):
        p = ProviderHost(tmp_path, tmp_path / f"stderr-{adopt}.log", command=plugin_command())
        try:
            cfg, secret = config_of(store, ca_file, as_text=False, adopt=str(adopt).lower(), owner="team-mail")
            p.configure(cfg, secret)
            if refused:
                with pytest.raises(HostError) as exc:
                    p.create(URN, settings_inputs(relay), SECRET)
                assert "managed by stack 'prod'" in exc.value.details and "smtp-iac:adopt" in exc.value.details
            else:
                _, outs = p.create(URN, settings_inputs(relay), SECRET)
                assert outs["managedBy"] == "team-mail" and outs["version"] == 2
                assert relay.stats.auth_attempts == 1, "verify given as an object: the login check ran"
        finally:
            p.close()


def test_inheritance_removes_an_override_and_reports_one_that_appears(plugin, store, relay, ca_file):
    globex = Address("globex")

    def put(stack: str, version: int | None) -> None:
        with store.open() as s:
            s.put(
                globex,
                ResolvedSettings(host="127.0.0.1", port=relay.port, tls=True, username=USER, password=PASSWORD),
                expected_version=version,
                stack=stack,
                actor="ui",
            )

    put(OWNER, None)
    plugin.configure(*config_of(store, ca_file))
    u = urn("prod", INHERITANCE, "globex")
    checked, failures = plugin.check(u, {}, {"address": "partners/globex"})
    assert failures == []
    _, pouts = plugin.create(u, checked, preview=True)
    assert pouts["removedVersion"] == UNKNOWN and store.snapshot()[0] != []
    id_, outs = plugin.create(u, checked)
    assert outs == {"address": "partners/globex", "removedVersion": 1, "overridePresent": False}
    put("someone-else", None)
    rid, routs, _ = plugin.read(u, id_, outs, checked)
    assert rid == id_ and routs["overridePresent"] is True
    assert plugin.diff(u, id_, routs, checked).changes == SOME
    with pytest.raises(HostError) as exc:  # another owner's override: refused without adopt
        plugin.update(u, id_, routs, checked)
    assert "managed by stack 'someone-else'" in exc.value.details
    plugin.delete(u, id_, routs)  # stopping to manage an absence changes nothing
    with store.open() as s:
        assert s.get(globex).managed_by == "someone-else"


@pytest.mark.parametrize(
    "news",
    [
        {"address": "partners/ACME!", "host": "h", "port": 587, "tls": True, "username": "u", "password": "p"},
        {"address": ADDRESS, "host": "h", "port": "587", "tls": "yes", "username": 7, "password": ["p"]},
        {"address": ADDRESS, "host": "h" * 300, "port": 70000.5, "tls": True, "username": "u", "password": "a\r\nb"},
        {"address": {"nested": [1, 2]}, "verify": {"mode": "send"}},
        {},
    ],
)
def test_hostile_inputs_get_check_failures_not_crashes(plugin, store, ca_file, news):
    plugin.configure(*config_of(store, ca_file))
    _, failures = plugin.check(URN, {}, news)
    assert failures and all(reason for _, reason in failures)


def test_unknown_types_and_functions_are_clear_errors(plugin, store, ca_file):
    plugin.configure(*config_of(store, ca_file))
    with pytest.raises(HostError) as exc:
        plugin.check(urn("prod", "smtp-iac:index:Nope", "x"), {}, {"address": ADDRESS})
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT and "no resource type" in exc.value.details
    with pytest.raises(HostError) as exc:
        plugin.invoke("smtp-iac:index:nope", {})
    assert "no function" in exc.value.details
    _, failures = plugin.invoke(EFFECTIVE, {})
    assert [p for p, _ in failures] == ["organization"]
