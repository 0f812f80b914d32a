"""A watchdog over a check's connection: when a deadline passes it shuts the socket down, so
that a server dripping one byte at a time cannot hold a read past it (a socket timeout alone
bounds each read, not their sum)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token = 0
        self._sock: socket.socket | None = None
        self.fired = False

    def watch(self, sock: socket.socket) -> None:
        """Watch this connection (a duplicate of its descriptor: shutting it down ends every
        read on the connection, whoever wraps it in TLS or a file later)."""
        self._sock = sock.dup()

    @contextlib.contextmanager
    def armed(self, seconds: float) -> Iterator[None]:
        """Shut the connection down if the block runs longer than ``seconds``; ``fired`` says
        afterwards whether it did."""
        with self._lock:
            self.fired = False
            self._token += 1
            token = self._token
        timer = threading.Timer(seconds, self._expire, args=(token,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                self._token += 1  # a timer that is already running now does nothing

    def _expire(self, token: int) -> None:
        with self._lock:
            if token != self._token:
                return
            self.fired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
