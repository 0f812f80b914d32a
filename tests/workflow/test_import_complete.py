"""``import`` emits what the store knows, on SQLite and PostgreSQL: settings shared by several
scopes as ``relays:`` (one password placeholder per relay, a per-scope ``password`` override
where a scope's password differs), ``store:`` (left out when the URL holds a password), and a
header saying that ``verify:`` is not kept in the store. The import round-trips: set the
placeholders, and plan shows no changes, drift none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pg_support import fresh_schema
from workflow_helpers import OTHER_PASSWORD, PASSWORD, WRONG_PASSWORD, Workspace

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings
from smtp_iac.store import generate_key

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "postgres"])
def any_ws(request, tmp_path: Path, monkeypatch, capsys):
    """A workspace (working directory, store in SMTP_IAC_STORE, key in SMTP_IAC_STORE_KEY) on
    either backend."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
    monkeypatch.delenv("SMTP_IAC_DEBUG", raising=False)
    db = tmp_path / "state" / "store.db"
    if request.param == "sqlite":
        db.parent.mkdir()
        url = f"sqlite:///{db}"
        monkeypatch.setenv("SMTP_IAC_STORE", url)
        yield Workspace(work, db, url, "env", capsys)
        return
    with fresh_schema() as (url, _dsn, _schema):
        monkeypatch.setenv("SMTP_IAC_STORE", url)
        yield Workspace(work, db, url, "env", capsys)


def _put(ws: Workspace, address: str, password: str, *, user: str = "mailer", **kw) -> None:
    settings = ResolvedSettings(host="smtp.example.com", port=587, tls=True, username=user, password=password, **kw)
    with ws.open() as s:
        s.put(Address.parse(address), settings, expected_version=None, stack="console", actor="console")


def _records(ws: Workspace) -> None:
    """Two groups of shared settings (one with a scope whose password differs) and a loner."""
    ws.load_tenants()
    _put(ws, "controller", PASSWORD)
    _put(ws, "partners/acme", PASSWORD)
    _put(ws, "partners/acme/organizations/acme-eu", OTHER_PASSWORD)  # same settings, another password
    _put(ws, "partners/globex", PASSWORD)
    _put(ws, "partners/acme/organizations/acme-us", PASSWORD, sender="us@acme.example")  # differs: inline
    _put(ws, "partners/initech", WRONG_PASSWORD, user="initech", tls_mode="starttls")
    _put(ws, "partners/initech/organizations/initech-hq", WRONG_PASSWORD, user="initech", tls_mode="starttls")


def test_import_emits_relays_store_and_round_trips(any_ws, monkeypatch):
    ws = any_ws
    _records(ws)
    r = ws.run("import")
    assert r.rc == 0, r.both
    text = r.out
    for secret in (PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD):
        assert secret not in text
    doc = yaml.safe_load(text)
    assert doc["name"] == "console" and doc["store"] == ws.store_shown
    assert "verify" not in doc
    assert "# verify: is not kept in the store" in text and "re-add" in text
    assert list(doc) == ["version", "name", "store", "relays", "controller", "partners"]
    shared = {
        "host": "smtp.example.com",
        "port": 587,
        "tls": True,
        "username": "mailer",
        "password": {"env": "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM"},
    }
    assert doc["relays"] == {
        "smtp-example-com": shared,
        "smtp-example-com-2": {
            **shared,
            "tls_mode": "starttls",
            "username": "initech",
            "password": {"env": "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM_2"},
        },
    }
    assert doc["controller"]["smtp"] == {"relay": "smtp-example-com"}
    acme = doc["partners"]["acme"]
    assert acme["smtp"] == {"relay": "smtp-example-com"}
    assert acme["organizations"]["acme-eu"]["smtp"] == {
        "relay": "smtp-example-com",
        "password": {"env": "SMTP_PASSWORD_ACME__ACME_EU"},
    }
    assert acme["organizations"]["acme-us"]["smtp"]["sender"] == "us@acme.example"
    assert acme["organizations"]["acme-us"]["smtp"]["password"] == {"env": "SMTP_PASSWORD_ACME__ACME_US"}
    assert doc["partners"]["initech"]["organizations"]["initech-hq"]["smtp"] == {"relay": "smtp-example-com-2"}
    placeholders = text.splitlines()[2]
    for var in (
        "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM",
        "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM_2",
        "SMTP_PASSWORD_ACME__ACME_EU",
        "SMTP_PASSWORD_ACME__ACME_US",
    ):
        assert var in placeholders
    assert "SMTP_PASSWORD_CONTROLLER" not in text and "SMTP_PASSWORD_INITECH" not in text

    path = ws.dir / "stacks" / "imported.yaml"
    path.parent.mkdir()
    path.write_text(text)
    r = ws.run("validate", "stacks/imported.yaml")
    assert r.rc == 0 and "0 warning(s)" in r.out, r.both

    for var, pw in {
        "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM": PASSWORD,
        "SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM_2": WRONG_PASSWORD,
        "SMTP_PASSWORD_ACME__ACME_EU": OTHER_PASSWORD,
        "SMTP_PASSWORD_ACME__ACME_US": PASSWORD,
    }.items():
        monkeypatch.setenv(var, pw)
    r = ws.run("plan", "stacks/imported.yaml", "--detailed-exitcode")
    assert r.rc == 0, r.both
    assert "No changes" in r.out and "7 unchanged" in r.out
    assert ws.run("drift", "stacks/imported.yaml").rc == 0

    # the relay's one placeholder is the password of every scope that does not override it
    monkeypatch.setenv("SMTP_RELAY_PASSWORD_SMTP_EXAMPLE_COM", OTHER_PASSWORD)
    d = ws.run("plan", "stacks/imported.yaml", "--format", "json").json()
    assert [(s["address"], [c["field"] for c in s["changes"]]) for s in d["scopes"] if s["action"] != "no-op"] == [
        ("controller", ["password"]),
        ("partners/acme", ["password"]),
        ("partners/globex", ["password"]),
    ]
    # run twice, the import is the same text: relay names and placeholders are deterministic
    assert ws.run("import").out == text


def test_import_relay_password_is_the_one_most_scopes_share(any_ws):
    ws = any_ws
    ws.load_tenants()
    _put(ws, "partners/acme", OTHER_PASSWORD)  # first in address order, but alone with its password
    _put(ws, "partners/globex", PASSWORD)
    _put(ws, "partners/initech", PASSWORD)
    doc = yaml.safe_load(ws.run("import").out)
    assert doc["partners"]["acme"]["smtp"] == {
        "relay": "smtp-example-com",
        "password": {"env": "SMTP_PASSWORD_ACME"},
    }
    assert doc["partners"]["globex"]["smtp"] == doc["partners"]["initech"]["smtp"] == {"relay": "smtp-example-com"}


def test_import_leaves_out_a_store_url_that_holds_a_password(monkeypatch, tmp_path, capsys):
    """A stack file is committed: a PostgreSQL URL with a password is not written into it."""
    with fresh_schema() as (url, _dsn, _schema):
        with_password = url.replace("://postgres@", "://postgres:pg-Secret-19d2@", 1)
        assert with_password != url, "the test DSN names the postgres user"
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SMTP_IAC_STORE", with_password)
        monkeypatch.setenv("SMTP_IAC_STORE_KEY", generate_key())
        ws = Workspace(tmp_path, tmp_path / "unused.db", with_password, "env", capsys)
        ws.load_tenants()
        _put(ws, "controller", PASSWORD)
        r = ws.run("import")
        assert r.rc == 0, r.both
    assert "pg-Secret-19d2" not in r.out
    assert "store" not in yaml.safe_load(r.out)
    assert "# store: left out: the store URL holds a password" in r.out
