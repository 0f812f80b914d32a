"""Real processes against a real store, on both backends: two writers racing for the same
address, and a writer killed with SIGKILL in the middle of a bulk write."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from store_helpers import run_worker

from smtp_iac.addresses import Address
from smtp_iac.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROUNDS = 4


def _wait(path: str, procs, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        for p in procs:
            if p.poll() is not None and p.returncode != 0:
                raise AssertionError(f"worker failed: {p.stderr.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.005)


def test_two_processes_racing_for_one_address(store_url, tmp_path):
    with open_store(store_url) as store:
        store.load_tenants({"partners": {"acme": {}}})
    sync = tmp_path / "sync"
    sync.mkdir()
    tags = ("alpha", "beta")
    procs = [run_worker("race", store_url, str(sync), tag, str(ROUNDS)) for tag in tags]
    try:
        for tag in tags:
            _wait(str(sync / f"ready-{tag}"), procs)
        results = []
        for r in range(ROUNDS):
            (sync / f"go-{r}").touch()  # both workers are polling for it: they start together
            for tag in tags:
                _wait(str(sync / f"res-{r}-{tag}"), procs)
            results.append({tag: json.loads((sync / f"res-{r}-{tag}").read_text()) for tag in tags})
        for p in procs:
            assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    with open_store(store_url) as store:
        audit = [a for a in store.audit_log(address=Address("acme"))]
        final = store.get(Address("acme"))
        for r, res in enumerate(results):
            winners = [t for t in tags if "ok" in res[t]]
            losers = [t for t in tags if "conflict" in res[t]]
            assert len(winners) == 1 and len(losers) == 1, (r, res)
            assert res[winners[0]] == {"ok": r + 1}
            expected = None if r == 0 else r
            assert res[losers[0]] == {"conflict": [expected, r + 1]}
        # the audit agrees: one ok and one conflict per round, the ok ones by the winners
        oks = [a for a in audit if a.outcome == "ok"]
        conflicts = [a for a in audit if a.outcome == "conflict"]
        assert len(audit) == 2 * ROUNDS and len(oks) == ROUNDS and len(conflicts) == ROUNDS
        winners_in_order = [next(t for t in tags if "ok" in res[t]) for res in results]
        assert [a.actor for a in oks] == winners_in_order
        assert sorted(a.actor for a in conflicts) == sorted(
            next(t for t in tags if "conflict" in res[t]) for res in results
        )
        # nothing lost: the record is the last winner's write, whole
        last = winners_in_order[-1]
        assert (final.version, final.host, final.updated_by) == (ROUNDS, f"{last}-{ROUNDS - 1}.example.com", last)
        assert store.reveal_password(Address("acme")).get_secret_value() == f"pw-{last}-{ROUNDS - 1}"
        assert final.password_fingerprint == oks[-1].new_fingerprint


def test_sigkill_during_bulk_write_leaves_every_record_whole(store_url):
    orgs = 12
    with open_store(store_url) as store:
        store.load_tenants(
            {"partners": {"bulk": {"organizations": {f"o{i}": {"smtp_enabled": True} for i in range(orgs)}}}}
        )
    proc = run_worker("bulk", store_url, "100000", str(orgs))
    try:
        done = 0
        while done < 150:  # well into the run: every org has been created and rewritten
            line = proc.stdout.readline()
            assert line, f"worker ended early: {proc.stderr.read()}"
            done = int(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        printed = [int(x.split()[1]) for x in proc.stdout.read().split("\n") if x.startswith("done ")]
        done = max(printed, default=done)  # every put it reported had committed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with open_store(store_url) as store:
        snap = store.snapshot()
        records = {a: r for a, r in snap.records.items() if a.partner == "bulk"}
        assert len(records) == orgs
        total_versions = 0
        for address, rec in records.items():
            g = rec.version - 1  # generation g was written as version g + 1
            assert (rec.host, rec.port, rec.username) == (f"h{g}.example.com", 1000 + g, f"u{g}"), address
            password = store.reveal_password(address).get_secret_value()
            assert password == f"pw-{g}"
            assert rec.password_fingerprint == store.fingerprint(address, password)
            oks = [a for a in store.audit_log(address=address) if a.outcome == "ok"]
            assert len(oks) == rec.version  # one audited write per version, no more, no less
            assert [a.action for a in oks] == ["create"] + ["update"] * (rec.version - 1)
            assert oks[-1].new_fingerprint == rec.password_fingerprint
            total_versions += rec.version
        # every reported write is there; at most one more (committed, killed before it printed)
        assert done <= total_versions <= done + 1
        # the killed writer holds no lock: the store takes a new write at once
        any_org = Address("bulk", "o0")
        store.put(
            any_org, _settings_of(records[any_org].version), expected_version=records[any_org].version, stack="bulk"
        )


def _settings_of(g: int):
    from store_worker import gen_settings

    return gen_settings(g)


def test_many_pipelines_opening_a_new_store_at_once(store_url):
    """First use by several pipelines at the same moment: migrations and the key check run
    once, nobody fails, everybody sees the same schema (separate connections, in threads)."""
    import threading

    from smtp_iac.store.schema import LATEST

    barrier = threading.Barrier(6)
    results: list[object] = []

    def opener():
        barrier.wait()
        try:
            with open_store(store_url) as s:
                results.append(s.schema_version())
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            results.append(e)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [LATEST] * 6
    with open_store(store_url) as s, s.db.read() as cur:
        assert s.db.x(cur, "SELECT count(*) FROM schema_migrations").fetchone()[0] == LATEST
        assert s.db.x(cur, "SELECT count(*) FROM meta WHERE name = 'key_check'").fetchone()[0] == 1


def test_one_store_shared_by_threads(store_url):
    """The Pulumi provider may call one store from several gRPC threads."""
    from concurrent.futures import ThreadPoolExecutor

    from store_helpers import settings

    with open_store(store_url) as s:
        s.load_tenants({"partners": {f"p{i}": {} for i in range(8)}})
        with ThreadPoolExecutor(4) as pool:
            recs = list(
                pool.map(
                    lambda i: s.put(
                        Address(f"p{i}"), settings(host=f"h{i}.example.com"), expected_version=None, stack="t"
                    ),
                    range(8),
                )
            )
        assert [w.record.version for w in recs] == [1] * 8
        assert {str(a): r.host for a, r in s.snapshot().records.items()} == {
            f"partners/p{i}": f"h{i}.example.com" for i in range(8)
        }
        assert len([a for a in s.audit_log() if a.action == "create"]) == 8


def test_openers_racing_on_many_new_sqlite_files_all_get_wal(tmp_path, key):
    """The race behind the test above, repeated until it would show: six threads open the same
    new SQLite file at once, on 100 fresh files. Switching a new file to WAL while others open
    it can fail with "database is locked" without SQLite's busy handler ever being called
    (1 round in about 30 failed before the store retried the switch)."""
    import threading

    failures: list[str] = []
    for n in range(100):
        url = f"sqlite:///{tmp_path}/race{n}/store.db"
        barrier = threading.Barrier(6)

        def opener(url: str = url, barrier: threading.Barrier = barrier, n: int = n) -> None:
            barrier.wait()
            try:
                with open_store(url) as s, s.db.read() as cur:
                    assert s.db.x(cur, "PRAGMA journal_mode").fetchone()[0] == "wal"
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                failures.append(f"round {n}: {e!r}")

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert failures == []
