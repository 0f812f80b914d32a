"""Hostile relays on free loopback ports, for tests and ``benchmarks/hostile_relay.py`` (hostile input):
raw sockets with a thread per connection, each running a script (``RelayConn`` -> None).

- ``endless_greeting``: ``220-`` lines until the client hangs up.
- ``endless_line``: one greeting line that never ends (no CRLF, ever).
- ``huge_ehlo(n)``: an EHLO reply of ``n`` lines.
- ``dialogue(replies)``: a small but valid plain SMTP relay (AUTH accepted), each reply
  overridable (bytes, or a callable of the command line); with ``delay=`` every reply comes
  late, with ``drip=`` a byte at a time.

    from hostile_relays import dialogue, scripted_server
    with scripted_server(dialogue(), delay=0.8) as srv:
        ...  # srv.host, srv.port, srv.connections

Import it with ``tests/verify`` on sys.path (pytest puts a test's own folder there); it uses
``tests/smtp_servers.py`` (``tests/verify/conftest.py`` puts ``tests/`` on sys.path).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping

from smtp_servers import LOOPBACK, RawServer


class RelayConn:
    """One accepted connection as a hostile relay's script sees it: ``send`` (optionally late
    and byte by byte), ``readline``, and ``stopped`` (the server is shutting down)."""

    def __init__(self, conn: socket.socket, stop: threading.Event, delay: float = 0.0, drip: float = 0.0):
        self.conn = conn
        self.stop = stop
        self.delay = delay
        self.drip = drip
        self._file = conn.makefile("rb")

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    def send(self, data: bytes) -> None:
        """After ``delay`` seconds; one byte per ``drip`` seconds when ``drip`` is set. Raises
        OSError when the client has gone (which ends the script)."""
        if self.delay and self.stop.wait(self.delay):
            raise OSError("relay stopped")
        if not self.drip:
            self.conn.sendall(data)
            return
        for i in range(len(data)):
            if self.stop.wait(self.drip):
                raise OSError("relay stopped")
            self.conn.sendall(data[i : i + 1])

    def readline(self) -> bytes:
        """One command line from the client (b"" when it closed the connection)."""
        return self._file.readline(65536)


class ScriptedServer(RawServer):
    """Runs ``script(RelayConn)`` in a thread for every connection; keeps them until stop."""

    def __init__(
        self, script: Callable[[RelayConn], None], *, delay: float = 0.0, drip: float = 0.0, host: str = LOOPBACK
    ):
        super().__init__(None, host)
        self.script = script
        self.delay = delay
        self.drip = drip

    def _handle(self, conn: socket.socket) -> None:
        threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.script(RelayConn(conn, self._stop, self.delay, self.drip))


@contextlib.contextmanager
def scripted_server(script: Callable[[RelayConn], None], **kwargs) -> Iterator[ScriptedServer]:
    srv = ScriptedServer(script, **kwargs).start()
    try:
        yield srv
    finally:
        srv.stop()


def endless_greeting(c: RelayConn) -> None:
    """A multi-line greeting that never ends: ``220-`` lines until the client hangs up."""
    chunk = b"".join(b"220-relay.example.com still greeting you, line after line\r\n" for _ in range(1024))
    while not c.stopped:
        c.conn.sendall(chunk)


def endless_line(c: RelayConn) -> None:
    """One greeting line that never ends: ``220 `` and then bytes without CRLF, forever."""
    c.conn.sendall(b"220 ")
    chunk = b"x" * 65536
    while not c.stopped:
        c.conn.sendall(chunk)


HOSTILE_REPLIES: dict[str, bytes] = {
    "greeting": b"220 relay.example.com ESMTP\r\n",
    "EHLO": b"250-relay.example.com\r\n250-SIZE 10240000\r\n250 AUTH PLAIN LOGIN\r\n",
    "HELO": b"250 relay.example.com\r\n",
    "AUTH": b"235 2.7.0 Authentication successful\r\n",
    "MAIL": b"250 2.1.0 OK\r\n",
    "RCPT": b"250 2.1.5 OK\r\n",
    "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    "message": b"250 2.0.0 OK: queued\r\n",
    "QUIT": b"221 2.0.0 Bye\r\n",
    "other": b"502 5.5.2 Command not recognized\r\n",
}
"""What ``dialogue`` answers by default: a small but valid plain-text SMTP relay (AUTH PLAIN
accepted with any credentials)."""

TERSE_REPLIES: dict[str, bytes] = {
    "greeting": b"220\r\n",
    "EHLO": b"250-\r\n250 AUTH PLAIN\r\n",  # the first EHLO line is the server's name, not a feature
    "AUTH": b"235\r\n",
    "MAIL": b"250\r\n",
    "RCPT": b"250\r\n",
    "DATA": b"354\r\n",
    "message": b"250\r\n",
    "QUIT": b"221\r\n",
}
"""The shortest valid replies (for a dripping relay: each stage is short, their sum is not)."""


def dialogue(replies: Mapping[str, bytes | Callable[[bytes], bytes]] | None = None) -> Callable[[RelayConn], None]:
    """A script that speaks SMTP with ``HOSTILE_REPLIES`` (overridden by ``replies``; a callable
    gets the command line and returns the reply). With the server's ``delay`` or ``drip`` every
    reply comes late or a byte at a time: valid, only slow."""
    table: dict[str, bytes | Callable[[bytes], bytes]] = {**HOSTILE_REPLIES, **(replies or {})}

    def answer(c: RelayConn, key: str, line: bytes) -> None:
        reply = table.get(key, table["other"])
        c.send(reply(line) if callable(reply) else reply)

    def script(c: RelayConn) -> None:
        answer(c, "greeting", b"")
        while not c.stopped:
            line = c.readline()
            if not line:
                return
            word = line.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
            answer(c, word, line)
            if word == "DATA":
                while c.readline() not in (b".\r\n", b""):
                    pass
                answer(c, "message", b"")
            elif word == "QUIT":
                return

    return script


def huge_ehlo(lines: int = 10_000) -> Callable[[RelayConn], None]:
    """A relay whose EHLO reply has ``lines`` lines (real ones have about twenty)."""
    body = b"".join(b"250-X-EXTENSION-%06d\r\n" % i for i in range(lines - 1)) + b"250 AUTH PLAIN\r\n"
    return dialogue({"EHLO": body})
