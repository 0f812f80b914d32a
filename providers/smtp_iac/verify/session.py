"""The timing and the failure vocabulary of one SMTP conversation, apart from what is said in it
(``check``): each stage runs under ``timeout_seconds`` (a socket timeout per read and a
``Watchdog`` for the whole stage), and every way a relay can break a stage is turned into a
``CheckFailed`` of the right class, naming what the relay sent."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .client import SmtpClient
from .redact import reply_text
from .result import CheckFailed, Failure, Stage
from .watchdog import Watchdog

QUIT_WAIT_SECONDS = 1.0
"""On success we say QUIT and wait this long at most for the goodbye (the message is already
accepted by then)."""


class Session:
    def __init__(self, host: str, port: int, timeout: float, ctx: ssl.SSLContext | None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.ctx = ctx
        self.stage = Stage.CONNECT
        self.where = f"{host} port {port}"
        self._smtp: SmtpClient | None = None
        self.watchdog = Watchdog()
        self._stage_deadline = 0.0

    @property
    def smtp(self) -> SmtpClient:
        assert self._smtp is not None, "the conversation has not started"
        return self._smtp

    def quit(self) -> None:
        """Polite goodbye on success only, bounded by QUIT_WAIT_SECONDS; its outcome is ignored."""
        wait = min(self.timeout, QUIT_WAIT_SECONDS)
        with self.watchdog.armed(wait), contextlib.suppress(OSError, smtplib.SMTPException):
            if self.smtp.sock is not None:
                self.smtp.sock.settimeout(wait)
            self.smtp.putcmd("quit")
            self.smtp.getreply()

    def _tls(self) -> ssl.SSLContext:
        assert self.ctx is not None  # made in run() whenever the mode needs TLS
        return self.ctx

    # ----- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _stage(self, name: Stage) -> Iterator[None]:
        """Run one stage under the timeout: socket timeout per read, watchdog for the whole stage."""
        self.stage = name
        self._stage_deadline = time.monotonic() + self.timeout
        if self._smtp is not None and self._smtp.sock is not None:
            self._smtp.sock.settimeout(self.timeout)
        with self.watchdog.armed(self.timeout):
            yield
        if self.watchdog.fired:  # the stage ended, but at its deadline: the connection may be shut
            raise self._timeout_failure("the server")

    def _timeout_failure(self, what: str) -> CheckFailed:
        t = f"{self.timeout:g} s"
        if self.stage is Stage.CONNECT:
            return CheckFailed(Failure.CONNECT_TIMEOUT, Stage.CONNECT, f"no connection to {self.where} within {t}")
        if self.stage is Stage.GREETING:
            return CheckFailed(
                Failure.GREETING_TIMEOUT,
                Stage.GREETING,
                f"{self.where} accepted the connection but sent no SMTP greeting within {t}",
            )
        if self.stage is Stage.TLS:
            return CheckFailed(
                Failure.GREETING_TIMEOUT,
                Stage.TLS,
                f"{self.where} accepted the connection but did not answer the TLS "
                f"handshake within {t} (nothing was received)",
            )
        if self.stage is Stage.STARTTLS:
            return CheckFailed(
                Failure.PROTOCOL,
                Stage.STARTTLS,
                f"{self.where} did not complete STARTTLS and the TLS handshake within {t}",
            )
        return CheckFailed(Failure.PROTOCOL, self.stage, f"{self.where} did not answer {what} within {t}")

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
            return e.smtp_code, reply_text(e.smtp_error)
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise self._io_failure(e, what) from None
        if self.watchdog.fired:
            raise self._io_failure(TimeoutError(), what)
        return code, reply_text(raw)

    def _io_failure(self, e: BaseException, what: str) -> CheckFailed:
        if self._timed_out(e):
            return self._timeout_failure(what)
        if isinstance(e, ssl.SSLError):
            return self._tls_failure(e, self.stage)
        why = reply_text(str(e)) or type(e).__name__
        return CheckFailed(
            Failure.PROTOCOL, self.stage, f"{self.where} closed or broke the connection during {what}: {why}"
        )

    def _tls_failure(self, e: BaseException, stage: Stage) -> CheckFailed:
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or reply_text(str(e))
            return CheckFailed(
                Failure.CERT_VERIFY, stage, f"certificate of {self.where} not accepted for {self.host!r}: {why}"
            )
        if isinstance(e, ssl.SSLError):
            why = getattr(e, "reason", None) or reply_text(str(e))
            return CheckFailed(
                Failure.TLS_MISMATCH,
                stage,
                f"TLS handshake with {self.where} failed: {why} (the server does not "
                f"speak TLS {'on connect' if stage is Stage.TLS else 'after STARTTLS'})",
            )
        why = reply_text(str(e)) or type(e).__name__
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
        return reply_text(b" | ".join(line.rstrip(b"\r\n") for line in lines))

    def _features(self) -> str:
        return ", ".join(sorted(k.upper() for k in (self.smtp.esmtp_features or {})))

    def close(self) -> None:
        """Close, never QUIT: after a failure nothing waits on the server."""
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
        self.watchdog.close()
