"""Limits against abuse: a cap on request bodies, and a rate limit per token on what opens an
outbound SMTP connection (test-email, Save's check, the mailer).

- Bodies: read in full by this middleware up to ``max_body_bytes`` (a ``Content-Length`` over
  it is refused before a byte is read; a chunked body is cut when it passes the cap), so no
  route ever holds more than that. 413 problem+json.
- Rates: a token bucket per token and purpose, in the process (several instances each count
  their own: the limit is per instance, documented in README). 429 with ``Retry-After``.
- Checks in flight (``CheckSlots``): an SMTP check holds a worker thread for up to its timeout
  (120 s), and the worker threads are shared by every request; so at most ``total`` checks run
  at once in a process (503 beyond), at most ``per_token`` of them for one token (429 beyond),
  and the rest of the service keeps answering while slow relays are checked.
- A path listed in ``streamed`` is not buffered here: its route reads (and caps) the body
  itself, after the token is checked (``/v1/tenants``: 16 MiB, but only for a sysadmin).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import RateLimit
from .problems import Problem


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int, streamed: frozenset[str] = frozenset()):
        self.app = app
        self.limit = limit
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.streamed:
            await self.app(scope, receive, send)
            return
        limit = self.limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:  # HTTP/1.1: no body at all
            await self.app(scope, receive, send)
            return
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await _send(Problem(400, "Content-Length is not a number"), scope, receive, send)
                return
            if too_big:
                await _send(_too_large(limit), scope, receive, send)
                return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send(_too_large(limit), scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> Problem:
    return Problem(413, f"the request body is over {limit} bytes")


async def _send(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    await problem.response()(scope, receive, send)


class RateLimiter:
    """Token buckets by key (a token id and a purpose). Thread-safe."""

    def __init__(self, limit: RateLimit, clock: Any = time.monotonic):
        self.rate = limit.per_minute / 60.0
        self.burst = float(limit.burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take one request from ``key``'s bucket: None if allowed, else seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0

    def check(self, key: str, what: str) -> None:
        wait = self.take(key)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise Problem(
                429,
                f"too many {what} requests with this token; try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )


async def read_capped(request: Request, limit: int) -> bytes:
    """The body of a ``streamed`` request, or 413 once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit() or int(declared) > limit):
        raise _too_large(limit) if declared.isascii() and declared.isdigit() else Problem(400, "bad Content-Length")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class CheckSlots:
    """At most ``total`` SMTP checks at once in this process, ``per_token`` for one token."""

    def __init__(self, total: int = 16, per_token: int = 4):
        self.total = total
        self.per_token = per_token
        self._lock = threading.Lock()
        self._running = 0
        self._by_token: dict[str, int] = {}

    @contextmanager
    def hold(self, token_id: str) -> Iterator[None]:
        with self._lock:
            if self._by_token.get(token_id, 0) >= self.per_token:
                raise Problem(
                    429,
                    f"this token has {self.per_token} SMTP checks in progress already",
                    headers={"Retry-After": "5"},
                )
            if self._running >= self.total:
                raise Problem(503, "too many SMTP checks in progress; try again shortly", headers={"Retry-After": "5"})
            self._running += 1
            self._by_token[token_id] = self._by_token.get(token_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                left = self._by_token[token_id] - 1
                if left:
                    self._by_token[token_id] = left
                else:
                    del self._by_token[token_id]
