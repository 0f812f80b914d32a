"""``smtp_iac.pulumi.reuse`` in-process: the store opened once per process (counted by the
registry), a failed open retried, a broken store reopened, and verify checks shared by key,
once even when asked concurrently, failures included, without the password in any key."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pulumi_support import PASSWORD, USER, configured
from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.errors import StoreError, UsageError
from smtp_iac.models import ResolvedSettings, VerifyOptions
from smtp_iac.pulumi.provider import SmtpInheritanceProvider, SmtpSettingsProvider
from smtp_iac.pulumi.reuse import STORES, StoreRegistry, VerifyCache, verify_key
from smtp_iac.store import generate_key
from smtp_iac.verify.result import Failure, Stage, VerifyResult, skipped

ACME = Address("acme")
SETTINGS = ResolvedSettings(host="Relay.example", port=587, tls=True, username=USER, password=SecretStr(PASSWORD))
LOGIN = VerifyOptions(mode="login")


def inputs(relay, ca_file, address="partners/acme", **over):
    d = {
        "address": address,
        "stack": "prod",
        "host": "127.0.0.1",
        "port": float(relay.port),
        "tls": True,
        "username": USER,
        "password": PASSWORD,
        "verify": {"mode": "login", "timeout_seconds": 10.0, "ca_file": str(ca_file)},
    }
    d.update(over)
    return d


def test_both_providers_share_one_store_for_every_call(any_store, relay, ca_file):
    before = STORES.opened
    p = configured(SmtpSettingsProvider, any_store.config())
    q = configured(SmtpInheritanceProvider, any_store.config())
    news = p.check({}, inputs(relay, ca_file)).inputs
    outs = p.create(news).outs
    assert not p.diff("partners/acme", outs, news).changes
    read = p.read("partners/acme", outs)
    outs = p.update("partners/acme", read.outs, news).outs
    p.delete("partners/acme", outs)
    ig = q.check({}, {"address": "partners/globex", "stack": "prod"}).inputs
    q.read("partners/globex", q.create(ig).outs)
    assert STORES.opened - before == 1, "one open for every call of both providers"
    assert relay.stats.sessions == 1, "the update's settings were checked by the create already"


def test_a_failed_open_is_not_kept_and_a_later_create_makes_the_store(tmp_path, relay, ca_file):
    db = tmp_path / "new" / "store.db"
    cfg = {"smtp-iac:store": f"sqlite:///{db}", "smtp-iac:storeKey": generate_key()}
    p = configured(SmtpSettingsProvider, cfg)
    news = p.check({}, inputs(relay, ca_file)).inputs
    olds = dict(news, password_fingerprint="hmac-sha256:0")
    before = STORES.opened
    for _ in range(2):  # preview: no store, and none made, every time
        with pytest.raises(StoreError, match="no store at"):
            p.diff("partners/acme", olds, news)
        assert not db.exists()
    with pytest.raises(StoreError, match="no store at"):
        p.read("partners/acme", olds)
    assert STORES.opened == before
    with pytest.raises(Exception, match="acme"):  # the new store has no tenants: but it exists now
        p.create(news)
    assert db.exists() and STORES.opened == before + 1
    assert p.diff("partners/acme", olds, news).changes
    assert STORES.opened == before + 1


def test_a_store_error_retires_the_store_and_the_next_call_reopens(tmp_path):
    reg = StoreRegistry()
    url, key = f"sqlite:///{tmp_path / 's.db'}", generate_key()
    with reg.use(url, key, create=True) as first, reg.use(url, key, create=False) as again:
        assert again is first
    with pytest.raises(StoreError), reg.use(url, key, create=False) as s:
        assert s is first
        raise StoreError("store sqlite:///s.db: disk I/O error")
    assert reg.open_count() == 0
    with pytest.raises(StoreError, match="closed"):
        first.schema_version()  # closed once its last user was done
    with reg.use(url, key, create=False) as second:
        assert second is not first and second.schema_version() > 0
    assert reg.opened == 2
    reg.close()
    with pytest.raises(StoreError):
        second.schema_version()


def test_idle_stores_beyond_the_limit_are_closed_least_recent_first(tmp_path):
    reg = StoreRegistry(max_idle=2)
    stores = []
    for name in "abc":
        with reg.use(f"sqlite:///{tmp_path / name}.db", generate_key(), create=True) as s:
            stores.append(s)
    assert reg.open_count() == 2
    with pytest.raises(StoreError):
        stores[0].schema_version()
    assert stores[2].schema_version() > 0
    reg.close()


def test_concurrent_first_calls_open_the_store_once(tmp_path):
    reg = StoreRegistry()
    url, key = f"sqlite:///{tmp_path / 's.db'}", generate_key()
    got: list[object] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        with reg.use(url, key, create=True) as s:
            got.append(s)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.opened == 1 and len({id(s) for s in got}) == 1
    reg.close()


# ----- verify -----------------------------------------------------------------------------


def test_verify_key_is_a_keyed_digest_that_tells_settings_apart(tmp_path):
    k = verify_key(SETTINGS, LOGIN, tmp_path)
    assert PASSWORD not in k and len(k) == 64
    same = SETTINGS.model_copy(update={"host": "relay.EXAMPLE "})
    assert verify_key(same, LOGIN, tmp_path) == k, "host case and blanks do not matter"
    for other in (
        SETTINGS.model_copy(update={"password": SecretStr("other")}),
        SETTINGS.model_copy(update={"port": 2525}),
        SETTINGS.model_copy(update={"username": "x"}),
        SETTINGS.model_copy(update={"tls_mode": "implicit"}),
        SETTINGS.model_copy(update={"sender": "a@b.example"}),
    ):
        assert verify_key(other, LOGIN, tmp_path) != k
    assert verify_key(SETTINGS, VerifyOptions(mode="login", timeout_seconds=3), tmp_path) != k
    assert verify_key(SETTINGS, LOGIN, tmp_path / "elsewhere") != k


def test_concurrent_checks_of_the_same_settings_run_once_and_share_a_failure(tmp_path):
    runs: list[Address] = []

    def slow_failing_check(settings, options, address, base_dir):
        runs.append(address)
        time.sleep(0.2)
        return VerifyResult(
            ok=False,
            address=address,
            mode="login",
            failure=Failure.AUTH_FAILED,
            stage=Stage.AUTH,
            detail="535 no",
            advice="check the password",
            elapsed_seconds=0.2,
        )

    cache = VerifyCache(slow_failing_check)
    results = {}
    addresses = [Address("acme", f"o{i}") for i in range(6)]

    def call(a: Address) -> None:
        results[a] = cache.verify(a, SETTINGS, LOGIN, tmp_path)

    threads = [threading.Thread(target=call, args=(a,)) for a in addresses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1 and cache.checks == 1
    assert {a: r.address for a, r in results.items()} == {a: a for a in addresses}, "reported per scope"
    assert {(r.ok, r.failure) for r in results.values()} == {(False, Failure.AUTH_FAILED)}
    assert PASSWORD not in repr(cache.__dict__)


def test_a_check_that_raises_is_not_kept(tmp_path):
    calls = []

    def check(settings, options, address, base_dir):
        calls.append(address)
        if len(calls) == 1:
            raise UsageError("cannot read verify.ca_file")
        return skipped(address)

    cache = VerifyCache(check)
    with pytest.raises(UsageError):
        cache.verify(ACME, SETTINGS, LOGIN, Path("."))
    assert cache.verify(ACME, SETTINGS, LOGIN, Path(".")).ok
    assert cache.verify(Address("acme", "x"), SETTINGS, LOGIN, Path(".")).ok
    assert len(calls) == 2
