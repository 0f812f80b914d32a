"""The store a provider uses (``runconfig``): explicit config, then ``SMTP_IAC_STORE``, then the
stack file's ``store:``, then the default (the CLI's order, ``resolve_store_url``). The stack
file is read once per process per version of the file, through the providers' own methods:
many calls, one read; an edited file is read again and its new store is used."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pulumi_support import PASSWORD, TENANTS, USER, configured

import smtp_iac.reading.stackfile
from smtp_iac.errors import StoreError
from smtp_iac.pulumi.provider import SmtpInheritanceProvider, SmtpSettingsProvider
from smtp_iac.pulumi.runconfig import STACK_STORES, RunConfig, StackStores
from smtp_iac.store import DEFAULT_URL, open_store

pytestmark = pytest.mark.timeout(120)

STACK_FILE = "stacks/prod.yaml"


def stack_text(store_url: str) -> str:
    return f"version: 1\nstore: {store_url}\ncontroller:\n  smtp: inherit\n"


def inputs(**over):
    d = {
        "address": "partners/acme",
        "stack": "prod",
        "stack_file": STACK_FILE,
        "host": "127.0.0.1",
        "port": 2525.0,
        "tls": True,
        "username": USER,
        "password": PASSWORD,
        "verify": {"mode": "off"},
    }
    d.update(over)
    return d


@pytest.fixture
def project(tmp_path: Path, monkeypatch, store):
    """A project root as the working directory (the host's), no store in the environment, and
    every stack file read counted (``stackfile.read``, which the provider reads through)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    monkeypatch.delenv("SMTP_IAC_TOKEN", raising=False)
    (tmp_path / "stacks").mkdir()
    STACK_STORES.clear()
    reads: list[str] = []
    real_read = smtp_iac.reading.stackfile.read

    def counting_read(path):
        reads.append(str(path))
        return real_read(path)

    monkeypatch.setattr(smtp_iac.reading.stackfile, "read", counting_read)
    yield tmp_path, reads
    STACK_STORES.clear()


def test_many_calls_read_the_stack_file_once_and_an_edit_is_seen(project, store):
    root, reads = project
    (root / STACK_FILE).write_text(stack_text("sqlite:///state/store.db"))  # the fixture's store
    cfg = {"smtp-iac:storeKey": store.key}
    p, q = configured(SmtpSettingsProvider, cfg), configured(SmtpInheritanceProvider, cfg)

    props = p.check({}, inputs()).inputs
    outs = p.create(props).outs
    for _ in range(20):
        assert p.read("partners/acme", {**props, **outs}).id == "partners/acme"
        assert not p.diff("partners/acme", {**props, **outs}, props).changes
        q.read("partners/globex", {"address": "partners/globex", "stack": "prod", "stack_file": STACK_FILE})
    outs = p.update("partners/acme", {**props, **outs}, {**props, "port": 2526.0}).outs
    assert outs["version"] == 2
    assert reads == [STACK_FILE], "one read for 63 calls of both providers"
    with store.open() as s:
        assert [r.port for r in s.list_records()] == [2526]

    # the edit: another store (a different length, so the file's size changes too)
    other = root / "elsewhere" / "store.db"
    other.parent.mkdir()
    with open_store(f"sqlite:///{other}", key=store.key) as s:
        s.load_tenants(TENANTS, actor="test")
    (root / STACK_FILE).write_text(stack_text("sqlite:///elsewhere/store.db"))
    assert p.read("partners/acme", {**props, **outs}).id == "", "the new store has no record yet"
    assert p.create(props).outs["version"] == 1
    for _ in range(5):
        p.read("partners/acme", props)
    assert reads == [STACK_FILE, STACK_FILE], "read again once, after the edit"
    with open_store(f"sqlite:///{other}", key=store.key) as s:
        assert [str(r.address) for r in s.list_records()] == ["partners/acme"]
    with store.open() as s:
        assert [r.version for r in s.list_records()] == [2], "the first store is left as it was"


def test_an_explicit_store_reads_no_stack_file(project, store, monkeypatch):
    """Config or ``SMTP_IAC_STORE``: the stack file is never read (``pulumi destroy`` works
    with the file gone)."""
    _root, reads = project
    p = configured(SmtpSettingsProvider, store.config())
    outs = p.create(inputs()).outs
    p.read("partners/acme", {**inputs(), **outs})
    monkeypatch.setenv("SMTP_IAC_STORE", store.url)
    q = configured(SmtpSettingsProvider, {"smtp-iac:storeKey": store.key})
    q.delete("partners/acme", {**inputs(), **outs})
    assert reads == []
    with store.open() as s:
        assert s.list_records() == []


def test_a_stack_file_that_does_not_load_fails_and_is_read_again(project, store):
    root, reads = project
    p = configured(SmtpSettingsProvider, {"smtp-iac:storeKey": store.key})
    for _ in range(2):
        with pytest.raises(StoreError, match="cannot tell which store to use") as e:
            p.read("partners/acme", inputs())
        assert "smtp-iac:store" in (e.value.hint or "")
    assert reads == [STACK_FILE, STACK_FILE], "a failure is not kept"
    (root / STACK_FILE).write_text(stack_text("sqlite:///state/store.db"))
    assert p.create(inputs()).outs["version"] == 1
    assert len(reads) == 3


def test_the_order_is_the_clis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMTP_IAC_STORE", raising=False)
    stacks = StackStores(reader=lambda _path: "sqlite:///stack.db")
    monkeypatch.setattr("smtp_iac.pulumi.runconfig.STACK_STORES", stacks)
    (tmp_path / "s.yaml").write_text("x")

    def url(cfg: dict[str, str], stack_file: str | None = "s.yaml") -> str:
        return RunConfig.resolve(cfg.get).store_for(stack_file)

    assert url({}) == "sqlite:///stack.db"
    assert url({}, None) == DEFAULT_URL
    monkeypatch.setenv("SMTP_IAC_STORE", " sqlite:///env.db ")
    assert url({}) == "sqlite:///env.db"
    assert url({"smtp-iac:store": "sqlite:///config.db"}) == "sqlite:///config.db"
    assert url({"smtp-iac:store": "  "}) == "sqlite:///env.db", "a blank config value is unset"
    assert stacks.reads == 1


def test_token_key_and_adopt_fall_back_to_the_environment(monkeypatch):
    for name in ("SMTP_IAC_STORE", "SMTP_IAC_STORE_KEY", "SMTP_IAC_TOKEN", "SMTP_IAC_ADOPT"):
        monkeypatch.delenv(name, raising=False)
    assert RunConfig.resolve(lambda _k: None) == RunConfig()
    monkeypatch.setenv("SMTP_IAC_TOKEN", "env-token")
    monkeypatch.setenv("SMTP_IAC_STORE_KEY", "env-key")
    monkeypatch.setenv("SMTP_IAC_ADOPT", "yes")
    assert RunConfig.resolve(lambda _k: None) == RunConfig(None, "env-key", "env-token", True)
    cfg = {"smtp-iac:token": "cfg-token", "smtp-iac:storeKey": "cfg-key", "smtp-iac:adopt": "false"}
    assert RunConfig.resolve(cfg.get) == RunConfig(None, "cfg-key", "cfg-token", False)


def test_concurrent_first_calls_read_the_stack_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("x")

    def slow_reader(_path: str) -> str:
        time.sleep(0.2)
        return "sqlite:///stack.db"

    stacks = StackStores(reader=slow_reader)
    barrier = threading.Barrier(8)
    seen: list[str | None] = []

    def call() -> None:
        barrier.wait()
        seen.append(stacks.store_of("s.yaml"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["sqlite:///stack.db"] * 8 and stacks.reads == 1
