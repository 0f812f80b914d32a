"""Slow and many clients (SPEC "Service", hostile callers, "Connections"), over real sockets
against the real service: a request head that dribbles in is cut at the header timeout (on a
fresh connection and on a keep-alive one), hundreds of such connections leave ``/healthz``
answering, a connection cap refuses the extra ones quietly, and the real ``smtp-iac serve``
under a low file-descriptor limit neither dies nor floods stderr with tracebacks.

The header timeout is shortened to 1 s here; bounds are generous ("closed within 5 s")."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_service import ServerThread

from smtp_iac.cli.app import run
from smtp_iac.service import server
from smtp_iac.service.app import create_app
from smtp_iac.service.config import ServiceConfig
from smtp_iac.store import open_store

SMTP_IAC = str(Path(sys.executable).parent / "smtp-iac")
HEAD_START = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # half a request head: no blank line yet
TIMEOUT = 1.0  # the tests' header timeout


@pytest.fixture
def store_url(key, tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/db/store.db"
    open_store(url).close()
    return url


@contextlib.contextmanager
def service(store_url: str, **limits) -> Iterator[ServerThread]:
    srv = ServerThread(create_app(ServiceConfig(store_url=store_url)), **limits).start()
    try:
        yield srv
    finally:
        srv.stop()


class SlowClients:
    """``n`` connections that each sent ``first`` (part of a request head) and then send one
    more header line every ``every`` seconds until the server closes them."""

    def __init__(self, port: int, n: int, first: bytes = HEAD_START) -> None:
        self.sel = selectors.DefaultSelector()
        self.opened = time.monotonic()
        self.closed_after: list[float] = []
        self.received = b""
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(first)
            sock.setblocking(False)
            self.sel.register(sock, selectors.EVENT_READ)

    @property
    def open(self) -> int:
        return len(self.sel.get_map())

    def _closed(self, sock: socket.socket) -> None:
        self.sel.unregister(sock)
        sock.close()
        self.closed_after.append(time.monotonic() - self.opened)

    def dribble(self, seconds: float, every: float = 0.3, until_closed: bool = True) -> None:
        """Go on for ``seconds``, or until every connection is closed (``until_closed``)."""
        end = time.monotonic() + seconds
        next_line = time.monotonic() + every
        while time.monotonic() < end and not (until_closed and self.open == 0):
            for key, _ in self.sel.select(timeout=max(0.0, min(next_line, end) - time.monotonic())):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                self.received += data
                if not data:
                    self._closed(sock)
            if time.monotonic() >= next_line:
                next_line += every
                for key in list(self.sel.get_map().values()):
                    sock = key.fileobj  # type: ignore[assignment]
                    try:
                        sock.send(b"X-Slow: %d\r\n" % int(time.monotonic() * 1000))
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self._closed(sock)

    def close(self) -> None:
        for key in list(self.sel.get_map().values()):
            self.sel.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()


def _response(sock: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


def _closed_while_dribbling(sock: socket.socket, line: bytes, every: float = 0.3, seconds: float = 5.0) -> bool:
    """Send ``line`` every ``every`` seconds until the server closes ``sock`` (True) or
    ``seconds`` pass (False); whatever the server sends meanwhile is ignored."""
    sock.settimeout(every)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            try:
                sock.sendall(line)
            except OSError:
                return True
        except OSError:
            return True
    return False


def test_a_request_head_that_dribbles_in_is_closed_at_the_header_timeout(store_url) -> None:
    with service(store_url, header_timeout=TIMEOUT) as srv:
        slow = SlowClients(srv.port, 1)
        try:
            slow.dribble(5.0)
            assert slow.open == 0, "a dribbling request head held its connection past the header timeout"
            assert 0.5 < slow.closed_after[0] < 5.0
            assert slow.received == b""  # closed quietly: no response to half a request
        finally:
            slow.close()


@pytest.mark.parametrize("pipelined", [False, True], ids=["after-the-response", "pipelined"])
def test_the_next_request_head_on_a_keep_alive_connection_has_the_timeout_too(store_url, pipelined) -> None:
    """A client that completes one request and then dribbles the next one's head: the deadline
    starts again with the wait for the next head (sent after the response, or with the first)."""
    with service(store_url, header_timeout=TIMEOUT) as srv:
        whole = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            sock.sendall(whole + HEAD_START if pipelined else whole)
            assert _response(sock).startswith(b"HTTP/1.1 200 ")
            if not pipelined:
                sock.sendall(HEAD_START)
            assert _closed_while_dribbling(sock, b"X-Slow: 1\r\n"), "the next head dribbled in for 5 s"
        finally:
            sock.close()


def test_a_body_dribbled_after_its_answer_does_not_hold_the_connection(store_url) -> None:
    """413 for a declared Content-Length over --max-body comes before the body is read; the
    client then dribbling that body is waited for as for the next head."""
    with service(store_url, header_timeout=TIMEOUT) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            sock.sendall(b"PUT /v1/scopes/controller HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n{")
            assert _response(sock).startswith(b"HTTP/1.1 413 ")
            assert _closed_while_dribbling(sock, b" " * 10), "a body nobody reads kept its connection for 5 s"
        finally:
            sock.close()


def test_a_body_dribbled_before_its_answer_is_cut_too(store_url) -> None:
    """Before any answer, the service reads a body (up to --max-body, before the token is even
    checked): a client sending it a byte at a time is closed at the header timeout, plus a
    second per 16 KiB it did send."""
    with service(store_url, header_timeout=TIMEOUT) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            sock.sendall(b"PUT /v1/scopes/controller HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
            assert _closed_while_dribbling(sock, b" "), "a body dribbled a byte at a time kept its connection for 5 s"
        finally:
            sock.close()


def test_a_body_that_keeps_coming_is_read_whole(store_url) -> None:
    """64 KiB sent over about 1.6 s (longer than the 1 s timeout) earns its time: it is read and
    answered (401: no token), not cut."""
    with service(store_url, header_timeout=TIMEOUT) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            size = 64 * 1024 - 2
            sock.sendall(b"PUT /v1/scopes/controller HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % size)
            body = b'"' + b"x" * (size - 2) + b'"'
            for i in range(0, size, 8192):
                sock.sendall(body[i : i + 8192])
                time.sleep(0.2)
            assert _response(sock).startswith(b"HTTP/1.1 401 ")
        finally:
            sock.close()


def test_a_client_whose_heads_arrive_in_time_keeps_its_connection(store_url) -> None:
    """The deadline is per request head, not per connection: four requests, each head in two
    parts, over a connection that lives well past the header timeout."""
    with service(store_url, header_timeout=TIMEOUT) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            for _ in range(4):
                sock.sendall(HEAD_START)
                time.sleep(TIMEOUT * 0.3)
                sock.sendall(b"\r\n")
                assert _response(sock).startswith(b"HTTP/1.1 200 ")
                time.sleep(TIMEOUT * 0.3)
        finally:
            sock.close()


def test_hundreds_of_slow_connections_leave_healthz_answering(store_url) -> None:
    statuses: list[int | str] = []
    slowest = 0.0
    stop = threading.Event()

    def probe() -> None:
        nonlocal slowest
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                statuses.append(httpx.get(srv.url + "/healthz", timeout=5).status_code)
            except httpx.TransportError as e:
                statuses.append(repr(e))
            slowest = max(slowest, time.monotonic() - t0)
            stop.wait(0.1)

    with service(store_url, header_timeout=TIMEOUT) as srv:
        slow = SlowClients(srv.port, 300)
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        try:
            slow.dribble(8.0)
            still_open = slow.open
        finally:
            stop.set()
            prober.join(10)
            slow.close()
        assert still_open == 0, f"{still_open} of 300 dribbling connections still open after 8 s"
        assert max(slow.closed_after) < 5.0 + 3.0  # opening 300 takes its time too
        assert statuses and all(s == 200 for s in statuses), statuses
        assert slowest < 2.0, f"/healthz took {slowest:.2f} s"


def test_a_connection_cap_refuses_the_extra_connections_quietly(store_url, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    with service(store_url, max_connections=50) as srv:
        held = SlowClients(srv.port, 50)
        try:
            deadline = time.monotonic() + 5
            while len(srv.server.server_state.connections) < 50 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(srv.server.server_state.connections) == 50
            extra = SlowClients(srv.port, 30)
            extra.dribble(5.0)
            assert extra.open == 0 and extra.received == b"", "connections beyond the cap were served"
            with pytest.raises(httpx.TransportError):
                httpx.get(srv.url + "/healthz", timeout=5)
            assert len(srv.server.server_state.connections) == 50  # the ones in stay (the header timeout is 10 s)
        finally:
            held.close()
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(srv.url + "/healthz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "/healthz did not answer again once the connections went"
            time.sleep(0.1)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert not [r for r in caplog.records if r.exc_info], "a refused connection was logged with a traceback"
    refusals = [r for r in caplog.records if "refusing connections" in r.getMessage()]
    assert len(refusals) == 1, "the refusal line is at most one a minute"


def test_serve_runs_the_production_setup_with_a_10_s_header_timeout(store_url, monkeypatch) -> None:
    served: list[server.ServerConfig] = []
    monkeypatch.setattr(server, "run", served.append)
    assert run(["serve", "--store", store_url, "--port", "0"]) == 0
    assert run(["serve", "--store", store_url, "--port", "0", "--max-connections", "7"]) == 0
    default, capped = served
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    budget = server.FdBudget.for_limit(soft)
    assert default.header_timeout == 10.0 and default.timeout_keep_alive == 5
    assert default.http is server.GuardedH11Protocol
    assert default.max_connections == budget.max_connections and default.backlog == budget.backlog
    assert budget.max_connections + budget.backlog + budget.reserve <= soft
    assert capped.max_connections == 7 and capped.header_timeout == 10.0


def test_the_fd_budget_leaves_room_for_a_burst_and_the_store() -> None:
    b = server.FdBudget.for_limit(20_000)
    assert (b.backlog, b.reserve, b.max_connections) == (625, 1506, 17_869)
    for limit in (200, 256, 1024, 4096, 65_536, 1 << 20):
        b = server.FdBudget.for_limit(limit)
        assert b.max_connections > 0 and b.max_connections + b.backlog + b.reserve <= limit
    assert server.FdBudget.for_limit(1 << 20).max_connections == 50_000  # memory, not descriptors, then


def test_accept_errors_are_one_line_a_minute_without_traceback(caplog) -> None:
    asyncio_log = logging.getLogger("asyncio")
    saved = list(asyncio_log.filters)
    for f in saved:
        asyncio_log.removeFilter(f)
    server.quiet_accept_errors()
    caplog.set_level(logging.DEBUG, logger="asyncio")
    loop = asyncio.new_event_loop()
    try:
        with socket.socket() as listener:
            for _ in range(1000):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": listener,
                    }
                )
        loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
        for f in list(asyncio_log.filters):
            asyncio_log.removeFilter(f)
        for f in saved:
            asyncio_log.addFilter(f)
    lines = [r for r in caplog.records if r.name == "asyncio" and not r.getMessage().startswith("Using selector")]
    assert [r.getMessage() for r in lines] == [
        "socket.accept() out of system resource ([Errno 24] Too many open files): not accepting for 1 s",
        "something else",
    ]
    assert lines[0].exc_info is None


def _limit_fds(n: int):
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return lower


def _healthz_answers(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("cap", [None, 1000], ids=["default-cap", "cap-above-the-limit"])
def test_serve_under_a_low_fd_limit_never_floods_stderr(store_url, tmp_path, cap) -> None:
    """The real ``smtp-iac serve`` with 200 descriptors: 250 connections at once. With the
    default cap (102 at 200) the extra ones are refused; with a cap above what the limit allows,
    accept() itself fails (EMFILE): one line then, not a traceback per attempt. Either way the
    process lives and ``/healthz`` answers once the connections go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [SMTP_IAC, "serve", "--store", store_url, "--port", str(port)]
    args += ["--max-connections", str(cap)] if cap else []
    with (tmp_path / "stderr").open("w+") as err:
        proc = subprocess.Popen(
            args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_limit_fds(200), env=dict(os.environ)
        )
        try:
            assert _healthz_answers(f"http://127.0.0.1:{port}", 30), "smtp-iac serve did not start"
            conns = []
            for _ in range(250):
                try:
                    conns.append(socket.create_connection(("127.0.0.1", port), timeout=1))
                except OSError:
                    break  # the listen queue is full: the server stopped accepting
                with contextlib.suppress(OSError):  # refused already
                    conns[-1].sendall(HEAD_START)
                time.sleep(0.002)  # the listen queue is 16 at this limit: a burst would wait for SYN retries
            time.sleep(1.5)
            assert proc.poll() is None, "the service died"
            for c in conns:
                c.close()
            assert _healthz_answers(f"http://127.0.0.1:{port}", 10), "/healthz did not answer again"
        finally:
            proc.terminate()
            proc.wait(30)
        err.seek(0)
        stderr = err.read()
    assert "Traceback" not in stderr, stderr[:3000]
    assert stderr.count("out of system resource") <= 1 and stderr.count("refusing connections") <= 1, stderr[:3000]
    if cap is None:
        assert "refusing connections" in stderr
    else:
        assert "out of system resource" in stderr
