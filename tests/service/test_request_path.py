"""A request's path through the service: its token's facts kept in process while every request
still reads whether the token was revoked (on every instance, at once); its point reads made on
the event loop where the store answers them without waiting, else in one hand-off to the
store's own threads, which answer 503 rather than queue for ever; refused writes charged only
where they are made; and the request log written in batches."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from live_service import ServerThread
from service_support import ACME, BLUE, Svc, config_for, path, relay_body

from smtp_iac.errors import StoreUnavailable
from smtp_iac.service.app import create_app
from smtp_iac.service.budgets import ChargedAudit
from smtp_iac.service.handoff import StoreThreads
from smtp_iac.service.telemetry import AccessLog
from smtp_iac.store import AuditAction, AuditOutcome, open_store
from smtp_iac.store.db import WouldWait, without_waiting
from smtp_iac.store.limits import POOLED

T = TypeVar("T")


def in_a_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``main()`` on an event loop of its own, in a thread of its own (a browser test earlier in
    the run may leave a loop running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


@pytest.fixture
def svc(backend, relay, ca_path) -> Iterator[Svc]:
    from service_support import running

    with running(backend, relay, ca_path, allow_unverified=True) as s:
        yield s


@pytest.fixture
def handoffs(monkeypatch) -> list[Any]:
    """Every call handed to a store thread."""
    calls: list[Any] = []
    original = StoreThreads.run

    async def counting(self: StoreThreads, fn: Any, *args: Any) -> Any:
        calls.append(fn)
        return await original(self, fn, *args)

    monkeypatch.setattr(StoreThreads, "run", counting)
    return calls


def _client(svc: Svc, token: str, url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {svc.tokens[token]}"}, timeout=30)


def _asks(svc: Svc, c: Any) -> list[int]:
    """The hot routes, once each: effective, a scope's record, a scope written (verify off)."""
    effective = c.get(f"/v1/organizations/{path(BLUE)}/effective").status_code
    scope = c.get(f"/v1/scopes/{path(ACME)}")
    body = relay_body(svc.relay, verify={"mode": "off"})
    put = c.put(f"/v1/scopes/{path(ACME)}", json=body, headers={"If-Match": scope.headers.get("etag", '"0"')})
    return [effective, scope.status_code, put.status_code, c.get("/v1/whoami").status_code]


def test_a_revocation_holds_at_once_on_every_route_of_every_instance(svc: Svc) -> None:
    second = ServerThread(create_app(config_for(svc.store_url, svc.ca_file, allow_unverified=True))).start()
    try:
        urls = (svc.url, second.url)
        for url in urls:  # each instance has read the token's facts and keeps them
            with _client(svc, "sysadmin", url) as c:
                assert _asks(svc, c) == [200, 200, 200, 200]
        token_id = svc.tokens["sysadmin"].split("_")[1]
        svc.store.revoke_token(token_id, actor="test")  # as `smtp-iac tokens revoke` does
        for url in urls:
            with _client(svc, "sysadmin", url) as c:
                answers = [
                    c.get(f"/v1/organizations/{path(BLUE)}/effective"),
                    c.get(f"/v1/scopes/{path(ACME)}"),
                    c.put(f"/v1/scopes/{path(ACME)}", json=relay_body(svc.relay), headers={"If-Match": '"1"'}),
                    c.get("/v1/whoami"),
                    c.get(f"/v1/organizations/{path(BLUE)}/effective"),  # and it stays revoked
                ]
                for r in answers:
                    assert r.status_code == 401, (url, r.request.url, r.text)
                    assert r.json()["detail"] == "the token is revoked"
    finally:
        second.stop()
    assert [e.action for e in svc.store.audit_log(address=ACME, limit=100)].count(AuditAction.UPDATE) == 2


def test_point_reads_are_made_on_the_event_loop_where_they_need_no_wait(svc: Svc, handoffs: list[Any]) -> None:
    with svc.client("sysadmin") as c:
        assert _asks(svc, c) == [200, 200, 200, 200]
        handoffs.clear()
        for _ in range(3):
            assert c.get(f"/v1/organizations/{path(BLUE)}/effective").status_code == 200
            assert c.get(f"/v1/scopes/{path(ACME)}").status_code == 200
    if svc.store_url.startswith("sqlite"):
        assert handoffs == []  # a local database answers at once
    else:
        assert len(handoffs) == 6  # a database across the network: one hand-off per request, not three


def test_a_read_that_would_wait_is_handed_to_a_thread(backend: str, relay, ca_path, handoffs) -> None:
    if not backend.startswith("sqlite"):
        pytest.skip("only a local database answers on the event loop")
    from service_support import running

    with running(backend, relay, ca_path) as svc, svc.client("viewer") as c:
        db = svc.app.state.ctx.store._store.db  # the service's own SQLite connections
        assert c.get(f"/v1/organizations/{path(BLUE)}/effective").status_code == 200
        handoffs.clear()
        with db._now_one.lock:  # the event loop's connection is taken (as while the store closes)
            r = c.get(f"/v1/organizations/{path(BLUE)}/effective")
        assert r.status_code == 200 and r.json()["source"] == str(BLUE)
        assert len(handoffs) == 1


def test_without_waiting_a_store_reads_where_it_can_and_never_writes(tmp_path: Path, key: str) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with open_store(url) as one:
        one.load_tenants({"partners": {"acme": {"organizations": {"blue": {}}}}})
        with without_waiting(), pytest.raises(WouldWait):
            one.get(ACME)  # one connection, shared with writes: it may be taken
    with open_store(url, limits=POOLED) as pooled:
        with without_waiting():
            assert pooled.get(ACME) is None and pooled.find_org(str(BLUE)).name == "blue"
            with pytest.raises(WouldWait):
                pooled.set_smtp_enabled(BLUE, True, actor="test")
        assert pooled.find_org(str(BLUE)).smtp_enabled is False  # nothing was written
        assert [e.action for e in pooled.audit_log(limit=10)] == [AuditAction.TENANTS_LOAD]


def test_a_refused_attempt_is_charged_only_where_it_is_audited(tmp_path: Path, key: str) -> None:
    charged: list[Any] = []
    with open_store(f"sqlite:///{tmp_path}/store.db", limits=POOLED) as store:
        store.load_tenants({"partners": {"acme": {"organizations": {}}}})
        audited = ChargedAudit(store, charged.append)
        kw: dict[str, Any] = dict(stack=None, action=AuditAction.UPDATE, outcome=AuditOutcome.REFUSED, detail="x")
        with without_waiting(), pytest.raises(WouldWait):
            audited.record_attempt(ACME, actor="test", **kw)
        assert charged == []  # tried on the event loop: nothing charged, nothing audited
        audited.record_attempt(ACME, actor="test", **kw)
        assert charged == [ACME]
        assert [e.outcome for e in store.audit_log(address=ACME, limit=10)] == [AuditOutcome.REFUSED]


def test_store_threads_answer_busy_rather_than_queue_past_the_stores_wait() -> None:
    threads = StoreThreads(1, wait_s=0.2, display="sqlite:///x")
    release = threading.Event()

    async def main() -> list[Any]:
        first = asyncio.ensure_future(threads.run(release.wait, 10))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(threads.run(lambda: "read"))
        await asyncio.sleep(0.4)  # the second waits behind the first, longer than the store's wait
        release.set()
        return list(await asyncio.gather(first, second, return_exceptions=True))

    try:
        first, second = in_a_loop(main)
    finally:
        threads.close()
    assert first is True
    assert isinstance(second, StoreUnavailable) and second.fault == "busy" and second.retry_after == 1
    assert "no connection was free within 0.2 s" in second.message


def test_store_threads_hand_back_results_and_errors_to_the_request() -> None:
    threads = StoreThreads(2, wait_s=5, display="x")

    def fails() -> None:
        raise ValueError("from the store thread")

    async def main() -> list[Any]:
        return list(await asyncio.gather(threads.run(sum, [1, 2]), threads.run(fails), return_exceptions=True))

    try:
        total, error = in_a_loop(main)
    finally:
        threads.close()
    assert total == 3 and isinstance(error, ValueError) and str(error) == "from the store thread"


def test_the_request_log_is_written_in_batches_of_whole_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smtp_iac.service.access")
    log = AccessLog(every=0.05, most=30)  # {"n": 1} is 8 bytes and a newline: three fit

    async def main() -> list[int]:
        sizes = []
        log({"n": 1})
        log({"n": 2})
        sizes.append(len(caplog.records))  # nothing yet: the batch is open
        await asyncio.sleep(0.2)
        sizes.append(len(caplog.records))  # written once its time was up
        for n in range(3, 7):
            log({"n": n})
        sizes.append(len(caplog.records))  # the fourth line would not fit: three written at once
        log({"n": 7})
        log.flush()  # as at shutdown
        sizes.append(len(caplog.records))
        return sizes

    assert in_a_loop(main) == [0, 1, 2, 3]
    batches = [r.getMessage() for r in caplog.records]
    assert all(len(b) < 30 for b in batches)
    assert [len(b.splitlines()) for b in batches] == [2, 3, 2]
    lines = [json.loads(ln) for b in batches for ln in b.splitlines()]
    assert lines == [{"n": n} for n in range(1, 8)]
    with ThreadPoolExecutor(1) as pool:  # no event loop in that thread: written at once
        pool.submit(log, {"n": 8}).result()
    assert json.loads(caplog.records[-1].getMessage()) == {"n": 8}


def test_an_idle_batch_is_not_kept_past_its_time() -> None:
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("smtp_iac.service.access.test")
    logger.setLevel(logging.INFO)
    logger.addHandler(Handler())
    log = AccessLog(logger, every=0.05)

    async def main() -> None:
        log({"a": 1})
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    in_a_loop(main)
    assert seen == ['{"a": 1}']


def test_a_requests_reads_share_one_snapshot_and_writes_do_not_wait_for_it(backend: str, relay) -> None:
    from service_support import relay_settings

    with open_store(backend, limits=POOLED) as pooled, open_store(backend) as other:
        other.load_tenants({"partners": {"acme": {"organizations": {"blue": {}}}}})
        with pooled.reads_together():
            assert pooled.get(ACME) is None
            other.put(ACME, relay_settings(relay), expected_version=None, stack=None, actor="test")
            assert pooled.get(ACME) is None  # the same snapshot as the first read
            pooled.set_smtp_enabled(BLUE, True, actor="test")  # a write in the block: its own connection
            assert pooled.find_org(str(BLUE)).smtp_enabled is False
        assert pooled.get(ACME) is not None and pooled.find_org(str(BLUE)).smtp_enabled is True
