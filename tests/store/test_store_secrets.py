"""Passwords at rest: encrypted in the database (sqlite file and WAL, PostgreSQL dump), never in
the audit log, a read result, a repr or an error; keyed fingerprints; key rotation; key file."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from cryptography.fernet import Fernet
from store_helpers import ACME, BLUE, CONTROLLER, TENANTS, settings

from smtp_iac.errors import ConflictError, OwnershipError, StoreKeyError
from smtp_iac.store import open_store

PLAIN = "Tr0ub4dor&3-plain-text-password"


def _write_everything(store) -> None:
    store.load_tenants(TENANTS)
    store.put(CONTROLLER, settings(password=PLAIN), expected_version=None, stack="prod")
    store.put(ACME, settings(password=PLAIN + "-acme"), expected_version=None, stack="prod")
    store.put(BLUE, settings(password="first"), expected_version=None, stack="prod")
    store.put(BLUE, settings(password=PLAIN), expected_version=1, stack="prod")  # old value moves to history
    for attempt in (
        lambda: store.put(ACME, settings(password=PLAIN), expected_version=None, stack="prod"),
        lambda: store.put(ACME, settings(password=PLAIN), expected_version=1, stack="other"),
    ):
        with pytest.raises((ConflictError, OwnershipError)) as e:
            attempt()
        assert PLAIN not in str(e.value) and PLAIN not in repr(e.value)
    store.record_attempt(
        ACME,
        stack="prod",
        action="update",
        outcome="verify_failed",
        detail="auth_failed",
        new_fingerprint=store.fingerprint(CONTROLLER, PLAIN),
    )


def _assert_reads_hide(store) -> None:
    texts = []
    snap = store.snapshot()
    texts += [repr(snap), str(snap)]
    for rec in list(snap.records.values()) + store.list_records() + [store.get(CONTROLLER)]:
        texts += [repr(rec), str(rec), rec.model_dump_json(), str(rec.model_dump())]
    for res in snap.effective_all().values():
        texts.append(repr(res))
    entries = store.audit_log()
    assert entries
    for entry in entries:
        texts += [repr(entry), str(entry.to_dict())]
    texts += [repr(store), repr(store.db.keys), repr(store.reveal_password(CONTROLLER))]
    for t in texts:
        assert PLAIN not in t
    # ...while the secret really is there for the verify check
    assert store.reveal_password(CONTROLLER).get_secret_value() == PLAIN


def test_plain_password_absent_from_reads_audit_and_errors(store):
    _write_everything(store)
    _assert_reads_hide(store)
    fp = store.fingerprint(CONTROLLER, PLAIN)
    assert store.get(CONTROLLER).password_fingerprint == fp
    assert {a.new_fingerprint for a in store.audit_log(address=BLUE)} >= {fp}


def test_plain_password_absent_from_sqlite_file_and_wal(tmp_path, key):
    url = f"sqlite:///{tmp_path}/s/store.db"
    store = open_store(url)
    _write_everything(store)
    files = [p for p in (tmp_path / "s").iterdir()]
    names = {p.name for p in files}
    assert {"store.db", "store.db-wal"} <= names  # read while the WAL still holds the writes
    blobs = {p.name: p.read_bytes() for p in files}
    store.close()
    blobs.update({p.name + " (closed)": p.read_bytes() for p in (tmp_path / "s").iterdir()})
    for name, data in blobs.items():
        assert PLAIN.encode() not in data, name
    # the database is really there and readable: the host names are in it in clear
    assert any(b"smtp.example.com" in d for d in blobs.values())


def test_plain_password_absent_from_pg_dump(pg_backend):
    backend = pg_backend
    with open_store(backend.url) as store:
        _write_everything(store)
    if shutil.which("pg_dump"):
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--schema", backend.schema, "--dbname", backend.dsn],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    else:  # dump every table as text with SQL
        import psycopg

        with psycopg.connect(backend.url) as conn:
            dump = "\n".join(
                str(conn.execute(f"SELECT * FROM {t}").fetchall())
                for t in ("partners", "organizations", "records", "audit", "meta", "schema_migrations")
            )
    assert "smtp.example.com" in dump and "hmac-sha256:" in dump  # the dump has the records
    assert PLAIN not in dump


def test_fingerprint_is_keyed_and_stable(tmp_path, monkeypatch):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with (
        open_store(f"sqlite:///{tmp_path}/a.db", key=k1) as a,
        open_store(f"sqlite:///{tmp_path}/b.db", key=k1) as b,
        open_store(f"sqlite:///{tmp_path}/c.db", key=k2) as c,
    ):
        assert a.fingerprint(CONTROLLER, PLAIN) == b.fingerprint(CONTROLLER, PLAIN)  # same key, same password
        assert a.fingerprint(CONTROLLER, PLAIN) != c.fingerprint(CONTROLLER, PLAIN)  # another key: no offline guessing
        assert a.fingerprint(CONTROLLER, PLAIN) != a.fingerprint(CONTROLLER, PLAIN + "x")
        import hashlib

        assert hashlib.sha256(PLAIN.encode()).hexdigest()[:16] not in a.fingerprint(CONTROLLER, PLAIN)


def test_key_rotation_reencrypts_and_old_records_still_decrypt(backend, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with open_store(backend.url, key=old) as store:
        store.load_tenants(TENANTS)
        store.put(CONTROLLER, settings(password=PLAIN), expected_version=None, stack="prod")
        store.put(ACME, settings(password="acme-pw"), expected_version=None, stack="prod")
        tokens_before = _tokens(store)
        versions = {a: r.version for a, r in store.snapshot().records.items()}

    with open_store(backend.url, key=f"{new},{old}") as store:
        # before rotation: old records decrypt, fingerprints already answer under the new key
        assert store.reveal_password(CONTROLLER).get_secret_value() == PLAIN
        assert store.get(CONTROLLER).password_fingerprint == store.fingerprint(CONTROLLER, PLAIN)
        assert store.rotate_keys() == 2
        tokens_after = _tokens(store)
        assert all(tokens_after[a] != tokens_before[a] for a in tokens_before)
        assert {a: r.version for a, r in store.snapshot().records.items()} == versions
        assert store.audit_log()[-1].action == "rotate-keys"

    with open_store(backend.url, key=new) as store:  # the old key is no longer needed
        assert store.reveal_password(CONTROLLER).get_secret_value() == PLAIN
        assert store.reveal_password(ACME).get_secret_value() == "acme-pw"
        assert store.get(ACME).password_fingerprint == store.fingerprint(ACME, "acme-pw")
        for token in _tokens(store).values():
            Fernet(new.encode()).decrypt(token.encode())

    with pytest.raises(StoreKeyError) as e:  # and the old key alone no longer opens it
        open_store(backend.url, key=old)
    assert old not in str(e.value) and new not in str(e.value)


def _tokens(store) -> dict[str, str]:
    with store.db.read() as cur:
        return dict(store.db.x(cur, "SELECT address, password_enc FROM records").fetchall())


def test_wrong_key_is_refused_before_anything_is_read(backend):
    with open_store(backend.url):
        pass
    other = Fernet.generate_key().decode()
    with pytest.raises(StoreKeyError) as e:
        open_store(backend.url, key=other)
    assert "does not fit" in e.value.message and other not in str(e.value)


def test_malformed_key_is_refused_without_echoing_it(backend):
    with pytest.raises(StoreKeyError) as e:
        open_store(backend.url, key="not-a-fernet-key-but-secret")
    assert "not a Fernet key" in e.value.message and "not-a-fernet-key-but-secret" not in str(e.value)


# ----- sqlite key file --------------------------------------------------------------------


def test_sqlite_key_file_made_on_first_use_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    db = tmp_path / "deep" / "dir" / "store.db"
    with open_store(f"sqlite:///{db}") as store:
        store.load_tenants(TENANTS)
        store.put(ACME, settings(password=PLAIN), expected_version=None, stack="prod")
    keyfile = tmp_path / "deep" / "dir" / "store.db.key"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    Fernet(keyfile.read_text().strip().encode())  # a real Fernet key
    with open_store(f"sqlite:///{db}") as again:  # the same key file opens it again
        assert again.reveal_password(ACME).get_secret_value() == PLAIN
    assert PLAIN.encode() not in keyfile.read_bytes()


def test_sqlite_relative_url_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///.smtp-iac/store.db") as store:
        assert store.url_for_display == "sqlite:///.smtp-iac/store.db"
    assert (tmp_path / ".smtp-iac" / "store.db").exists()
    assert (tmp_path / ".smtp-iac" / "store.db.key").exists()


def test_sqlite_key_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    url = f"sqlite:///{tmp_path}/store.db"
    open_store(url).close()
    os.chmod(tmp_path / "store.db.key", 0o644)
    with pytest.raises(StoreKeyError) as e:
        open_store(url)
    assert "chmod 600" in e.value.hint


def test_sqlite_missing_key_file_for_existing_data_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    url = f"sqlite:///{tmp_path}/store.db"
    open_store(url).close()
    (tmp_path / "store.db.key").unlink()
    with pytest.raises(StoreKeyError) as e:
        open_store(url)
    assert "key file" in e.value.message
    assert not (tmp_path / "store.db.key").exists()  # no new key silently made


def test_env_key_wins_over_key_file(tmp_path, monkeypatch):
    k = Fernet.generate_key().decode()
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", k)
    with open_store(f"sqlite:///{tmp_path}/store.db"):
        pass
    assert not (tmp_path / "store.db.key").exists()
    monkeypatch.delenv("SMTP_IAC_STORE_KEY")
    with pytest.raises(StoreKeyError):  # made with the env key; no key file to fall back on
        open_store(f"sqlite:///{tmp_path}/store.db")


def test_postgres_without_a_key_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    with pytest.raises(StoreKeyError) as e:
        open_store("postgresql://postgres@127.0.0.1:5432/test")
    assert "SMTP_IAC_STORE_KEY" in e.value.message and "generate_key" in e.value.hint


def test_sqlite_unusable_key_file_locations_are_errors_not_tracebacks(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_IAC_STORE_KEY", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreKeyError) as e:
        open_store(f"sqlite:///{blocker}/sub/store.db")
    assert "key file" in e.value.message
    (tmp_path / "store.db.key").write_bytes(b"\xff\xfe not ascii")
    os.chmod(tmp_path / "store.db.key", 0o600)
    with pytest.raises(StoreKeyError) as e:
        open_store(f"sqlite:///{tmp_path}/store.db")
    assert "not a Fernet key" in e.value.message
