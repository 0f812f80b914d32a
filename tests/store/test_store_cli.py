"""``smtp-iac store rotate-keys`` and ``smtp-iac store audit`` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from store_helpers import ACME, TENANTS, settings

from smtp_iac.cli.app import run
from smtp_iac.errors import ConflictError
from smtp_iac.store import open_store

PASSWORD = "rotate-me-Pa55word"


def test_rotate_keys_then_the_new_key_alone_reads_every_password(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/store.db"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", old)
    with open_store(url) as store:
        store.load_tenants(TENANTS)
        store.put(ACME, settings(password=PASSWORD), expected_version=None, stack="prod")
        before = store.get(ACME)

    monkeypatch.setenv("SMTP_IAC_STORE_KEY", f"{new},{old}")
    assert run(["store", "rotate-keys", "--store", url]) == 0
    assert "re-encrypted 1 password(s)" in capsys.readouterr().out

    monkeypatch.setenv("SMTP_IAC_STORE_KEY", new)
    with open_store(url) as store:
        assert store.reveal_password(ACME).get_secret_value() == PASSWORD
        after = store.get(ACME)
    assert after.version == before.version  # the settings did not change
    assert after.password_fingerprint != before.password_fingerprint  # a new key, a new fingerprint


def test_audit_lists_writes_and_refusals_without_the_password(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", Fernet.generate_key().decode())
    with open_store(url) as store:
        store.load_tenants(TENANTS)
        store.put(ACME, settings(password=PASSWORD), expected_version=None, stack="prod")
        with pytest.raises(ConflictError):  # the conflict is what we want audited
            store.put(ACME, settings(password=PASSWORD + "2"), expected_version=None, stack="prod")
    capsys.readouterr()
    assert run(["store", "audit", "--store", url, "--address", "partners/acme", "--format", "json"]) == 0
    out = capsys.readouterr().out
    entries = json.loads(out)
    assert [(e["action"], e["outcome"]) for e in entries] == [("create", "ok"), ("create", "conflict")]
    assert run(["store", "audit", "--store", url]) == 0
    text = capsys.readouterr().out
    assert "create partners/acme: conflict" in text
    assert PASSWORD not in out + text
    assert run(["store", "audit", "--store", url, "--address", "nope/x"]) == 1
