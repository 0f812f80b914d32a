"""The timing and the failure vocabulary of one SMTP conversation, apart from what is said in it
(``check``), and every way a relay can break a stage turned into a ``CheckFailed`` of the right
class, naming what the relay sent.

Rules:

- One deadline for the whole check (``deadline.Deadline``): each stage runs within what is
  left of ``timeout_seconds``, with the socket's timeout set to that and the ``Watchdog`` armed
  against it, so that the connection is shut down when the time is up however the relay spreads
  its bytes over the stages. A timeout keeps the class of the stage it happened in.
- A reply over the client's caps (``client.RelaySentTooMuch``) ends the stage as ``protocol``,
  saying what the relay sent too much of and what is allowed.
- Relay text is masked before it is cut (``self.text``: ``reply_text`` with the check's
  ``Redactor``), everywhere it is kept.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .client import LIMITS, RelaySentTooMuch, SmtpClient
from .deadline import Deadline
from .redact import Redactor, reply_text
from .result import CheckFailed, Failure, Stage
from .watchdog import Watchdog

QUIT_WAIT_SECONDS = 1.0
"""On success we say QUIT and wait this long at most for the goodbye (the message is already
accepted by then)."""

_ASKED = {
    Stage.GREETING: "the greeting",
    Stage.EHLO: "EHLO",
    Stage.STARTTLS: "STARTTLS",
    Stage.AUTH: "AUTH",
    Stage.MAIL: "MAIL FROM",
    Stage.RCPT: "RCPT TO",
    Stage.DATA: "DATA",
}
"""What the check was waiting on in each stage, for messages."""


_ECHOING = frozenset({Stage.MAIL, Stage.RCPT, Stage.DATA})
_ENHANCED = re.compile(r"^\s*([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")


class Session:
    def __init__(self, host: str, port: int, deadline: Deadline, ctx: ssl.SSLContext | None, redact: Redactor):
        self.host = host
        self.port = port
        self.deadline = deadline
        self.timeout = deadline.seconds
        self.ctx = ctx
        self.redact = redact
        self.withhold_echo = False  # ``run_check(password_known=False)``: see ``text``
        self.stage = Stage.CONNECT
        self.where = f"{host} port {port}"
        self.sock: socket.socket | None = None  # the connection before the SMTP client takes it
        self._smtp: SmtpClient | None = None
        self.watchdog = Watchdog()

    @property
    def smtp(self) -> SmtpClient:
        assert self._smtp is not None, "the conversation has not started"
        return self._smtp

    def quit(self) -> None:
        """Polite goodbye on success only, bounded by QUIT_WAIT_SECONDS; its outcome is ignored."""
        wait = min(self.timeout, QUIT_WAIT_SECONDS)
        with self.watchdog.armed(wait), contextlib.suppress(OSError, smtplib.SMTPException, RelaySentTooMuch):
            if self.smtp.sock is not None:
                self.smtp.sock.settimeout(wait)
            self.smtp.putcmd("quit")
            self.smtp.getreply()

    def text(self, raw: bytes | str | None, sep: str = " ") -> str:
        """Relay text as it may be kept: the password masked, then cut (``reply_text``).

        With ``withhold_echo`` (a check with a password its caller did not give: the stored
        one), the relay's words in the replies to MAIL, RCPT and DATA are withheld but for their
        enhanced status code: they may echo what the caller chose (its ``to``, ``from``, a
        message), and a mask in there would tell the caller that its text held the password."""
        if self.withhold_echo and self.stage in _ECHOING:
            code = _ENHANCED.match(reply_text(raw, None))
            return (
                code.group(1) + " " if code else ""
            ) + "(the relay's words are withheld: they may echo what was sent)"
        return reply_text(raw, self.redact, sep=sep)

    def _tls(self) -> ssl.SSLContext:
        assert self.ctx is not None  # made in run() whenever the mode needs TLS
        return self.ctx

    # ----- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _stage(self, name: Stage) -> Iterator[None]:
        """Run one stage within what is left of the check's deadline: the socket's timeout is
        the time left, and the watchdog shuts the connection down when it runs out."""
        self.stage = name
        left = self.deadline.remaining()
        if left <= 0:
            raise self._timeout_failure()
        sock = self._smtp.sock if self._smtp is not None else self.sock
        if sock is not None:
            sock.settimeout(left)
        try:
            with self.watchdog.armed(left):
                yield
        except RelaySentTooMuch as e:
            raise self._too_much(e) from None
        if self.watchdog.fired:  # the stage ended, but at the deadline: the connection may be shut
            raise self._timeout_failure()

    def _timeout_failure(self, what: str | None = None) -> CheckFailed:
        out = self.deadline.ran_out
        if self.stage is Stage.CONNECT:
            return CheckFailed(Failure.CONNECT_TIMEOUT, Stage.CONNECT, f"no connection to {self.where}: {out}")
        if self.stage is Stage.GREETING:
            return CheckFailed(
                Failure.GREETING_TIMEOUT,
                Stage.GREETING,
                f"{self.where} accepted the connection but sent no complete SMTP greeting: {out}",
            )
        if self.stage is Stage.TLS:
            return CheckFailed(
                Failure.GREETING_TIMEOUT,
                Stage.TLS,
                f"{self.where} accepted the connection but did not complete the TLS handshake: {out}",
            )
        if self.stage is Stage.STARTTLS:
            return CheckFailed(
                Failure.PROTOCOL, Stage.STARTTLS, f"{self.where} did not complete STARTTLS and the TLS handshake: {out}"
            )
        what = what or _ASKED.get(self.stage, str(self.stage))
        return CheckFailed(Failure.PROTOCOL, self.stage, f"{self.where} did not answer {what} in time: {out}")

    def _too_much(self, e: RelaySentTooMuch) -> CheckFailed:
        began = self.text(e.first_line)  # masked, then cut
        if len(began) > 80:
            began = began[:77] + "..."
        said = "its greeting" if self.stage is Stage.GREETING else f"its reply to {_ASKED.get(self.stage, self.stage)}"
        return CheckFailed(
            Failure.PROTOCOL,
            self.stage,
            f"{self.where} sent too much in {said}: {e.what}, where {LIMITS}; "
            f"the check stopped reading there (the reply began {began!r})",
        )

    def _timed_out(self, e: BaseException) -> bool:
        return (
            self.watchdog.fired
            or isinstance(e, TimeoutError)
            or isinstance(e.__context__, TimeoutError)
            or isinstance(e.__cause__, TimeoutError)
        )

    def _reply(self, call: Callable[[], tuple[int, bytes]], what: str) -> tuple[int, str]:
        try:
            code, raw = call()
        except smtplib.SMTPResponseException as e:
            if isinstance(e, smtplib.SMTPDataError):
                raise
            return e.smtp_code, self.text(e.smtp_error)
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise self._io_failure(e, what) from None
        if self.watchdog.fired:
            raise self._io_failure(TimeoutError(), what)
        return code, self.text(raw)

    def _io_failure(self, e: BaseException, what: str) -> CheckFailed:
        if self._timed_out(e):
            return self._timeout_failure(what)
        if isinstance(e, ssl.SSLError):
            return self._tls_failure(e, self.stage)
        why = self.text(str(e)) or type(e).__name__
        return CheckFailed(
            Failure.PROTOCOL, self.stage, f"{self.where} closed or broke the connection during {what}: {why}"
        )

    def _tls_failure(self, e: BaseException, stage: Stage) -> CheckFailed:
        if isinstance(e, ssl.SSLCertVerificationError):
            why = self.text(e.verify_message or str(e))
            return CheckFailed(
                Failure.CERT_VERIFY, stage, f"certificate of {self.where} not accepted for {self.host!r}: {why}"
            )
        if isinstance(e, ssl.SSLError):
            why = self.text(getattr(e, "reason", None) or str(e))
            return CheckFailed(
                Failure.TLS_MISMATCH,
                stage,
                f"TLS handshake with {self.where} failed: {why} (the server does not "
                f"speak TLS {'on connect' if stage is Stage.TLS else 'after STARTTLS'})",
            )
        why = self.text(str(e)) or type(e).__name__
        return CheckFailed(
            Failure.TLS_MISMATCH, stage, f"TLS handshake with {self.where} failed: the connection broke ({why})"
        )

    def _rejected(self, failure: Failure, stage: Stage, what: str, code: int, text: str) -> CheckFailed:
        if code < 0:
            return CheckFailed(
                Failure.PROTOCOL, stage, f"{self.where} answered {what} with garbage: {self._raw_reply()!r}"
            )
        return CheckFailed(failure, stage, f"{self.where} refused {what}: {code} {text}")

    def _raw_reply(self) -> str:
        lines = self._smtp.last_lines if self._smtp is not None else []
        return self.text(b"\n".join(line.rstrip(b"\r\n") for line in lines), sep=" | ")

    def _features(self) -> str:
        """The extensions the relay's EHLO offered, as relay text (masked, then cut)."""
        return self.text(", ".join(sorted(k.upper() for k in (self.smtp.esmtp_features or {}))))

    def close(self) -> None:
        """Close, never QUIT: after a failure nothing waits on the server."""
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
        self.watchdog.close()
