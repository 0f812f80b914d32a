"""Relay health through the service (SPEC "Relay health"): ``POST /v1/health/checks``,
``GET /v1/health`` and ``/metrics`` with every role, and the background run of
``serve --health-interval`` with two instances on one store, all real: uvicorn on loopback,
SQLite and PostgreSQL stores, three aiosmtpd relays (STARTTLS, implicit TLS, and one that
refuses the login).

The platform: acme's blue and green (switched off: it inherits acme's record) and globex's two
organizations (no records: the controller's) on relay A, acme's red on relay C (which refuses
the login), initech's hq on relay B. Five records, three distinct settings: three checks.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_service import ServerThread
from prometheus_client.parser import text_string_to_metric_families
from service_support import config_for, relay_settings
from smtp_servers import TEST_PASSWORD, SmtpServer, smtp_server

from smtp_iac.addresses import Address
from smtp_iac.cli.app import run as cli_run
from smtp_iac.service import server
from smtp_iac.service.app import create_app
from smtp_iac.service.config import RateLimit, parse_networks
from smtp_iac.store import Store, open_store
from smtp_iac.tokens import Role, new_token

TENANTS = {
    "partners": {
        "acme": {
            "organizations": {
                "blue": {"smtp_enabled": True},
                "green": {"smtp_enabled": False},
                "red": {"smtp_enabled": True},
            }
        },
        "initech": {"organizations": {"hq": {"smtp_enabled": True}}},
        "globex": {"organizations": {"one": {"smtp_enabled": True}, "two": {"smtp_enabled": True}}},
    }
}
CONTROLLER, ACME, INITECH = Address(), Address("acme"), Address("initech")
BLUE, GREEN, RED = Address("acme", "blue"), Address("acme", "green"), Address("acme", "red")
HQ = Address("initech", "hq")
RED_PASSWORD = "Red-9vQ!unique-refused-health-password"
PASSWORDS = (TEST_PASSWORD, RED_PASSWORD)

TOKENS: dict[str, tuple[Role, str | None, str | None]] = {
    "sysadmin": (Role.SYSADMIN, None, None),
    "viewer": (Role.VIEWER, None, None),
    "mailer": (Role.MAILER, None, None),
    "partner-admin": (Role.PARTNER_ADMIN, "acme", None),
    "org-admin": (Role.ORG_ADMIN, None, str(BLUE)),
    "org-admin-green": (Role.ORG_ADMIN, None, str(GREEN)),
}


@pytest.fixture
def relays(ca) -> Iterator[tuple[SmtpServer, SmtpServer, SmtpServer]]:
    with (
        smtp_server(tls="starttls", ca=ca) as a,
        smtp_server(tls="implicit", ca=ca) as b,
        smtp_server(tls="starttls", ca=ca, users={"someone-else": "not-ours"}) as c,
    ):
        yield a, b, c


def seed(store: Store, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> dict[str, str]:
    store.load_tenants(TENANTS)
    for address in (CONTROLLER, ACME, BLUE):
        store.put(address, relay_settings(a), expected_version=None, stack=None, actor="seed")
    store.put(INITECH, relay_settings(b, tls_mode="implicit"), expected_version=None, stack=None, actor="seed")
    store.put(RED, relay_settings(c, RED_PASSWORD), expected_version=None, stack=None, actor="seed")
    tokens = {}
    for name, (role, partner, org) in TOKENS.items():
        t = new_token(name=name, role=role, partner=partner, org=org, now=datetime.now(UTC))
        store.create_token(t, actor="seed")
        tokens[name] = t.text
    return tokens


class Service:
    def __init__(self, url: str, tokens: dict[str, str], app: Any):
        self.url, self.tokens, self.app = url, tokens, app
        self.bodies: list[str] = []  # every answer's text, searched for passwords

    def call(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"}
        r = httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)
        self.bodies.append(r.text)
        return r

    def runs(self, outcome: str) -> float:
        value = self.app.state.ctx.metrics.registry.get_sample_value("smtp_iac_health_runs_total", {"outcome": outcome})
        return value or 0.0


@contextlib.contextmanager
def serving(store_url: str, tokens: dict[str, str], ca_path: Path, **config: Any) -> Iterator[Service]:
    app = create_app(config_for(store_url, ca_path, **config))
    srv = ServerThread(app).start()
    try:
        yield Service(srv.url, tokens, app)
    finally:
        srv.stop()


def by_host_port(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["port"]: r for r in report["relays"]}


def carried(relay: dict[str, Any]) -> dict[str, int]:
    return {o["partner"]: o["organizations"] for o in relay["organizations"]}


def metrics(svc: Service) -> tuple[str, dict[str, list[Any]]]:
    r = svc.call("sysadmin", "GET", "/metrics")
    assert r.status_code == 200
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s)
    return r.text, samples


def wait_for(what: str, done: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def no_password_in(*texts: str) -> None:
    for text in texts:
        for password in PASSWORDS:
            assert password not in text


def test_checks_reach_and_metrics(backend, relays, ca_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="smtp_iac")
    a, b, c = relays
    store = open_store(backend)
    tokens = seed(store, a, b, c)
    try:
        with serving(backend, tokens, ca_path) as svc:  # no background run (interval 0)
            _before_any_check(svc, a, b, c)
            _sysadmin_checks_every_relay_once(svc, a, b, c)
            _each_role_reads_its_reach(svc, a, b, c)
            _partner_admin_checks_its_own_relays(svc, a, b, c)
            _metrics_show_the_relays(svc, a, b, c)
            _invalid_questions_are_422(svc)
            assert a.stats.sessions == 2 and b.stats.sessions == 1 and c.stats.sessions == 2, "no run of its own"
            no_password_in(caplog.text, *svc.bodies)
    finally:
        store.close()
    if backend.startswith("sqlite:///"):
        db = Path(backend.removeprefix("sqlite:///"))
        for f in db.parent.glob(db.name + "*"):
            no_password_in(f.read_bytes().decode("latin-1"))


def _before_any_check(svc: Service, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> None:
    r = svc.call("viewer", "GET", "/v1/health")
    assert r.status_code == 200, r.text
    report = r.json()
    assert {x["status"] for x in report["relays"]} == {"unchecked"} and len(report["relays"]) == 3
    assert report["organizations"] == 6 and report["organizations_without_mail"] == 0
    assert report["exit_status"] == 2  # nothing checked yet: not known to work
    _text, samples = metrics(svc)
    assert "smtp_iac_relay_up" not in samples and samples["smtp_iac_organizations_without_mail"][0].value == 0


def _sysadmin_checks_every_relay_once(svc: Service, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> None:
    r = svc.call("sysadmin", "POST", "/v1/health/checks", json={"concurrency": 3})
    assert r.status_code == 200, r.text
    assert (a.stats.sessions, b.stats.sessions, c.stats.sessions) == (1, 1, 1)
    assert not a.messages and not b.messages and not c.messages  # mode login: nothing sent
    report = r.json()
    relays = by_host_port(report)
    assert relays[a.port]["status"] == "ok" and relays[b.port]["status"] == "ok"
    assert relays[a.port]["tls_mode"] == "starttls" and relays[b.port]["tls_mode"] == "implicit"
    assert carried(relays[a.port]) == {"acme": 2, "globex": 2} and carried(relays[b.port]) == {"initech": 1}
    assert relays[a.port]["sources"] == ["controller", "partners/acme", "partners/acme/organizations/blue"]
    for port in (a.port, b.port):
        assert relays[port]["last_check"]["cert_not_after"] is not None and relays[port]["cert_days_left"] > 21
    failing = relays[c.port]
    assert failing["status"] == "failing" and failing["last_check"]["failure"] == "auth_failed"
    assert failing["failing_since"] == failing["last_check"]["checked_at"] and failing["last_check"]["advice"]
    assert carried(failing) == {"acme": 1} and failing["sources"] == [str(RED)]
    assert report["organizations"] == 6 and report["organizations_without_mail"] == 1 and report["exit_status"] == 3
    assert report["scope"] == {"partners": [], "orgs": []}
    # what the store kept is what GET answers, from any instance
    kept = svc.call("sysadmin", "GET", "/v1/health").json()
    assert {r["key"]: r["last_check"] for r in kept["relays"]} == {r["key"]: r["last_check"] for r in report["relays"]}
    assert kept["organizations_without_mail"] == 1


def _each_role_reads_its_reach(svc: Service, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> None:
    everything = svc.call("sysadmin", "GET", "/v1/health").json()
    viewer = svc.call("viewer", "GET", "/v1/health").json()
    assert {k: v for k, v in viewer.items() if k != "at"} == {k: v for k, v in everything.items() if k != "at"}

    # partner admin of acme: the relays of acme's organizations, counted for acme alone
    for query in ("", "?partner=acme"):
        mine = svc.call("partner-admin", "GET", "/v1/health" + query).json()
        relays = by_host_port(mine)
        assert set(relays) == {a.port, c.port}, "initech's relay is not acme's business"
        assert carried(relays[a.port]) == {"acme": 2} and carried(relays[c.port]) == {"acme": 1}
        assert mine["organizations"] == 3 and mine["organizations_without_mail"] == 1 and mine["exit_status"] == 3
        assert mine["scope"] == {"partners": ["acme"], "orgs": []}
        assert relays[a.port]["sources"] == ["partners/acme", "partners/acme/organizations/blue"]  # acme's
    one = svc.call("partner-admin", "GET", "/v1/health", params={"org": str(RED)}).json()
    assert [r["port"] for r in one["relays"]] == [c.port] and one["organizations"] == 1
    for params in ({"partner": "initech"}, {"org": str(HQ)}, {"partner": ["acme", "globex"]}):
        r = svc.call("partner-admin", "GET", "/v1/health", params=params)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", r.text
        assert "acme" in r.json()["detail"]

    # org admin of blue: its organization's relay only, naming only its own record
    own = svc.call("org-admin", "GET", "/v1/health").json()
    assert [r["port"] for r in own["relays"]] == [a.port] and carried(own["relays"][0]) == {"acme": 1}
    assert own["relays"][0]["sources"] == [str(BLUE)] and own["organizations"] == 1
    assert own["organizations_without_mail"] == 0 and own["exit_status"] == 0
    assert svc.call("org-admin", "GET", "/v1/health", params={"org": str(BLUE)}).json()["relays"] == own["relays"]
    for params in ({"org": str(RED)}, {"partner": "acme"}):
        assert svc.call("org-admin", "GET", "/v1/health", params=params).status_code == 403
    # green is switched off and gets acme's record, which its org admin does not read: not named
    inherited = svc.call("org-admin-green", "GET", "/v1/health").json()
    assert [r["port"] for r in inherited["relays"]] == [a.port] and inherited["relays"][0]["sources"] == []
    assert carried(inherited["relays"][0]) == {"acme": 1} and inherited["scope"]["orgs"] == [str(GREEN)]

    # the mailer reads no health; only sysadmin and a partner admin run checks
    r = svc.call("mailer", "GET", "/v1/health")
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    for who in ("mailer", "viewer", "org-admin"):
        r = svc.call(who, "POST", "/v1/health/checks", json={})
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", (who, r.text)
    assert svc.call("partner-admin", "POST", "/v1/health/checks", json={"partners": ["initech"]}).status_code == 403
    assert (a.stats.sessions, b.stats.sessions, c.stats.sessions) == (1, 1, 1), "a refused run connects nowhere"


def _partner_admin_checks_its_own_relays(svc: Service, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> None:
    r = svc.call("partner-admin", "POST", "/v1/health/checks")  # no body: its own partner
    assert r.status_code == 200, r.text
    assert (a.stats.sessions, b.stats.sessions, c.stats.sessions) == (2, 1, 2)
    relays = by_host_port(r.json())
    assert set(relays) == {a.port, c.port} and carried(relays[a.port]) == {"acme": 2}
    # still failing since the first failure
    first = by_host_port(svc.call("sysadmin", "GET", "/v1/health").json())[c.port]
    assert relays[c.port]["failing_since"] == first["failing_since"] != relays[c.port]["last_check"]["checked_at"]


def _metrics_show_the_relays(svc: Service, a: SmtpServer, b: SmtpServer, c: SmtpServer) -> None:
    text, samples = metrics(svc)
    up = {int(s.labels["port"]): s.value for s in samples["smtp_iac_relay_up"]}
    assert up == {a.port: 1.0, b.port: 1.0, c.port: 0.0}
    keys = {r["port"]: r["key"] for r in svc.call("sysadmin", "GET", "/v1/health").json()["relays"]}
    assert {int(s.labels["port"]): s.labels["relay"] for s in samples["smtp_iac_relay_up"]} == keys
    assert all(s.labels["host"] == "127.0.0.1" for s in samples["smtp_iac_relay_up"])
    expiry = {int(s.labels["port"]): s.value for s in samples["smtp_iac_relay_cert_expiry_seconds"]}
    assert set(expiry) >= {a.port, b.port} and all(v > 21 * 86400 for v in expiry.values())
    assert samples["smtp_iac_organizations_without_mail"][0].value == 1
    no_password_in(text)
    for who in ("partner-admin", "org-admin", "mailer"):
        assert svc.call(who, "GET", "/metrics").status_code == 403


def _invalid_questions_are_422(svc: Service) -> None:
    for params in ({"partner": "Not An Id"}, {"org": "partners/acme"}, {"org": "acme/blue"}, {"partner": ["a"] * 101}):
        r = svc.call("sysadmin", "GET", "/v1/health", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (params, r.text)
    for method, path, allow in (("DELETE", "/v1/health", "GET"), ("GET", "/v1/health/checks", "POST")):
        r = svc.call("sysadmin", method, path)
        assert r.status_code == 405 and r.headers["allow"] == allow
    for body in ({"concurrency": 0}, {"concurrency": 33}, {"concurrency": "8"}, {"orgs": ["x"]}, {"other": 1}):
        r = svc.call("sysadmin", "POST", "/v1/health/checks", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (body, r.text)


def test_two_instances_take_turns_by_the_lease(backend, relays, ca_path, caplog) -> None:
    """Two instances on one store, a round a second each: results appear within seconds, only the
    lease holder runs checks (the other stands by every round), and once the holder stops, the
    other takes over when the lease (2 s) runs out."""
    caplog.set_level(logging.INFO, logger="smtp_iac")
    a, b, c = relays
    store = open_store(backend)
    tokens = seed(store, a, b, c)
    cfg = config_for(backend, ca_path, health_interval=1.0)
    apps = [create_app(cfg), create_app(cfg)]
    threads = [ServerThread(app).start() for app in apps]
    svcs = [Service(t.url, tokens, app) for t, app in zip(threads, apps, strict=True)]
    try:
        assert apps[0].state.health_runner.holder != apps[1].state.health_runner.holder

        def checked_everything() -> bool:
            report = svcs[1].call("viewer", "GET", "/v1/health").json()
            return all(r["last_check"] is not None for r in report["relays"])

        wait_for("results of a background run", checked_everything, seconds=8)
        wait_for("three rounds", lambda: sum(s.runs("checked") for s in svcs) >= 3, seconds=8)
        holder = 0 if svcs[0].runs("checked") else 1
        other = 1 - holder
        before = svcs[holder].runs("checked")
        sessions = a.stats.sessions, b.stats.sessions, c.stats.sessions
        after = svcs[holder].runs("checked") + svcs[holder].runs("store_fault")  # a round whose save failed
        assert svcs[other].runs("checked") == 0 and svcs[other].runs("standby") >= 2
        assert all(before <= n <= after + 1 for n in sessions), (before, sessions, after)  # one check a round
        assert svcs[holder].runs("error") == svcs[other].runs("error") == 0

        threads[holder].stop()
        stopped = time.monotonic()
        wait_for("the other instance takes over", lambda: svcs[other].runs("checked") >= 1, seconds=8)
        assert time.monotonic() - stopped < 5  # the lease (2 s) ran out, the next round (1 s) took it
        report = svcs[other].call("sysadmin", "GET", "/v1/health").json()
        assert report["organizations_without_mail"] == 1
        text, samples = metrics(svcs[other])
        assert {int(s.labels["port"]): s.value for s in samples["smtp_iac_relay_up"]} == {
            a.port: 1.0,
            b.port: 1.0,
            c.port: 0.0,
        }
        no_password_in(text, *svcs[0].bodies, *svcs[1].bodies)
    finally:
        for t in threads:
            t.stop()
        store.close()
    lines = [r for r in caplog.records if r.name == "smtp_iac.service.health"]
    assert any("runs the checks" in r.getMessage() for r in lines)
    no_password_in(caplog.text)


def test_a_failed_round_is_one_line_and_the_runs_go_on(tmp_path, key, relays, ca_path, caplog) -> None:
    """A round that fails (the CA file gone) or finds the store busy (SQLite held by another
    writer) is one log line and a count; the next rounds run."""
    caplog.set_level(logging.INFO, logger="smtp_iac")
    a, b, c = relays
    url = f"sqlite:///{tmp_path}/db/store.db"
    store = open_store(url)
    tokens = seed(store, a, b, c)
    ca_copy = tmp_path / "ca-copy.pem"
    shutil.copy(ca_path, ca_copy)
    try:
        with serving(url, tokens, ca_copy, health_interval=0.5) as svc:
            wait_for("a round", lambda: svc.runs("checked") >= 1)
            ca_copy.rename(tmp_path / "ca-away.pem")
            wait_for("a failed round", lambda: svc.runs("error") >= 1)
            (tmp_path / "ca-away.pem").rename(ca_copy)
            other = sqlite3.connect(tmp_path / "db" / "store.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                wait_for("a skipped round", lambda: svc.runs("store_fault") >= 1)
            finally:
                other.execute("ROLLBACK")
                other.close()
            done = svc.runs("checked")
            wait_for("rounds again", lambda: svc.runs("checked") >= done + 1)
            assert svc.app.state.health_runner.holding
    finally:
        store.close()
    problems = [r for r in caplog.records if r.name == "smtp_iac.service.health" and r.levelno >= logging.WARNING]
    assert any("round failed" in r.getMessage() and "ca" in r.getMessage().lower() for r in problems)
    assert any("store did not answer (busy)" in r.getMessage() for r in problems)
    for r in problems:
        assert r.exc_info is None and "\n" not in r.getMessage()
    no_password_in(caplog.text)


def test_checks_keep_to_the_relay_policy_and_the_rate_limit(tmp_path, key, relays, ca_path) -> None:
    """``--deny-relay`` holds for health checks too (a denied relay fails its check, nothing is
    connected), and a run counts against the token's SMTP check rate (429 past it)."""
    a, b, c = relays
    url = f"sqlite:///{tmp_path}/db/store.db"
    store = open_store(url)
    tokens = seed(store, a, b, c)
    try:
        limits = {"deny_relay": parse_networks(["127.0.0.0/8"]), "rate_limit": RateLimit(per_minute=1, burst=1)}
        with serving(url, tokens, ca_path, **limits) as svc:
            r = svc.call("sysadmin", "POST", "/v1/health/checks")
            assert r.status_code == 200, r.text
            for relay in r.json()["relays"]:
                assert relay["status"] == "failing" and relay["last_check"]["failure"] == "connection_refused"
                assert "deny-relay" in relay["last_check"]["detail"]
            assert a.stats.sessions == b.stats.sessions == c.stats.sessions == 0
            again = svc.call("sysadmin", "POST", "/v1/health/checks")
            assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
            assert svc.call("partner-admin", "POST", "/v1/health/checks").status_code == 200  # its own bucket
    finally:
        store.close()


def test_serve_health_interval(key, tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path}/db/store.db"
    open_store(url).close()
    served: list[server.ServerConfig] = []
    monkeypatch.setattr(server, "run", served.append)
    assert cli_run(["serve", "--store", url, "--port", "0"]) == 0
    assert cli_run(["serve", "--store", url, "--port", "0", "--health-interval", "0"]) == 0
    assert cli_run(["serve", "--store", url, "--port", "0", "--health-interval", "-1"]) == 1
    default, off = served
    assert default.app.state.ctx.config.health_interval == 300 and default.app.state.health_runner.interval == 300
    assert off.app.state.health_runner is None
