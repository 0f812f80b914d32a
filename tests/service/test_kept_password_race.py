"""A kept password is read together with the version of the record its relay was compared
with: a write that lands in between makes the request a conflict (412), so a stored password
never goes to a relay it was not saved for (found by a test helper: before, test-email sent
the NEW record's password to the OLD record's host)."""

from __future__ import annotations

from pydantic import SecretStr
from service_support import ACME, Svc, relay_settings

from smtp_iac.errors import ConflictError


def test_reveal_password_refuses_a_record_that_moved(svc: Svc) -> None:
    v = svc.store.get(ACME).version
    assert svc.store.reveal_password(ACME, version=v).get_secret_value()
    svc.store.put(ACME, relay_settings(svc.relay), expected_version=v, stack=None, actor="race")
    try:
        svc.store.reveal_password(ACME, version=v)
    except ConflictError as e:
        assert (e.expected, e.actual) == (v, v + 1)
    else:
        raise AssertionError("the password of a record that moved was revealed")


def test_a_write_between_compare_and_reveal_is_a_conflict(svc: Svc, monkeypatch) -> None:
    store = svc.app.state.ctx.store._store  # the service's own store (inside its timing wrapper)
    real = store.reveal_password
    moved = []

    def racing(address, *, version=None):  # another writer lands just before the read
        if not moved:
            moved.append(True)
            live = store.get(address)
            store.put(
                address,
                relay_settings(svc.relay, host="localhost", password="NEW-pw-7!"),
                expected_version=live.version,
                stack=None,
                actor="racer",
            )
        return real(address, version=version)

    monkeypatch.setattr(store, "reveal_password", racing)
    body = {"settings": {"host": "127.0.0.1", "port": svc.relay.port, "tls": True, "username": "relay-user"}}
    auth = svc.relay.stats.auth_attempts
    with svc.client("partner-admin") as c:
        r = c.post(f"/v1/scopes/{ACME}/test-email", json=body)
    assert moved and r.status_code == 412 and r.json()["kind"] == "conflict", r.text
    assert svc.relay.stats.auth_attempts == auth  # nothing was sent anywhere
    assert "NEW-pw-7!" not in r.text
    assert isinstance(real(ACME), SecretStr)
