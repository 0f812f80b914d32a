"""Slow and many clients against the real ``smtp-iac serve`` (SPEC "Service", hostile callers,
"Connections"): N connections that each send half a request head and then one header line every
``--line-every`` seconds (slowloris), while a fresh client asks for ``/healthz`` every
``--poll`` seconds for ``--seconds``.

    .venv/bin/python benchmarks/slowloris.py                       # 20,000 connections (or what the fd limit allows)
    .venv/bin/python benchmarks/slowloris.py --reconnect           # the attacker reopens every connection closed
    .venv/bin/python benchmarks/slowloris.py --connections 500 --seconds 15   # a quick smoke run

The service runs in its own process on a fresh SQLite store, with this machine's descriptor
limit (it raises its soft limit to the hard one itself); the attacker is this one process
(non-blocking sockets and a selector), which raises its own soft limit to the hard one after
starting the service and opens at most what that leaves room for (it says so when that is fewer
than asked). Reported: connections opened, refused (closed by the service within 1 s, before
any header timeout could apply, or not accepted at all) and held (how long the service kept a
dribbling connection open); ``/healthz`` answered and failed, with p50/p99 latency; the
service's peak descriptors and memory; its stderr's size and traceback lines. Nothing is
asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from run import log, machine  # noqa: E402
from service import free_port  # noqa: E402

from smtp_iac.store import open_store  # noqa: E402

SMTP_IAC = str(Path(sys.executable).parent / "smtp-iac")
HEAD_START = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
REFUSED_WITHIN = 1.0  # closed this soon after opening: refused (the header timeout is 10 s)
CONNECT_TIMEOUT = 10.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] if s else float("nan")


@dataclass
class Conn:
    sock: socket.socket
    started: float
    opened: float = 0.0


@dataclass
class Attack:
    """The slow connections: one selector, non-blocking connects ``inflight`` at a time."""

    port: int
    target: int
    every: float
    reconnect: bool
    inflight: int
    sel: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    connecting: dict[int, Conn] = field(default_factory=dict)
    open: dict[int, Conn] = field(default_factory=dict)
    due: deque[tuple[float, int, Conn]] = field(default_factory=deque)
    started: int = 0
    opened: int = 0
    refused: int = 0
    connect_failed: int = 0
    held: list[float] = field(default_factory=list)
    peak_open: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def _start_one(self, now: float) -> None:
        self.started += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        rc = sock.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            self._failed(sock, errno.errorcode.get(rc, str(rc)))
            return
        self.connecting[sock.fileno()] = Conn(sock, now)
        self.sel.register(sock, selectors.EVENT_WRITE)

    def _failed(self, sock: socket.socket, why: str) -> None:
        self.connect_failed += 1
        self.errors[why] = self.errors.get(why, 0) + 1
        sock.close()

    def _closed_by_server(self, c: Conn, now: float) -> None:
        fd = c.sock.fileno()
        self.sel.unregister(c.sock)
        del self.open[fd]
        c.sock.close()
        if now - c.opened < REFUSED_WITHIN:
            self.refused += 1
        else:
            self.held.append(now - c.opened)

    def step(self, now: float, attacking: bool) -> None:
        while attacking and len(self.connecting) < self.inflight:
            if self.reconnect:
                if len(self.connecting) + len(self.open) >= self.target:
                    break
            elif self.started >= self.target:
                break
            self._start_one(now)
        for key, _ in self.sel.select(timeout=0.05):
            fd = key.fd
            if fd in self.connecting:
                c = self.connecting.pop(fd)
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.sel.unregister(c.sock)
                    self._failed(c.sock, errno.errorcode.get(err, str(err)))
                    continue
                c.opened = now
                self.opened += 1
                with contextlib.suppress(OSError):  # refused already: the read sees it
                    c.sock.send(HEAD_START)
                self.sel.modify(c.sock, selectors.EVENT_READ)
                self.open[fd] = c
                self.due.append((now + self.every, fd, c))
            elif fd in self.open:
                c = self.open[fd]
                try:
                    data = c.sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._closed_by_server(c, now)
        self.peak_open = max(self.peak_open, len(self.open))
        while self.due and self.due[0][0] <= now:
            _, fd, c = self.due.popleft()
            if self.open.get(fd) is not c:
                continue  # closed since
            try:
                c.sock.send(b"X-Slow-%d: %d\r\n" % (fd, int(now)))
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._closed_by_server(c, now)
                continue
            self.due.append((now + self.every, fd, c))
        for fd, c in list(self.connecting.items()):
            if now - c.started > CONNECT_TIMEOUT:
                del self.connecting[fd]
                self.sel.unregister(c.sock)
                self._failed(c.sock, "timeout")

    def close(self) -> None:
        for c in [*self.connecting.values(), *self.open.values()]:
            c.sock.close()
        self.sel.close()


@dataclass
class Probe:
    """``/healthz`` from a fresh connection every ``every`` seconds."""

    port: int
    every: float
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)

    def healthz(self) -> bytes:
        """The status code of ``GET /healthz`` on a new connection (raw: no client library's
        setup in the figure), or an OSError (refused, reset, closed early, 5 s timeout)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        if not data.startswith(b"HTTP/1.1 "):
            raise ConnectionError("closed without an answer")
        return data[9:12]

    def run(self, t0: float, until: float) -> None:
        while (now := time.monotonic()) < until:
            try:
                status = self.healthz()
                if status == b"200":
                    self.latencies.append(time.monotonic() - now)
                else:
                    self.failures.append((now - t0, f"status {status!r}"))
            except OSError as e:
                self.failures.append((now - t0, type(e).__name__))
            time.sleep(max(0.0, now + self.every - time.monotonic()))


@dataclass
class Watch:
    """The service's descriptors and resident memory, sampled."""

    pid: int
    peak_fds: int = 0
    peak_rss_mb: float = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            try:
                self.peak_fds = max(self.peak_fds, len(os.listdir(f"/proc/{self.pid}/fd")))
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)
            except OSError:
                return


def raise_own_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=20_000, help="slow connections (default 20,000)")
    ap.add_argument("--line-every", type=float, default=8.0, help="seconds between a connection's header lines")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to attack and poll /healthz")
    ap.add_argument("--poll", type=float, default=0.5, help="seconds between /healthz requests")
    ap.add_argument("--inflight", type=int, default=256, help="connects in progress at once")
    ap.add_argument("--reconnect", action="store_true", help="reopen every connection the service closes")
    ap.add_argument("--max-connections", type=int, help="passed to serve (default: serve's own)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="smtp-iac-slowloris-"))
    url_store, key = f"sqlite:///{tmp}/store.db", Fernet.generate_key().decode()
    open_store(url_store, key=key).close()
    port = free_port()
    cmd = [SMTP_IAC, "serve", "--store", url_store, "--port", str(port)]
    cmd += ["--max-connections", str(args.max_connections)] if args.max_connections else []
    service_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    stderr_path = tmp / "stderr"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=tmp, env=dict(os.environ, SMTP_IAC_STORE_KEY=key), stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("smtp-iac serve did not start")
            time.sleep(0.1)
        own = raise_own_limit()
        target = min(args.connections, own - 64)
        if target < args.connections:
            log(f"opening {target:,} connections, not {args.connections:,}: this process's own fd limit is {own:,}")
        attack = Attack(port, target, args.line_every, args.reconnect, args.inflight)
        probe = Probe(port, args.poll)
        watch = Watch(proc.pid)
        stop = threading.Event()
        t0 = time.monotonic()
        until = t0 + args.seconds
        threads = [
            threading.Thread(target=probe.run, args=(t0, until), daemon=True),
            threading.Thread(target=watch.run, args=(stop,), daemon=True),
        ]
        for t in threads:
            t.start()
        last_log = t0
        while (now := time.monotonic()) < until:
            attack.step(now, attacking=True)
            if now - last_log >= 10:
                last_log = now
                log(
                    f"  t={now - t0:4.0f} s: {len(attack.open):,} open, {attack.refused:,} refused, "
                    f"{len(probe.failures)} /healthz failed"
                )
        still_open = len(attack.open)
        stop.set()
        for t in threads:
            t.join(15)
        attack.close()
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    stderr = stderr_path.read_bytes()

    lat = [x * 1000 for x in probe.latencies]
    held = attack.held
    fails = probe.failures
    print(f"machine: {machine()}")
    print(
        f"service: smtp-iac serve, fd limit {service_limit[0]:,}/{service_limit[1]:,}, "
        f"--max-connections {args.max_connections or 'default'}; attacker: one process, "
        f"{target:,} connections, a header line every {args.line_every:g} s"
        f"{', reopening what is closed' if args.reconnect else ''}; /healthz every {args.poll:g} s "
        f"for {args.seconds:g} s"
    )
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| connections opened / refused / connect failed | {attack.opened:,} / {attack.refused:,} / "
        f"{attack.connect_failed:,}{' ' + str(attack.errors) if attack.errors else ''} |"
    )
    print(f"| peak slow connections open at once, as the attacker saw them | {attack.peak_open:,} |")
    if held:
        print(
            f"| slow connections held by the service: p50 / max | {statistics.median(held):.1f} s / "
            f"{max(held):.1f} s ({len(held):,} closed by it) |"
        )
    print(f"| slow connections still open at the end | {still_open:,} |")
    span = f" (t={fails[0][0]:.1f}..{fails[-1][0]:.1f} s)" if fails else ""
    print(f"| /healthz answered / failed | {len(lat):,} / {len(fails):,}{span} |")
    if lat:
        print(f"| /healthz p50 / p99 / max ms | {pct(lat, 0.5):.1f} / {pct(lat, 0.99):.1f} / {max(lat):.1f} |")
    print(f"| service peak descriptors / peak RSS | {watch.peak_fds:,} / {watch.peak_rss_mb:.0f} MB |")
    print(f"| service alive at the end | {'yes' if alive else 'no'} |")
    print(
        f"| service stderr: bytes / 'Traceback' lines / accept-error lines / refusal lines | {len(stderr):,} / "
        f"{stderr.count(b'Traceback')} / {stderr.count(b'out of system resource')} / "
        f"{stderr.count(b'refusing connections')} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
