"""``smtp-iac health`` end to end: the real CLI entry point over a real store (SQLite, and
PostgreSQL when SMTP_IAC_TEST_PG_DSN is set) and real SMTP relays on loopback. What is proven:
one check per distinct effective settings (counted at the relay), failure classes with the
platform's advice, certificate expiry warnings, organizations without settings, "failing
since" / "recovered at" kept across runs, --partner / --org, the JSON, and that the relay
password never appears in any output or in the database file."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
import smtp_servers
from health_helpers import PASSWORD, SECRETS, USER, WRONG, World

from smtp_iac.relayhealth import report_from_dict, report_to_dict
from smtp_iac.report.health import _when
from smtp_iac.verify.result import ADVICE, Failure

TIMEOUT = 2  # --timeout of every run (conftest World.health)
MARGIN = 6.0  # "within the deadline": a bound, not a speed claim (CI machines are slow)


def relay(ca, **kw):
    users = kw.pop("users", {USER: PASSWORD})
    return smtp_servers.smtp_server(tls=kw.pop("tls", "starttls"), ca=ca, users=users, **kw)


def by_host(doc: dict) -> dict[int, dict]:
    """The report's relays by port (every relay here is on 127.0.0.1)."""
    return {r["port"]: r for r in doc["relays"]}


# ----- (1) one check per distinct settings -------------------------------------------------


def spread(world: World, a: int, b: int) -> None:
    """Organizations spread over five records on two relays: controller, partners/acme and
    acme/a1's own record have identical settings (one relay, A); partners/globex is B; a3 has
    its own record on B but its switch is off (since it was written), so it uses its partner's (A)."""
    world.tenants(
        {
            "acme": {"a1": True, "a2": True, "a3": True},
            "globex": {"g1": True, "g2": False},
            "initech": {"i1": True},
        }
    )
    for address, port in (
        ("controller", a),
        ("partners/acme", a),
        ("partners/acme/organizations/a1", a),
        ("partners/acme/organizations/a3", b),
        ("partners/globex", b),
    ):
        world.put(address, port)
    world.switch("partners/acme/organizations/a3", False)


def test_identical_settings_of_several_records_are_one_check(world, ca, ca_file):
    with relay(ca) as a, relay(ca) as b:
        spread(world, a.port, b.port)
        r = world.health(ca_file)
        assert r.rc == 0, r.out + r.err
        assert smtp_servers.wait_for(lambda: a.stats.sessions == 1 and b.stats.sessions == 1)
        assert (a.stats.sessions, b.stats.sessions) == (1, 1)
        assert r.out.count("OK        127.0.0.1:") == 2
        assert f"127.0.0.1:{a.port} (starttls, user {USER})" in r.out
        assert "settings of: controller, partners/acme, partners/acme/organizations/a1\n" in r.out
        assert "carries 4 organizations: acme 3, initech 1" in r.out
        assert "settings of: partners/globex\n" in r.out  # a3's own record is not in force
        assert "carries 2 organizations: globex 2" in r.out
        assert r.out.rstrip().endswith("2 relays checked: 2 ok; every organization in scope has working mail (6)")

        doc = world.health(ca_file, "--format", "json").json()
        relays = by_host(doc)
        assert [o for o in relays[a.port]["organizations"]] == [
            {"partner": "acme", "organizations": 3},
            {"partner": "initech", "organizations": 1},
        ]
        assert relays[b.port]["sources"] == ["partners/globex"]
        assert all(r["status"] == "ok" and r["last_check"]["latency_ms"] >= 0 for r in doc["relays"])
        assert (doc["organizations"], doc["organizations_without_mail"], doc["exit_status"]) == (6, 0, 0)
        assert smtp_servers.wait_for(lambda: a.stats.sessions == 2 and b.stats.sessions == 2)


# ----- (2), (3) failures ---------------------------------------------------------------------


def test_a_relay_that_refuses_the_login_is_failing_with_the_platform_advice(world, ca, ca_file):
    with relay(ca, users={"someone-else": "x"}) as bad, relay(ca) as good:
        world.tenants({"acme": {"a1": True, "a2": True}, "globex": {"g1": True}})
        world.put("partners/acme", bad.port)
        world.put("partners/globex", good.port)
        r = world.health(ca_file)
        assert r.rc == 3, r.out + r.err
        block = r.out.split("\n\n")[1]  # failing relays come first
        assert block.startswith(f"FAILING   127.0.0.1:{bad.port} (starttls, user {USER})")
        assert "  auth_failed at auth: " in block
        assert f"  advice: {ADVICE[Failure.AUTH_FAILED]}" in block
        assert "  failing since " in block
        assert "carries 2 organizations: acme 2" in block
        assert r.out.rstrip().endswith("2 relays checked: 1 ok, 1 failing; 2 of 3 organizations without working mail")
        assert bad.stats.auth_attempts >= 1
        assert not bad.messages and not good.messages  # a login, never a message


def test_relays_that_hold_or_never_greet_fail_within_the_deadline(world, ca, ca_file):
    with relay(ca, hold_seconds=5) as held, smtp_servers.silent_server() as silent:
        world.tenants({"acme": {"a1": True}, "globex": {"g1": True}})
        world.put("partners/acme", held.port)
        world.put("partners/globex", silent.port, tls_mode="none")
        started = time.monotonic()
        r = world.health(ca_file, "--format", "json", "--timeout", "1")
        took = time.monotonic() - started
        assert r.rc == 3, r.out + r.err
        assert 1 <= took < 1 + MARGIN
        relays = by_host(r.json())
        quiet = relays[silent.port]["last_check"]
        assert (quiet["failure"], quiet["stage"]) == ("greeting_timeout", "greeting")
        slow = relays[held.port]["last_check"]
        assert slow["stage"] == "ehlo" and "in time" in slow["detail"]
        assert all(r["status"] == "failing" for r in relays.values())
        assert r.json()["organizations_without_mail"] == 2


def test_concurrency_is_how_many_relays_are_checked_at_once(world, ca, ca_file):
    """Three relays (three usernames) on one server that holds each session until three are
    open at once (or a second has passed): --concurrency 3 opens them together, 1 one by one."""
    users = {f"user-{i}": PASSWORD for i in range(3)}
    with relay(ca, users=users, gather=3, gather_timeout=1.0) as srv:
        world.tenants({p: {f"{p}-1": True} for p in ("acme", "globex", "initech")})
        for i, p in enumerate(("acme", "globex", "initech")):
            world.put(f"partners/{p}", srv.port, user=f"user-{i}")
        r = world.run("health", "--ca-file", str(ca_file), "--timeout", "10", "--concurrency", "3")
        assert r.rc == 0, r.out + r.err
        assert (srv.stats.sessions, srv.stats.max_active) == (3, 3)
        assert r.out.rstrip().endswith("3 relays checked: 3 ok; every organization in scope has working mail (3)")

    with relay(ca, users=users, gather=3, gather_timeout=0.2) as srv:
        for i, p in enumerate(("acme", "globex", "initech")):
            world.put(f"partners/{p}", srv.port, user=f"user-{i}")
        r = world.run("health", "--ca-file", str(ca_file), "--timeout", "10", "--concurrency", "1")
        assert r.rc == 0, r.out + r.err
        assert (srv.stats.sessions, srv.stats.max_active) == (3, 1)


# ----- (4) certificates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "tls", "status", "rc"),
    [(10, "starttls", "WARNING", 2), (20, "implicit", "WARNING", 2), (40, "implicit", "OK", 0)],
)
def test_a_certificate_that_expires_soon_is_a_warning(world, ca, ca_file, days, tls, status, rc):
    not_after = datetime.now(UTC) + timedelta(days=days)
    cert = ca.issue_cert(smtp_servers.LOOPBACK, "localhost", not_after=not_after)
    with smtp_servers.smtp_server_with_cert(cert, tls=tls, ca=ca, users={USER: PASSWORD}) as srv:
        world.tenants({"acme": {"a1": True}})
        world.put("controller", srv.port, tls_mode=tls)
        r = world.health(ca_file)
        assert r.rc == rc, r.out + r.err
        assert r.out.split("\n")[2].startswith(f"{status:<9} 127.0.0.1:{srv.port} ({tls}, user {USER})")
        expires = f"certificate expires {not_after:%Y-%m-%d} (in {days} days)"
        assert (f"  warning: {expires}" if status == "WARNING" else f"  {expires}") in r.out
        doc = world.health(ca_file, "--format", "json").json()
        (h,) = doc["relays"]
        assert h["status"] == status.lower() and days - 1 < h["cert_days_left"] <= days
        assert datetime.fromisoformat(h["last_check"]["cert_not_after"]) == not_after.replace(microsecond=0)


def test_plain_relays_have_no_certificate_line(world, ca, ca_file):
    with relay(ca, tls="none") as srv:
        world.tenants({"acme": {"a1": True}})
        world.put("controller", srv.port, tls_mode="none")
        r = world.health(ca_file)
        assert r.rc == 0 and "certificate" not in r.out, r.out


# ----- (5) organizations without settings ----------------------------------------------------


def test_organizations_without_effective_settings_have_no_working_mail(world, ca, ca_file):
    with relay(ca) as srv:
        world.tenants({"acme": {"a1": True, "a2": False}, "globex": {"g1": True, "g2": True}, "hooli": {"h1": False}})
        world.put("partners/acme", srv.port)
        world.put("partners/globex/organizations/g1", srv.port)  # g2 and hooli: nothing at all
        r = world.health(ca_file)
        assert r.rc == 3, r.out + r.err
        assert "No effective settings (no working mail): 2 organizations: globex 1, hooli 1" in r.out
        assert "carries 3 organizations: acme 2, globex 1" in r.out
        assert r.out.rstrip().endswith("1 relay checked: 1 ok; 2 of 5 organizations without working mail")
        doc = world.health(ca_file, "--format", "json").json()
        assert doc["without_settings"] == [
            {"partner": "globex", "organizations": 1},
            {"partner": "hooli", "organizations": 1},
        ]
        assert (doc["organizations_without_mail"], doc["exit_status"]) == (2, 3)

    world.tenants({"initech": {"i1": True}})  # nothing in force anywhere for it, and no relay in its scope
    r = world.health(ca_file, "--partner", "initech")
    assert r.rc == 3 and "No relay carries an organization in scope." in r.out, r.out


# ----- (6) history ---------------------------------------------------------------------------


def history(world: World, ca, ca_file) -> None:
    """Failing, still failing (the first failure's time is kept), fixed (recovered at), ok again."""
    with relay(ca, users={}) as srv:
        world.tenants({"acme": {"a1": True}})
        world.put("partners/acme", srv.port)
        one = world.health(ca_file, "--format", "json")
        assert one.rc == 3
        (h1,) = one.json()["relays"]
        first = h1["last_check"]["checked_at"]
        assert h1["failing_since"] == first and h1["recovered_at"] is None

        two = world.health(ca_file)
        assert two.rc == 3
        assert f"  failing since {_when(datetime.fromisoformat(first))}\n" in two.out
        (h2,) = world.health(ca_file, "--format", "json").json()["relays"]
        assert h2["failing_since"] == first and h2["last_check"]["checked_at"] > first

        srv.users[USER] = PASSWORD  # the relay is fixed; the settings (and so the relay) stay
        three = world.health(ca_file, "--format", "json")
        assert three.rc == 0
        (h3,) = three.json()["relays"]
        assert h3["status"] == "ok" and h3["failing_since"] is None
        assert h3["recovered_at"] == h3["last_check"]["checked_at"]

        four = world.health(ca_file)
        assert four.rc == 0
        assert f"  recovered at {_when(datetime.fromisoformat(h3['recovered_at']))}\n" in four.out
        assert "failing since" not in four.out
        assert srv.stats.sessions == 5


def test_failing_since_is_kept_across_runs_then_recovered_at(world, ca, ca_file):
    history(world, ca, ca_file)


def test_the_same_runs_on_postgresql(pg_world, ca, ca_file):
    history(pg_world, ca, ca_file)
    with relay(ca) as a, relay(ca) as b:
        spread(pg_world, a.port, b.port)
        r = pg_world.health(ca_file)
        assert r.rc == 0, r.out + r.err
        assert (a.stats.sessions, b.stats.sessions) == (1, 1)
        assert "carries 4 organizations: acme 3, initech 1" in r.out


# ----- (7) scope -----------------------------------------------------------------------------


def test_partner_and_org_limit_the_scope_and_the_checks(world, ca, ca_file):
    with relay(ca) as a, relay(ca) as b:
        spread(world, a.port, b.port)

        doc = world.health(ca_file, "--partner", "partners/acme", "--format", "json").json()
        assert [r["port"] for r in doc["relays"]] == [a.port]
        assert doc["relays"][0]["organizations"] == [{"partner": "acme", "organizations": 3}]
        assert doc["scope"] == {"partners": ["acme"], "orgs": []} and doc["organizations"] == 3
        assert (a.stats.sessions, b.stats.sessions) == (1, 0)

        doc = world.health(
            ca_file, "--org", "globex/g1", "--org", "partners/globex/organizations/g2", "--format", "json"
        ).json()
        assert [r["port"] for r in doc["relays"]] == [b.port] and doc["organizations"] == 2
        assert (a.stats.sessions, b.stats.sessions) == (1, 1)

        r = world.health(ca_file, "--org", "i1", "--partner", "globex")  # a bare org id, and a partner
        assert r.rc == 0 and "Relay health of partners/globex, partners/initech/organizations/i1 at" in r.out
        assert "carries 1 organization: initech 1" in r.out and "carries 2 organizations: globex 2" in r.out
        assert (a.stats.sessions, b.stats.sessions) == (2, 2)

        for args, said in (
            (("--partner", "nope"), "error: partners/nope: partner 'nope' is not known to the store"),
            (("--partner", "Bad Id!"), "error: invalid id"),
            (("--partner", "partners/acme/organizations/a1"), "is not a partner"),
            (("--partner", ""), "is not a partner"),
            (("--org", "acme/zzz"), "organization 'zzz' is not known to the store"),
            (("--org", "globex/a1"), "organization 'a1' is not under partner 'globex'"),
            (("--org", "nobody"), "organization 'nobody' is not known"),
            (("--concurrency", "0"), "0 is not in the range 1<=x<=32"),
            (("--timeout", "121"), "121 is not in the range 1<=x<=120"),
        ):
            r = world.health(ca_file, *args)
            assert r.rc == 1 and said in r.err and "Traceback" not in r.err, (args, r.err)
        assert (a.stats.sessions, b.stats.sessions) == (2, 2)  # a refused run checks nothing


def test_an_unreadable_ca_file_and_a_missing_store_are_errors(world, tmp_path, ca, ca_file):
    with relay(ca) as a:
        world.tenants({"acme": {"a1": True}})
        world.put("controller", a.port)
        r = world.run("health", "--ca-file", str(tmp_path / "none.pem"))
        assert r.rc == 1 and r.err.startswith("error: ") and "Traceback" not in r.err
        assert a.stats.sessions == 0
    r = world.run("health", "--store", f"sqlite:///{tmp_path / 'absent.db'}")
    assert r.rc == 1 and "error: " in r.err and not (tmp_path / "absent.db").exists()


# ----- (8) formats ---------------------------------------------------------------------------


def test_json_is_the_report_as_kept_and_reads_back(world, ca, ca_file):
    from smtp_iac.monitor.run import last_report

    with relay(ca) as a, relay(ca, users={}) as b:
        spread(world, a.port, b.port)
        r = world.health(ca_file, "--format", "json")
        assert r.rc == 3
        doc = r.json()
        report = report_from_dict(doc)
        assert report_to_dict(report) == doc
        assert report.exit_status() == doc["exit_status"] == r.rc
        with world.open() as store:
            kept = last_report(store, clock=lambda: report.at)
        assert report_to_dict(kept) == doc  # what the store kept is what was printed
        relays = by_host(doc)
        assert relays[b.port]["last_check"]["failure"] == "auth_failed"
        assert relays[b.port]["last_check"]["advice"] == ADVICE[Failure.AUTH_FAILED]
        assert doc["organizations_without_mail"] == 2


def test_markdown_has_a_table_per_status(world, ca, ca_file):
    with relay(ca) as a, relay(ca, users={}) as b:
        spread(world, a.port, b.port)
        r = world.health(ca_file, "--format", "markdown")
        assert r.rc == 3
        md = r.out
        assert md.startswith("## Relay health of every organization\n")
        assert "**2 relays checked: 1 ok, 1 failing; 2 of 6 organizations without working mail**" in md
        assert md.index("### FAILING (1)") < md.index("### OK (1)")
        assert "| relay | TLS | user | last check | certificate | carries | settings of |" in md
        failing = md.split("### FAILING (1)")[1].split("###")[0]
        assert f"`127.0.0.1:{b.port}`" in failing and "**auth_failed** at auth" in failing
        assert "failing since" in failing and "globex 2" in failing
        assert ADVICE[Failure.AUTH_FAILED] in md


# ----- (9) the password ----------------------------------------------------------------------


def test_the_password_is_in_no_output_and_not_in_the_database_file(world, ca, ca_file):
    def echo(login: str, password: str) -> str:  # a hostile relay: it says the password back
        return f"535 5.7.8 wrong password {password} for {login}"

    with ExitStack() as stack:
        good = stack.enter_context(relay(ca))
        echoing = stack.enter_context(relay(ca, users={}, auth_failure_reply=echo))
        world.tenants({"acme": {"a1": True}, "globex": {"g1": True}})
        world.put("partners/acme", good.port)
        world.put("partners/globex", echoing.port, password=WRONG)
        for fmt in ("text", "json", "markdown"):
            r = world.health(ca_file, "--format", fmt)
            assert r.rc == 3
        doc = world.health(ca_file, "--format", "json").json()
        assert "wrong password" in by_host(doc)[echoing.port]["last_check"]["detail"]
        assert echoing.stats.auth_attempts >= 4
    seen = "".join(world.outputs)
    assert all(s not in seen for s in SECRETS)
    assert world.db is not None
    files = [p for p in world.db.parent.iterdir() if p.is_file()]
    assert any(p.name == "store.db" for p in files)
    for p in files:
        data = p.read_bytes()
        assert all(s.encode() not in data for s in SECRETS), p
        assert b"relay_health" in data or p.name != "store.db"


# ----- through the settings service ----------------------------------------------------------


def test_through_the_settings_service_the_service_runs_the_checks(world, ca, ca_file, monkeypatch):
    from live_service import ServerThread

    from smtp_iac.errors import Forbidden
    from smtp_iac.relayhealth import Scope
    from smtp_iac.service.app import create_app
    from smtp_iac.service.config import RateLimit, ServiceConfig
    from smtp_iac.store.remote import RemoteStore
    from smtp_iac.tokens import Role, new_token

    config = ServiceConfig(store_url=world.url, ca_file=ca_file, rate_limit=RateLimit(per_minute=60_000, burst=1000))
    app = create_app(config)
    if "/v1/health/checks" not in app.openapi().get("paths", {}):
        pytest.skip("the settings service has no POST /v1/health/checks yet")
    with relay(ca) as a, relay(ca, users={}) as b:
        spread(world, a.port, b.port)
        with world.open() as store:
            token = new_token(name="pipeline", role=Role.SYSADMIN, now=datetime.now(UTC))
            store.create_token(token, actor="test")
        server = ServerThread(app).start()
        try:
            monkeypatch.setenv("SMTP_IAC_STORE", server.url)
            monkeypatch.setenv("SMTP_IAC_TOKEN", token.text)
            r = world.run("health", "--format", "json")
            assert r.rc == 3, r.err
            relays = by_host(r.json())
            assert relays[a.port]["status"] == "ok" and relays[b.port]["last_check"]["failure"] == "auth_failed"
            assert (a.stats.sessions, b.stats.sessions) == (1, 1)
            r = world.run("health", "--partner", "acme", "--timeout", "3")
            assert r.rc == 0 and "--timeout and --ca-file are not used" in r.err
            assert "carries 3 organizations: acme 3" in r.out
            r = world.run("health", "--partner", "nope")
            assert r.rc == 1 and "partner 'nope' is not known" in r.err

            # a partner admin: its own partner's organizations alone, and nothing beyond its reach
            with world.open() as store:
                acme = new_token(name="acme-ops", role=Role.PARTNER_ADMIN, partner="acme", now=datetime.now(UTC))
                store.create_token(acme, actor="test")
            monkeypatch.setenv("SMTP_IAC_TOKEN", acme.text)
            doc = world.run("health", "--format", "json").json()
            assert [h["organizations"] for h in doc["relays"]] == [[{"partner": "acme", "organizations": 3}]]
            assert doc["organizations"] == 3 and doc["exit_status"] == 0
            assert (a.stats.sessions, b.stats.sessions) == (3, 1)  # the globex relay: not checked for acme
            refusals = {
                ("--partner", "globex"): "manages partners/acme and its organizations, not partners/globex",
                ("--org", "partners/globex/organizations/g1"): "beyond this token's reach",
            }
            for args, refusal in refusals.items():
                r = world.run("health", *args)
                assert r.rc == 1 and refusal in r.err and "Traceback" not in r.err, r.err
            # the service's own 403, as the error it means
            with RemoteStore(server.url, acme.text) as remote, pytest.raises(Forbidden):
                remote.check_health(Scope(partners=frozenset({"globex"})))
            assert (a.stats.sessions, b.stats.sessions) == (3, 1)
        finally:
            server.stop()
    assert all(s not in "".join(world.outputs) for s in SECRETS)
