"""Performance at scale through the SDK's real dynamic provider host: one store per host process, one SMTP
session per distinct relay and credentials per run, as ``smtp-iac apply`` does.

Sessions and AUTHs are counted by the aiosmtpd relays (``SessionStats``); the store is proved
opened once by the host process's own resources: on PostgreSQL the backends named by a unique
``application_name`` in ``pg_stat_activity`` (one, the same backend pid for every call), on
SQLite the host's file descriptors on the database file (``/proc/PID/fd``: one, the same
descriptor for every call)."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2
from pulumi_engine import HostError, ProviderHost, urn
from pulumi_support import PASSWORD, ROOT, USER, StoreInfo, inputs
from smtp_servers import smtp_server

from smtp_iac.pulumi.provider import SmtpInheritanceProvider
from smtp_iac.pulumi.resources import INHERITANCE_TYPE, SETTINGS_TYPE
from smtp_iac.pulumi.reuse import POOLED_PLUGIN
from smtp_iac.store import open_store

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

ORGS = [f"org-{i:02d}" for i in range(12)]
MANY = {"partners": {"acme": {"organizations": {o: {"smtp_enabled": True} for o in ORGS}}}}
SECRET = {"password", "__provider"}


def org_address(org: str) -> str:
    return f"partners/acme/organizations/{org}"


@pytest.fixture
def many(any_store: StoreInfo) -> StoreInfo:
    with any_store.open() as s:
        s.load_tenants(MANY, actor="test")
    return any_store


def new_host(tmp_path: Path, store: StoreInfo) -> ProviderHost:
    h = ProviderHost(ROOT, tmp_path / f"stderr-{uuid.uuid4().hex[:6]}.log")
    h.configure(store.config(), secret_keys=store.secret_keys)
    return h


def create_all(h: ProviderHost, addresses, relay, ca_file, **over) -> dict[str, dict]:
    outs = {}
    for a in addresses:
        u = urn("prod", SETTINGS_TYPE, a)
        checked, failures = h.check(u, {}, inputs(a, relay, ca_file, **over), SECRET)
        assert failures == []
        _id, outs[a] = h.create(u, checked, SECRET)
    return outs


def test_creates_and_updates_sharing_one_relay_make_one_session_per_run(tmp_path, many, relay, ca_file):
    addresses = [org_address(o) for o in ORGS]
    h = new_host(tmp_path, many)
    try:
        outs = create_all(h, addresses, relay, ca_file)
        assert {o["version"] for o in outs.values()} == {1}
    finally:
        h.close()
    assert (relay.stats.sessions, relay.stats.auth_attempts) == (1, 1), "12 creates, one relay: one check"

    # the next run (a new host process): 12 updates (a new sender) make one session again
    h = new_host(tmp_path, many)
    try:
        for a in addresses:
            u = urn("prod", SETTINGS_TYPE, a)
            news, _ = h.check(u, {}, inputs(a, relay, ca_file, sender="no-reply@acme.example"), SECRET)
            diff = h.diff(u, a, outs[a], news, SECRET)
            assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
            assert h.update(u, a, outs[a], news, SECRET)["version"] == 2
    finally:
        h.close()
    assert (relay.stats.sessions, relay.stats.auth_attempts) == (2, 2)
    with many.open() as s:
        for a in addresses:
            entries = [(e.action, e.outcome) for e in s.audit_log() if e.address == a]
            assert entries == [("create", "ok"), ("update", "ok")], a


def test_two_relays_make_two_sessions(tmp_path, many, relay, ca, ca_file):
    with smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}) as other:
        h = new_host(tmp_path, many)
        try:
            create_all(h, [org_address(o) for o in ORGS[:6]], relay, ca_file)
            create_all(h, [org_address(o) for o in ORGS[6:]], other, ca_file)
        finally:
            h.close()
        assert (relay.stats.sessions, relay.stats.auth_attempts) == (1, 1)
        assert (other.stats.sessions, other.stats.auth_attempts) == (1, 1)


def test_a_failing_relay_fails_each_resource_and_audits_each(tmp_path, many, ca, ca_file):
    addresses = [org_address(o) for o in ORGS[:5]]
    with smtp_server(tls="starttls", ca=ca, users={USER: "another-password"}) as bad:
        h = new_host(tmp_path, many)
        try:
            for a in addresses:
                u = urn("prod", SETTINGS_TYPE, a)
                checked, _ = h.check(u, {}, inputs(a, bad, ca_file), SECRET)
                with pytest.raises(HostError) as exc:
                    h.create(u, checked, SECRET)
                assert "VerifyFailed" in exc.value.details and "auth_failed" in exc.value.details
                assert PASSWORD not in exc.value.details
            assert PASSWORD not in h.stderr()
        finally:
            h.close()
        # one check for the five, shared within the run (smtplib's login tries a second
        # mechanism after the relay refuses the first: two AUTH commands, one session)
        assert (bad.stats.sessions, bad.stats.auth_attempts) == (1, 2)
    with many.open() as s:
        assert s.list_records() == []
        for a in addresses:
            entries = [(e.action, e.outcome, e.detail) for e in s.audit_log() if e.address == a]
            assert len(entries) == 1 and entries[0][:2] == ("create", "verify_failed"), a
            assert entries[0][2].startswith("auth_failed")


def test_concurrent_creates_wait_for_one_check(tmp_path, many, relay, ca, ca_file):
    with smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}) as other:
        h = new_host(tmp_path, many)
        try:
            jobs = [(org_address(o), relay if i % 2 else other) for i, o in enumerate(ORGS)]
            checked = {}
            for a, r in jobs:
                checked[a], _ = h.check(urn("prod", SETTINGS_TYPE, a), {}, inputs(a, r, ca_file), SECRET)
            with ThreadPoolExecutor(len(jobs)) as pool:  # the engine issues steps in parallel
                results = list(pool.map(lambda a: h.create(urn("prod", SETTINGS_TYPE, a), checked[a], SECRET), checked))
        finally:
            h.close()
        assert [id_ for id_, _ in results] == list(checked)
        assert (relay.stats.sessions, relay.stats.auth_attempts) == (1, 1)
        assert (other.stats.sessions, other.stats.auth_attempts) == (1, 1)
    with many.open() as s:
        assert len(s.list_records()) == len(ORGS)


# ----- the store: opened once per host process ----------------------------------------------


def _pg_backends(dsn: str, app: str) -> list[int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)).fetchall()
    return sorted(r[0] for r in rows)


def _db_fds(pid: int, db: Path) -> list[str]:
    fd_dir = Path(f"/proc/{pid}/fd")
    found = []
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(fd_dir / fd) == str(db):
                found.append(fd)
        except OSError:
            continue
    return sorted(found)


def test_the_store_is_opened_once_per_host_process(tmp_path, many, relay, ca_file):
    if many.token:
        pytest.skip("counts database connections; through the settings service the host holds none")
    if many.path is None:  # PostgreSQL: name this test's connections
        from pg_support import pg_dsn

        app = f"smtp_iac_t_{uuid.uuid4().hex[:10]}"
        store = StoreInfo(f"{many.url}&application_name={app}", many.key, None, many.marker)

        def connections() -> list:
            return _pg_backends(pg_dsn(), app)
    else:
        store = many
        if not Path("/proc/self/fd").is_dir():
            pytest.skip("counts the host's file descriptors through /proc")

    expected = 1  # PostgreSQL: the pool opens its connections as threads need them (one here)
    h = new_host(tmp_path, store)
    if many.path is not None:
        db = many.path
        with open_store(many.url, key=many.key, limits=POOLED_PLUGIN) as opened:
            expected = opened.connections  # SQLite: the host's store holds them all, from its first use

        def connections() -> list:
            return _db_fds(h.proc.pid, db)

    seen: list[list] = []
    try:
        assert connections() == [], "Configure opens nothing"
        outs = {}
        for o in ORGS[:4]:
            a = org_address(o)
            u = urn("prod", SETTINGS_TYPE, a)
            news, _ = h.check(u, {}, inputs(a, relay, ca_file), SECRET)
            _id, outs[a] = h.create(u, news, SECRET)
            seen.append(connections())
            assert h.diff(u, a, outs[a], news, SECRET).changes == provider_pb2.DiffResponse.DIFF_NONE
            seen.append(connections())
            h.read(u, a, outs[a], news, SECRET)
            seen.append(connections())
        gone = org_address(ORGS[0])
        h.delete(urn("prod", SETTINGS_TYPE, gone), gone, outs[gone], SECRET)
        seen.append(connections())
        inherit = {"address": org_address(ORGS[5]), "stack": "prod"}
        inherit["__provider"] = serialize_provider(SmtpInheritanceProvider())
        iu = urn("prod", INHERITANCE_TYPE, inherit["address"])
        h.create(iu, h.check(iu, {}, inherit, {"__provider"})[0], {"__provider"})
        seen.append(connections())
    finally:
        h.close()
    assert len(seen[0]) == expected, seen
    assert all(c == seen[0] for c in seen), f"one store's connections served every call of both providers: {seen}"
