"""The dynamic provider host (``python -m pulumi.dynamic``, driven over gRPC as the engine
drives it) on a PostgreSQL store whose connections the server terminates between calls (a
restart, a failover): the host's pooled store replaces them, and the next create, read and
update succeed in the same host process, each applied once."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from pg_support import fresh_schema
from pulumi_engine import ProviderHost, urn
from pulumi_support import ROOT, TENANTS, StoreInfo, inputs

from smtp_iac.addresses import Address
from smtp_iac.pulumi.resources import SETTINGS_TYPE
from smtp_iac.store import generate_key

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

SECRET = {"password", "__provider"}
ACME_EU = "partners/acme/organizations/acme-eu"


def terminate(dsn: str, app: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchall()
    return len(rows)


def test_terminated_connections_cost_the_host_nothing(tmp_path, relay, ca_file):
    with fresh_schema() as (url, dsn, schema):
        app = f"smtp_iac_t_{uuid.uuid4().hex[:10]}"
        info = StoreInfo(f"{url}&application_name={app}", generate_key(), None, schema)
        with info.open() as s:
            s.load_tenants(TENANTS, actor="test")
        host = ProviderHost(ROOT, tmp_path / "stderr.log")
        host.configure(info.config(), secret_keys=info.secret_keys)
        try:
            u = urn("prod", SETTINGS_TYPE, ACME_EU)
            props = inputs(ACME_EU, relay, ca_file)
            news, failures = host.check(u, {}, props, SECRET)
            assert failures == []
            _id, outs = host.create(u, news, SECRET)
            assert terminate(dsn, app) >= 1
            assert host.read(u, ACME_EU, outs, news, SECRET)[1]["version"] == 1
            assert terminate(dsn, app) >= 1
            changed, _ = host.check(u, news, {**props, "sender": "ops@example.com"}, SECRET)
            updated = host.update(u, ACME_EU, outs, changed, SECRET)
            assert updated["version"] == 2
        finally:
            host.close()
        with info.open() as s:
            record = s.get(Address.parse(ACME_EU))
            assert record is not None and record.version == 2 and record.sender == "ops@example.com"
            oks = [e for e in s.audit_log(address=Address.parse(ACME_EU)) if e.outcome == "ok"]
            assert [e.action for e in oks] == ["create", "update"]
