"""A TCP proxy on loopback between the store and its PostgreSQL server, for the faults a
network gives: every connection cut at once (a proxy closing connections, a failover), and a
connection cut around a COMMIT (the answer lost after the server committed, or the COMMIT
lost before it reached the server). Threads, plain sockets; bytes pass through unchanged.

To see a COMMIT, the proxy reads the client's messages (frontend protocol 3): a simple Query
or a Parse of ``COMMIT``, or a Bind of a statement that psycopg prepared from it (it prepares
a query run five times on one connection). Connect with ``sslmode=disable``: TLS would hide
them (``Proxy.url`` does).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

COMMIT = b"COMMIT"


class CommitSpotter:
    """Reads one client's stream of frontend messages; says whether a chunk sends a COMMIT."""

    def __init__(self) -> None:
        self.buffer = b""
        self.started = False  # past the untyped startup messages
        self.prepared: set[bytes] = set()

    def commits(self, chunk: bytes) -> bool:
        self.buffer += chunk
        found = False
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return found
                (length,) = struct.unpack("!I", self.buffer[:4])
                (code,) = struct.unpack("!I", self.buffer[4:8])
                if len(self.buffer) < length:
                    return found
                self.buffer = self.buffer[length:]
                self.started = code == 196608  # the StartupMessage (not an SSL or GSS request)
                continue
            if len(self.buffer) < 5:
                return found
            kind = self.buffer[:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return found
            body = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            parts = body.split(b"\x00")
            if kind == b"Q" and parts[0].strip().upper() == COMMIT:
                found = True
            elif kind == b"P" and parts[1].strip().upper() == COMMIT:
                found = True
                if parts[0]:
                    self.prepared.add(parts[0])
            elif kind == b"B" and parts[1] and parts[1] in self.prepared:
                found = True


class Proxy:
    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._cut_at_commit: str | None = None  # "after" (the server got it) or "before"
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, dbname: str = "test") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def cut_next_commit(self, when: str) -> None:
        """Cut the next connection that sends COMMIT: ``after`` forwarding it (the server
        commits, the client never hears), or ``before`` (the server never sees it)."""
        assert when in ("after", "before")
        self._cut_at_commit = when

    def cut_all(self) -> int:
        """Close every connection through the proxy now (both sides, no goodbye)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a)
            _close(b)
        return len(pairs)

    def close(self) -> None:
        self._closed = True
        _close(self.listener)
        self.cut_all()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
            muted = threading.Event()  # set: nothing more reaches the client
            spotter = CommitSpotter()
            threading.Thread(target=self._pump, args=(client, server, muted, spotter), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, muted, None), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, muted: threading.Event, spotter: CommitSpotter | None
    ) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                when = self._cut_at_commit
                if spotter is not None and spotter.commits(data) and when is not None:
                    self._cut_at_commit = None
                    self.cuts += 1
                    muted.set()
                    if when == "after":
                        dst.sendall(data)
                        time.sleep(0.3)  # the server reads and commits; its answer goes nowhere
                    break
                if muted.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
