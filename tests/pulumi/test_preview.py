"""``pulumi preview`` calls Check and Diff only (the dynamic host does not announce preview
support, so the engine never calls Create/Update during a preview). Through the real host:
no SMTP connection is opened and nothing is written to the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2
from pulumi_engine import UNKNOWN, urn
from pulumi_support import NEW_PASSWORD, inputs
from smtp_servers import silent_server

from smtp_iac.pulumi.provider import SmtpInheritanceProvider, SmtpSettingsProvider
from smtp_iac.pulumi.resources import INHERITANCE_TYPE, SETTINGS_TYPE

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def files_of(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_preview_opens_no_smtp_connection_and_writes_nothing(host, store, relay, ca_file):
    settings_provider = serialize_provider(SmtpSettingsProvider())
    resp = host.configure(store.config(), secret_keys={"smtp-iac:storeKey"})
    assert resp.supportsPreview is False, "so the engine previews with Check and Diff only"

    def props(address, **over):
        verify = {"mode": "send", "to": "ops@example.com", "from": "smtp-iac@example.com", "ca_file": str(ca_file)}
        return inputs(address, relay, ca_file, **{"verify": verify, "__provider": settings_provider, **over})

    # an earlier `pulumi up`: partners/acme exists
    acme = urn("prod", SETTINGS_TYPE, "partners/acme")
    checked, _ = host.check(acme, {}, props("partners/acme"))
    _, outs = host.create(acme, checked)
    assert relay.stats.sessions == 1

    with store.open():
        pass  # a checkpoint of the write-ahead log, so that only real writes change the files
    before_files = files_of(store.path.parent)
    before = store.snapshot()

    with silent_server() as raw:
        # the preview: changed password and host for the existing scope, a new scope whose host
        # is a listener that counts every TCP connection, an unknown value, and an inheritance
        news = props("partners/acme", password=NEW_PASSWORD)
        checked, failures = host.check(acme, outs, news)
        assert failures == []
        assert host.diff(acme, "partners/acme", outs, checked).changes == provider_pb2.DiffResponse.DIFF_SOME

        eu = urn("prod", SETTINGS_TYPE, "partners/acme/organizations/acme-eu")
        _checked_eu, failures = host.check(
            eu, {}, props("partners/acme/organizations/acme-eu", host="127.0.0.1", port=raw.port)
        )
        assert failures == []

        unknown, failures = host.check(acme, outs, props("partners/acme", host=UNKNOWN))
        assert failures == []
        assert host.diff(acme, "partners/acme", outs, unknown).changes == provider_pb2.DiffResponse.DIFF_SOME

        same, _ = host.check(acme, outs, props("partners/acme"))
        assert host.diff(acme, "partners/acme", outs, same).changes == provider_pb2.DiffResponse.DIFF_NONE

        globex = urn("prod", INHERITANCE_TYPE, "partners/globex")
        inh = {
            "address": "partners/globex",
            "stack": "prod",
            "__provider": serialize_provider(SmtpInheritanceProvider()),
        }
        assert host.check(globex, {}, inh)[1] == []
        assert raw.connections == 0, "no TCP connection to the new scope's host"

    assert relay.stats.sessions == 1 and relay.stats.auth_attempts == 1, "no SMTP session during preview"
    assert len(relay.messages) == 1, "only the earlier up sent its test message"
    assert store.snapshot() == before, "no record and no audit entry written"
    assert files_of(store.path.parent) == before_files, "store files byte for byte unchanged"
