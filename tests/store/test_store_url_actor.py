"""Store URLs (parse, mask, resolution order) and the actor recorded in the audit log. Pure."""

from __future__ import annotations

import pytest

from smtp_iac.actor import current_actor
from smtp_iac.errors import StoreUrlError
from smtp_iac.store import DEFAULT_URL, open_store, parse_store_url, resolve_store_url
from smtp_iac.store.url import mask_url


@pytest.mark.parametrize(
    "url, backend, path",
    [
        ("sqlite:///relative.db", "sqlite", "relative.db"),
        ("sqlite:///.smtp-iac/store.db", "sqlite", ".smtp-iac/store.db"),
        ("sqlite:////abs/dir/store.db", "sqlite", "/abs/dir/store.db"),
        ("postgresql://user:pw@db.example.com:5433/smtp", "postgresql", None),
        ("postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dx", "postgresql", None),
        ("postgres://u@h/db", "postgresql", None),
        ("https://smtp-iac.internal", "service", None),
        ("https://smtp-iac.internal:8443/", "service", None),
        ("http://127.0.0.1:8025", "service", None),
        ("http://[::1]:8025", "service", None),
        ("http://localhost:8025", "service", None),
    ],
)
def test_accepted_urls(url, backend, path):
    parsed = parse_store_url(url)
    assert (parsed.backend, parsed.path) == (backend, path)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "store.db",
        "sqlite://store.db",
        "sqlite:///",
        "sqlite:///dir/",
        "sqlite:///:memory:",
        "sqlite:///x.db?mode=ro",
        "mysql://u@h/db",
        "postgresql://u@h/",
        "postgresql://u@h:notaport/db",
        "postgresql:///db",
        "sqlite:///a\nb.db",
        "http://smtp-iac.internal:8025",  # plain http beyond loopback: the token in clear
        "http://10.0.0.5",
        "https://user:pw@smtp-iac.internal",  # the token goes in SMTP_IAC_TOKEN
        "https://smtp-iac.internal?token=x",
        "https://",
        "https://h:99999",
    ],
)
def test_rejected_urls_name_the_accepted_forms(url):
    with pytest.raises(StoreUrlError) as e:
        parse_store_url(url)
    assert "sqlite:///relative/path.db" in e.value.hint and "postgresql://" in e.value.hint


def test_bad_url_does_not_leak_its_password():
    with pytest.raises(StoreUrlError) as e:
        open_store("postgresql://user:hunter2@host:badport/db", key=None)
    assert "hunter2" not in str(e.value) and "***" in str(e.value)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://user:hunter2@h:5432/db", "postgresql://user:***@h:5432/db"),
        ("postgresql://user@h/db", "postgresql://user@h/db"),
        ("postgresql://u@h/db?password=hunter2&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
    ],
)
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_resolution_order(monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    assert resolve_store_url(None, None) == DEFAULT_URL == "sqlite:///.smtp-iac/store.db"
    assert resolve_store_url(None, "sqlite:///stack.db") == "sqlite:///stack.db"
    monkeypatch.setenv("SMTP_IAC_STORE", "sqlite:///env.db")
    assert resolve_store_url(None, "sqlite:///stack.db") == "sqlite:///env.db"
    assert resolve_store_url("sqlite:///cli.db", "sqlite:///stack.db") == "sqlite:///cli.db"


def test_display_url_of_a_postgres_store_is_masked(monkeypatch):
    from cryptography.fernet import Fernet

    from smtp_iac.errors import StoreError

    with pytest.raises(StoreError) as e:  # nothing listens on port 1
        open_store("postgresql://user:hunter2@127.0.0.1:1/db", key=Fernet.generate_key().decode())
    assert "hunter2" not in str(e.value) and "user:***@127.0.0.1:1" in str(e.value)


@pytest.mark.parametrize(
    "env, actor",
    [
        ({"SMTP_IAC_ACTOR": "release-bot", "GITHUB_ACTOR": "alice"}, "release-bot"),
        ({"GITHUB_ACTOR": "alice", "GITLAB_USER_LOGIN": "bob"}, "github:alice"),
        ({"GITLAB_USER_LOGIN": "bob"}, "gitlab:bob"),
        ({"SMTP_IAC_ACTOR": "evil\nforged line"}, "evil?forged line"),
    ],
)
def test_actor(env, actor):
    assert current_actor(env) == actor


def test_actor_falls_back_to_user_at_host():
    import getpass
    import socket

    assert current_actor({}) == f"{getpass.getuser()}@{socket.gethostname()}"
