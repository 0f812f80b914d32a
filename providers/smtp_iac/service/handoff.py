"""Store work off the event loop: one hand-off per request to the store's own threads.

An ``async`` route's checks and point reads that would wait (``Ctx.read``) go to ``StoreThreads``
in one call instead of FastAPI's general thread pool: as many threads as the store has connections (two for
SQLite in the service, a reader and a writer; the pool's size for PostgreSQL), so callers queue
for a connection here, in order, rather than as forty threads contending for one lock. A call
that waited in the queue longer than the store's own wait for a connection (``Limits.wait_s``)
is answered as a busy store (503 with ``Retry-After``), as a call waiting for the connection's
lock always was. The threads take work from one queue and hand each result back to the loop
that asked (``call_soon_threadsafe``): no more than that is needed, and it costs a request less
than ``run_in_executor``'s future chaining.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from ..errors import StoreUnavailable

T = TypeVar("T")

_Job = tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop, float]


class StoreThreads:
    def __init__(self, threads: int, wait_s: float, display: str) -> None:
        self.wait_s = wait_s
        self.display = display
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"smtp-iac-store-{i}", daemon=True) for i in range(max(1, threads))
        ]
        for t in self._threads:
            t.start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the store's threads, once one is free within ``wait_s``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(((lambda: fn(*args)) if args else fn, future, loop, time.monotonic()))
        return await future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future, loop, queued = job
            try:
                if time.monotonic() - queued > self.wait_s:
                    raise StoreUnavailable(
                        f"the store {self.display} is busy: no connection was free within {self.wait_s:g} s",
                        fault="busy",
                        retry_after=1,
                    )
                result, error = fn(), None
            except BaseException as e:  # noqa: BLE001 - handed back to the awaiting request, raised there
                result, error = None, e
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request went away while its work ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
