"""smtplib's protocol engine on a socket the check connected itself (DNS and TCP errors are
classified before smtplib sees them), with a reply reader of our own that bounds what a relay
can make the check hold in memory, and keeps the raw lines of each reply.

Caps on one reply (a relay that goes over one has sent too much: ``RelaySentTooMuch``):

- ``MAX_LINE_OCTETS`` = 8,192 a line, CRLF included. RFC 5321 (4.5.3.1.5) allows 512; smtplib
  has refused lines over 8,192 for years without complaint, so no working relay is refused
  here that smtplib took before.
- ``MAX_REPLY_LINES`` = 256 lines in one multi-line reply. Real EHLO replies, the longest
  replies SMTP has, run to about 20 lines (one per extension); a multi-line 5xx with a help
  text to a few more. An endless ``220-`` greeting is stopped here, at the cap, at once.
- ``MAX_REPLY_OCTETS`` = 64 KiB for one reply in all: about 100 times a real EHLO reply,
  and it keeps the whole reply (and the lines kept for the detail) small however the relay
  mixes long lines and many lines.

Reading stops the moment a cap is passed: the connection is closed and nothing more is read,
so memory stays bounded whatever the relay goes on sending; ``Session`` turns the error into a
``protocol`` failure of the stage the check was in. ``RelaySentTooMuch`` is not an
``smtplib.SMTPException`` nor an ``OSError``, so no handler meant for those (smtplib's AUTH
loop, the check's own) can take it for something else.
"""

from __future__ import annotations

import smtplib
import socket

MAX_LINE_OCTETS = 8192
MAX_REPLY_LINES = 256
MAX_REPLY_OCTETS = 64 * 1024
MAX_KEPT_LINES = 20
"""Raw lines kept of the last reply, for the detail of a garbage reply."""

LIMITS = (
    f"a reply may have at most {MAX_REPLY_LINES} lines of at most {MAX_LINE_OCTETS:,} octets each "
    f"and {MAX_REPLY_OCTETS // 1024} KiB in all (RFC 5321 allows 512 octets a line)"
)


class RelaySentTooMuch(Exception):
    """A reply went over a cap; ``what`` says which, ``first_line`` is how the reply began."""

    def __init__(self, what: str, first_line: bytes):
        super().__init__(what)
        self.what = what
        self.first_line = first_line


class SmtpClient(smtplib.SMTP):
    """``debuglevel`` stays 0: smtplib would print the AUTH exchange."""

    def __init__(self, server_hostname: str, sock: socket.socket, local_hostname: str, timeout: float):
        super().__init__(local_hostname=local_hostname, timeout=timeout)
        self._host = server_hostname  # used by smtplib for SNI / host-name check in STARTTLS
        self.sock = sock
        self.last_lines: list[bytes] = []

    def getreply(self) -> tuple[int, bytes]:
        """One reply, as smtplib's ``getreply``: (code, text of the lines without their codes,
        joined by LF); code -1 when a line does not start with a number (no continuation is
        read after it); ``SMTPServerDisconnected`` when the connection ends or breaks. Unlike
        smtplib's, it raises ``RelaySentTooMuch`` when the reply goes over a cap, and keeps the
        raw lines (a garbage reply loses its first four characters in the parse; the detail
        should show what the server really sent)."""
        if self.file is None:
            if self.sock is None:
                raise smtplib.SMTPServerDisconnected("please run connect() first")
            self.file = self.sock.makefile("rb")
        self.last_lines.clear()
        resp: list[bytes] = []
        total = 0
        while True:
            try:
                line: bytes = self.file.readline(MAX_LINE_OCTETS + 1)
            except OSError as e:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: " + str(e)) from e
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if len(self.last_lines) < MAX_KEPT_LINES:
                self.last_lines.append(line[: MAX_LINE_OCTETS + 1])
            total += len(line)
            too_much = (
                f"a line of more than {MAX_LINE_OCTETS:,} octets"
                if len(line) > MAX_LINE_OCTETS
                else f"a reply of more than {MAX_REPLY_LINES} lines"
                if len(resp) >= MAX_REPLY_LINES
                else f"a reply of more than {MAX_REPLY_OCTETS // 1024} KiB"
                if total > MAX_REPLY_OCTETS
                else None
            )
            if too_much is not None:
                first = self.last_lines[0]
                self.close()  # read nothing more of it
                raise RelaySentTooMuch(too_much, first)
            resp.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
                break
            if line[3:4] != b"-":
                break
        return code, b"\n".join(resp)
