"""The real service (uvicorn on loopback, ``create_app`` as ``smtp-iac serve`` makes it) while
its PostgreSQL misbehaves under a bounded load from real HTTP clients (``load.Load``):

- a restart and a 3-second outage of a cluster of the test's own (``pg_cluster``), served by
  two instances sharing it;
- every connection of the service terminated by the server (``pg_terminate_backend``), and
  a table locked by another session, on the shared server.

Counted each time: answers by status (only 200 and 503, every 503 problem+json with
``Retry-After`` and its fault), no request past SPEC's 10 s, every request begun 5 s after the
database answered again answered normally, ``/healthz`` answering throughout, and no write lost
or applied twice: each writer's account from the answers alone equals the store's version and
its audit trail afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from live_service import ServerThread
from load import Answer, Load, Writer
from pg_cluster import own_cluster
from pg_support import fresh_schema, with_schema
from service_support import BLUE, INITECH, config_for, relay_body, seed

from smtp_iac.addresses import Address
from smtp_iac.service.app import create_app
from smtp_iac.store import open_store
from smtp_iac.store.limits import REQUEST_BUDGET_S

pytestmark = pytest.mark.timeout(240)

SPEC_LIMIT_S = REQUEST_BUDGET_S
RECOVERY_S = 5.0


@contextlib.contextmanager
def serving(store_url: str, relay, ca_path, instances: int = 1) -> Iterator[tuple[list[str], dict[str, str]]]:
    """``instances`` services over one store (seeded first, through a connection of its own)."""
    with open_store(store_url) as store:
        tokens = seed(store, relay)
    servers = [ServerThread(create_app(config_for(store_url, ca_path))).start() for _ in range(instances)]
    try:
        yield [s.url for s in servers], tokens
    finally:
        for s in servers:
            s.stop()


def writers() -> list[Writer]:
    return [Writer(str(BLUE), 1), Writer(str(INITECH), 1)]


def check_answers(answers: list[Answer], recovered_at: list[float]) -> Counter[int]:
    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {200, 503}, statuses
    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds < SPEC_LIMIT_S, slowest
    for a in answers:
        if a.status == 503:
            assert a.retry_after is not None and int(a.retry_after) > 0, a
            assert a.body.get("status") == 503 and a.body.get("fault"), a
            if a.kind == "write":
                assert a.body.get("write") in ("not_applied", "unknown"), a
    for up in recovered_at:
        late = [a for a in answers if up + RECOVERY_S <= a.started < up + RECOVERY_S + 1.5]
        assert late, "no request was made after the recovery window"
        assert all(a.status == 200 for a in late), (up, [a for a in late if a.status != 200][:3])
    return statuses


def check_writes(store_url: str, load: Load) -> None:
    """Each writer's account equals the store: its version, and one audited update per write."""
    assert not load.problems, load.problems
    assert not [a for a in load.answers if a.kind == "write" and a.status == 412]
    with open_store(store_url, create=False) as store:
        for w in load.writers:
            address = Address.parse(w.address)
            record = store.get(address)
            assert record is not None and record.version == 1 + w.applied, (w, record)
            updates = [e for e in store.audit_log(address=address) if e.action == "update" and e.outcome == "ok"]
            assert len(updates) == w.applied, (w, len(updates))
            assert w.applied > 0


class Probe:
    """``/healthz`` asked every 100 ms in a thread: the slowest answer, and any that failed. It
    answers from the event loop: a database fault (a lock held 6 s, an outage) must not hold it,
    so the bound (3 s) is far below the fault and far above a loaded machine's jitter."""

    def __init__(self, url: str):
        self.url = url
        self.slowest = 0.0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.wait(0.1):
                start = time.monotonic()
                try:
                    status = client.get("/healthz").status_code
                except httpx.HTTPError as e:
                    self.failed.append(type(e).__name__)
                    continue
                self.slowest = max(self.slowest, time.monotonic() - start)
                if status != 200:
                    self.failed.append(str(status))

    def stop(self) -> Probe:
        self._stop.set()
        self._thread.join(10)
        return self


DB_PASSWORD = "Pg-Secret-4417-never-shown"


def test_a_restart_and_an_outage_cost_seconds_of_503s_on_two_instances(relay, ca_path, key, caplog):
    caplog.set_level(logging.INFO)
    cluster = own_cluster()
    try:
        # the cluster trusts loopback, so any password will do: one that must never be shown
        store_url = cluster.dsn.replace("postgres@", f"postgres:{DB_PASSWORD}@") + "?application_name=smtp-iac-svc"
        with serving(store_url, relay, ca_path, instances=2) as (urls, tokens):
            load = Load(urls, tokens["sysadmin"], str(BLUE), writers(), relay_body(relay)).start()
            health = Probe(urls[0])
            time.sleep(1.5)
            cluster.restart()  # a minor upgrade: fast shutdown, start
            cluster.wait_answering()
            first_up = time.monotonic()
            time.sleep(RECOVERY_S + 2)  # the next fault comes after the recovery window checked
            cluster.stop()  # an outage: down for 3 s
            time.sleep(3)
            cluster.start()
            cluster.wait_answering()
            second_up = time.monotonic()
            time.sleep(RECOVERY_S + 2)
            answers = load.stop()
            health.stop()
        statuses = check_answers(answers, [first_up, second_up])
        assert statuses[503] > 0, "the outage was never seen: the test tested nothing"
        served = {a.url.rstrip("/") for a in answers if a.status == 200 and a.started > second_up}
        assert served == set(urls), served  # both instances came back
        assert not health.failed and health.slowest < 3.0, (health.failed, health.slowest)
        check_writes(store_url, load)
        assert DB_PASSWORD not in caplog.text  # the pool's warnings, the access log
        assert not [a for a in answers if DB_PASSWORD in str(a.body)]
    finally:
        cluster.destroy()


def test_readyz_reports_the_store_as_it_is_now_both_ways(relay, ca_path, key):
    cluster = own_cluster()
    try:
        with serving(cluster.dsn, relay, ca_path) as (urls, _tokens), httpx.Client(base_url=urls[0]) as client:
            assert client.get("/readyz").status_code == 200
            cluster.stop()
            start = time.monotonic()
            down = client.get("/readyz")
            assert down.status_code == 503 and down.headers["retry-after"]
            assert time.monotonic() - start < 3
            assert client.get("/healthz").status_code == 200  # the process is fine: no restart
            cluster.start()
            cluster.wait_answering()
            up = time.monotonic()
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() - up < RECOVERY_S, "/readyz stayed 503 after the database answered"
                time.sleep(0.1)
    finally:
        cluster.destroy()


@pytest.fixture
def shared(relay, ca_path, key):
    """The service over a fresh schema of the shared server, its connections named uniquely."""
    with fresh_schema() as (url, dsn, schema):
        app = f"smtp-iac-svc-{uuid.uuid4().hex[:8]}"
        store_url = f"{url}&application_name={app}"
        with serving(store_url, relay, ca_path) as (urls, tokens):
            yield store_url, dsn, schema, app, urls, tokens


def test_terminated_connections_cost_no_outage(shared, relay):
    store_url, dsn, _schema, app, urls, tokens = shared
    load = Load(urls, tokens["sysadmin"], str(BLUE), writers(), relay_body(relay)).start()
    killed = 0
    with psycopg.connect(dsn, autocommit=True) as admin:
        for _ in range(4):
            time.sleep(1.0)
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
            ).fetchall()
            killed += len(rows)
    time.sleep(1.0)
    answers = load.stop()
    assert killed >= 4
    statuses = check_answers(answers, [])
    assert statuses[200] > 20
    assert statuses[503] <= 2, statuses  # a connection lost mid-statement; a lost idle one costs nothing
    check_writes(store_url, load)


def test_a_held_table_lock_ends_requests_in_seconds_and_holds_no_worker(shared, relay):
    store_url, dsn, schema, _app, urls, tokens = shared
    load = Load(urls, tokens["sysadmin"], str(BLUE), writers(), relay_body(relay), readers=6).start()
    health = Probe(urls[0])
    time.sleep(1.0)
    with psycopg.connect(with_schema(dsn, schema)) as locker:
        locker.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
        time.sleep(6)
        with httpx.Client(base_url=urls[0]) as client:
            assert client.get("/readyz").status_code == 200  # the store answers; one table is locked
        locker.rollback()
    released = time.monotonic()
    time.sleep(2.0)
    answers = load.stop()
    health.stop()
    statuses = check_answers(answers, [])
    locked = [a for a in answers if a.status == 503]
    assert locked and {a.body["fault"] for a in locked} == {"lock"}
    assert all(a.status == 200 for a in answers if a.started > released + 0.5)
    assert not health.failed and health.slowest < 3.0, (health.failed, health.slowest)
    assert statuses[200] > 0
    check_writes(store_url, load)
    with httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {tokens['viewer']}"}) as client:
        metrics = client.get("/metrics").text
    assert 'smtp_iac_store_faults_total{fault="lock"' in metrics
