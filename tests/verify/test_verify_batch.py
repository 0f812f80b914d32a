"""Many scopes, few relays: identical settings are checked once (sessions counted at the
server), distinct ones concurrently under the bound (concurrent sessions counted at the server)."""

from __future__ import annotations

import threading

import pytest
import smtp_servers
from smtp_servers import TEST_PASSWORD

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.errors import UsageError
from smtp_iac.verify import verify_many

pytestmark = pytest.mark.timeout(120)


def scopes(n: int) -> list[Address]:
    out = [CONTROLLER]
    p = 0
    while len(out) < n:
        out.append(Address(f"p{p}"))
        for o in range(9):
            if len(out) < n:
                out.append(Address(f"p{p}", f"o{o}"))
        p += 1
    return out


def test_500_scopes_sharing_3_settings_make_exactly_3_sessions(smtp_server, settings, options):
    users = {"alpha": TEST_PASSWORD, "beta": TEST_PASSWORD, "gamma": TEST_PASSWORD}
    with smtp_server(tls="starttls", users=users) as srv:
        distinct = [settings(srv.port, username=u) for u in users]
        addresses = scopes(500)
        items = [(a, distinct[i % 3]) for i, a in enumerate(addresses)]
        seen: list[Address] = []
        results = verify_many(items, options("send"), concurrency=8, on_result=lambda r: seen.append(r.address))
        assert smtp_servers.wait_for(lambda: srv.stats.active == 0)

    assert srv.stats.sessions == 3
    assert srv.stats.auth_attempts == 3
    assert len(srv.messages) == 3
    assert sorted(m.auth_login for m in srv.messages) == ["alpha", "beta", "gamma"]
    assert list(results) == addresses  # input order
    assert sorted(seen) == sorted(addresses)  # one callback per address
    assert all(r.ok for r in results.values())
    assert all(results[a].address == a for a in addresses)
    # each message names the first scope of its group, and says how many more share it
    subjects = sorted(m.message["Subject"] for m in srv.messages)
    assert subjects == sorted(f"smtp-iac test email for {a}" for a in addresses[:3])
    assert all("more scope(s)" in m.message.get_content() for m in srv.messages)


def test_a_failure_is_shared_by_exactly_the_scopes_with_those_settings(starttls_server, settings, options):
    good = settings(starttls_server.port)
    bad = settings(starttls_server.port, password="not-the-password")
    items = [(Address.parse(f"partners/p{i}"), good if i % 2 else bad) for i in range(40)]
    results = verify_many(items, options("login"))
    assert starttls_server.stats.sessions == 2
    for i in range(40):
        r = results[Address.parse(f"partners/p{i}")]
        assert r.ok == bool(i % 2)
        if not r.ok:
            assert r.failure == "auth_failed" and r.address == Address.parse(f"partners/p{i}")


def test_host_case_and_implied_tls_mode_do_not_split_a_group(starttls_server, settings, options):
    a = settings(starttls_server.port, host="127.0.0.1", tls_mode=None)  # 587-rule default: starttls
    b = settings(starttls_server.port, host="127.0.0.1", tls_mode="starttls")
    verify_many([(Address.parse("partners/a"), a), (Address.parse("partners/b"), b)], options("login"))
    assert starttls_server.stats.sessions == 1


@pytest.mark.parametrize("bound", [1, 3])
def test_concurrency_bound_is_respected(bound, smtp_server, settings, options):
    # The server holds each new session until `bound` are open at once, so reaching the bound
    # does not depend on timing; exceeding it would be the bug.
    users = {f"user{i}": TEST_PASSWORD for i in range(12)}
    with smtp_server(tls="none", users=users, gather=bound, hold_seconds=0.05) as srv:
        items = [(Address.parse(f"partners/p{i}"), settings(srv.port, "none", username=u)) for i, u in enumerate(users)]
        results = verify_many(items, options("login", timeout_seconds=10), concurrency=bound)
    assert all(r.ok for r in results.values()), [r.detail for r in results.values() if not r.ok]
    assert srv.stats.sessions == 12
    assert srv.stats.max_active == bound


def test_default_concurrency_is_8(smtp_server, settings, options):
    users = {f"user{i}": TEST_PASSWORD for i in range(16)}
    with smtp_server(tls="none", users=users, gather=8, hold_seconds=0.05) as srv:
        items = [(Address.parse(f"partners/p{i}"), settings(srv.port, "none", username=u)) for i, u in enumerate(users)]
        verify_many(items, options("login", timeout_seconds=10))
    assert srv.stats.max_active == 8


def test_on_result_is_called_in_the_calling_thread_as_results_come(starttls_server, settings, options):
    threads = set()
    items = [
        (Address.parse("controller"), settings(starttls_server.port)),
        (Address.parse("partners/x"), settings(smtp_servers.closed_port())),
    ]
    verify_many(items, options("login"), on_result=lambda r: threads.add(threading.get_ident()))
    assert threads == {threading.get_ident()}


def test_mode_off_makes_no_connection(starttls_server, settings, options):
    items = [(Address.parse(f"partners/p{i}"), settings(starttls_server.port)) for i in range(5)]
    results = verify_many(items, options("off"))
    assert all(r.ok and r.skipped for r in results.values())
    assert list(results) == [a for a, _ in items]
    assert starttls_server.stats.sessions == 0


def test_unreadable_ca_file_is_a_usage_error_before_any_connection(starttls_server, settings, options, tmp_path):
    items = [(Address.parse("controller"), settings(starttls_server.port))]
    with pytest.raises(UsageError) as err:
        verify_many(items, options("login", ca_file=str(tmp_path / "missing.pem")))
    assert "verify.ca_file" in err.value.message
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with pytest.raises(UsageError):
        verify_many(items, options("login", ca_file=str(not_pem)))
    assert starttls_server.stats.sessions == 0


def test_empty_input(options):
    assert verify_many([], options("login")) == {}
