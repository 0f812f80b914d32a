"""smtplib's protocol engine on a socket the check connected itself (DNS and TCP errors are
classified before smtplib sees them), keeping the raw lines of each reply."""

from __future__ import annotations

import smtplib
import socket
from typing import BinaryIO

MAX_KEPT_LINES = 20


class SmtpClient(smtplib.SMTP):
    """``debuglevel`` stays 0: smtplib would print the AUTH exchange."""

    def __init__(self, server_hostname: str, sock: socket.socket, local_hostname: str, timeout: float):
        super().__init__(local_hostname=local_hostname, timeout=timeout)
        self._host = server_hostname  # used by smtplib for SNI / host-name check in STARTTLS
        self.sock = sock
        self.last_lines: list[bytes] = []

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's reply reader, keeping the raw lines (a garbage reply loses its first four
        characters in smtplib's parse; the detail should show what the server really sent)."""
        if self.file is None and self.sock is not None:
            self.file = _RecordingReader(self.sock.makefile("rb"), self.last_lines)
        self.last_lines.clear()
        return super().getreply()


class _RecordingReader:
    def __init__(self, raw: BinaryIO, sink: list[bytes]):
        self._raw = raw
        self._sink = sink

    def readline(self, size: int = -1) -> bytes:
        line = self._raw.readline(size)
        if len(self._sink) < MAX_KEPT_LINES:
            self._sink.append(line)
        return line

    def close(self) -> None:
        self._raw.close()
