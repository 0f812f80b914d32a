"""Limits against abuse: a cap on request bodies, and a rate limit per token on what opens an
outbound SMTP connection (test-email, Save's check, the mailer).

- Bodies: read in full by this middleware up to ``max_body_bytes`` (a ``Content-Length`` over
  it is refused before a byte is read; a chunked body is cut when it passes the cap), so no
  route ever holds more than that. 413 problem+json.
- Rates: a token bucket per token and purpose, in the process (several instances each count
  their own: the limit is per instance, documented in README). 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import RateLimit
from .problems import Problem


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.default = limit
        self.larger = larger or {}  # path -> its own cap (a tenants document of 20,000 organizations)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
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
