"""A bounded load on the real service while its database misbehaves: reader threads asking
for an organization's effective settings, writer threads replacing one scope each with
``If-Match`` (every write checked over SMTP by the service first), each request timed and its
answer kept. Writers keep their own account of what was applied, from the answers alone, so
that a test can compare it with the store's versions and audit trail afterwards.

A writer follows what SPEC tells a client: 200 (applied: the new version), 503 with
``write: not_applied`` (retry with the same If-Match), 503 with ``write: unknown`` (read the
record when the store answers: a moved version means it was applied). A 412 would mean a
write it was told was not applied had been (or one applied twice): the test refuses it.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_S = 15.0
"""Client timeout: past SPEC's 10 s, so that a request the service held too long is seen as
such (its duration), not cut short by the client."""


@dataclass(frozen=True)
class Answer:
    kind: str  # "read", "write", "resync"
    url: str
    started: float
    ended: float
    status: int  # 0: no answer (the client timed out or the connection failed)
    body: dict[str, Any]
    retry_after: str | None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Writer:
    address: str
    version: int
    applied: int = 0
    unknown: int = 0
    unknown_applied: int = 0


@dataclass
class Load:
    urls: list[str]
    token: str
    org: str
    writers: list[Writer]
    settings: dict[str, Any]
    readers: int = 3
    answers: list[Answer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        bases = itertools.cycle(self.urls)
        for _ in range(self.readers):
            self._spawn(self._read, next(bases))
        for w in self.writers:
            self._spawn(self._write, next(bases), w)
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        for t in self._threads:
            t.join(TIMEOUT_S * 3)
        return self.answers

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _client(self, url: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {self.token}"}, timeout=TIMEOUT_S)

    def _ask(self, client: httpx.Client, kind: str, method: str, path: str, **kw: Any) -> Answer:
        started = time.monotonic()
        try:
            r = client.request(method, path, **kw)
            status, retry_after = r.status_code, r.headers.get("retry-after")
            try:
                body = r.json() if r.content else {}
            except ValueError:
                body = {"unparsed": r.text[:200]}
        except httpx.HTTPError as e:
            status, retry_after, body = 0, None, {"error": type(e).__name__}
        answer = Answer(kind, str(client.base_url), started, time.monotonic(), status, body, retry_after)
        with self._lock:
            self.answers.append(answer)
        return answer

    def _read(self, url: str) -> None:
        with self._client(url) as client:
            while not self._stop.is_set():
                a = self._ask(client, "read", "GET", f"/v1/organizations/{self.org}/effective")
                if a.status != 200:
                    time.sleep(0.05)

    def _write(self, url: str, w: Writer) -> None:
        with self._client(url) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                body = {**self.settings, "sender": f"writer-{n}@example.com"}
                a = self._ask(
                    client, "write", "PUT", f"/v1/scopes/{w.address}", json=body, headers={"If-Match": f'"{w.version}"'}
                )
                if a.status == 200:
                    version = a.body.get("record", {}).get("version")
                    if version != w.version + 1:
                        self.problems.append(f"{w.address}: version {version} after {w.version}")
                    w.version = int(version or w.version + 1)
                    w.applied += 1
                elif a.status == 503 and a.body.get("write") == "unknown":
                    w.unknown += 1
                    self._resync(client, w)
                elif a.status in (503, 0):
                    time.sleep(0.05)  # not applied (or no answer at all: resync to learn)
                    if a.status == 0:
                        self._resync(client, w)
                else:
                    time.sleep(0.05)  # kept for the test to judge (a 412 is a lost or doubled write)

    def _resync(self, client: httpx.Client, w: Writer) -> None:
        """Read the record until the store answers; a moved version was this writer's write."""
        while True:
            a = self._ask(client, "resync", "GET", f"/v1/scopes/{w.address}")
            if a.status == 200:
                moved = int(a.body["version"]) - w.version
                w.unknown_applied += moved
                w.applied += moved
                w.version = int(a.body["version"])
                return
            time.sleep(0.1)
