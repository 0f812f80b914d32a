"""One verify check: a real SMTP conversation with the relay, every failure classified.

connect (DNS, TCP) -> [implicit TLS] -> greeting -> EHLO -> [STARTTLS -> EHLO] -> AUTH
-> (send mode) MAIL, RCPT, DATA.

Bounded in time: each stage gets ``timeout_seconds``, enforced twice: the socket timeout (per
read) and a watchdog that shuts the connection down when the stage's deadline passes (so a
server that drips one byte a second cannot stretch a stage). After a failure the socket is
closed, never QUIT-and-wait. Nothing returned or logged holds the password.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import SmtpIacError
from ..models import ResolvedSettings, VerifyOptions
from .message import UnsafeField, build_test_message, looks_like_address, needs_smtputf8
from .redact import Redactor, reply_text
from .result import VerifyResult, failed, skipped, succeeded
from .tlsctx import client_context

log = logging.getLogger("smtp_iac.verify")

QUIT_WAIT_SECONDS = 1.0
"""On success we say QUIT and wait this long at most for the goodbye (the message is already
accepted by then)."""


class _Fail(Exception):
    def __init__(self, failure: str, stage: str, detail: str):
        super().__init__(detail)
        self.failure = failure
        self.stage = stage
        self.detail = detail


class _Client(smtplib.SMTP):
    """smtplib's protocol engine on a socket we connected ourselves (DNS and TCP errors are
    classified before smtplib sees them). ``debuglevel`` stays 0: smtplib would print AUTH."""

    def __init__(self, server_hostname: str, sock: socket.socket, local_hostname: str, timeout: float):
        super().__init__(local_hostname=local_hostname, timeout=timeout)
        self._host = server_hostname  # used by smtplib for SNI / host-name check in STARTTLS
        self.sock = sock
        self.last_lines: list[bytes] = []

    def getreply(self):
        """smtplib's reply reader, keeping the raw lines (a garbage reply loses its first four
        characters in smtplib's parse; the detail should show what the server really sent)."""
        if self.file is None and self.sock is not None:
            self.file = _RecordingReader(self.sock.makefile("rb"), self.last_lines)
        self.last_lines.clear()
        return super().getreply()


class _RecordingReader:
    def __init__(self, raw, sink: list[bytes]):
        self._raw = raw
        self._sink = sink

    def readline(self, size: int = -1) -> bytes:
        line = self._raw.readline(size)
        if len(self._sink) < 20:
            self._sink.append(line)
        return line

    def close(self) -> None:
        self._raw.close()


def run_check(
    settings: ResolvedSettings,
    options: VerifyOptions,
    *,
    address: str,
    base_dir: Path | None = None,
    shared_with: Sequence[str] = (),
    tls_context: ssl.SSLContext | None = None,
) -> VerifyResult:
    """Check ``settings`` over a real SMTP conversation; never raises for what the relay does.

    ``shared_with``: other scopes with identical settings (named in the test message's body).
    ``tls_context``: a prepared client context (``verify_many`` shares one); else built from
    ``options.ca_file`` (relative to ``base_dir``). An unreadable ``ca_file`` raises UsageError.
    """
    if options.mode == "off":
        return skipped(address)
    started = time.monotonic()
    password = settings.password.get_secret_value()
    redact = Redactor(settings.username, password)
    check = _Check(settings, options, address, base_dir, shared_with, tls_context)
    try:
        detail = check.run(password)
        result = succeeded(address, options.mode, redact(detail), time.monotonic() - started)
    except _Fail as f:
        result = failed(address, options.mode, f.failure, f.stage, redact(f.detail), time.monotonic() - started)
    except SmtpIacError:
        raise
    except Exception as e:  # noqa: BLE001 - a relay must never crash an apply
        result = failed(
            address,
            options.mode,
            "protocol",
            check.stage,
            redact(f"unexpected {type(e).__name__} during {check.stage}: {reply_text(str(e))}"),
            time.monotonic() - started,
        )
    finally:
        check.close()
    log.info("verify %s", result.summary())
    return result


class _Check:
    def __init__(
        self,
        settings: ResolvedSettings,
        options: VerifyOptions,
        address: str,
        base_dir: Path | None,
        shared_with: Sequence[str],
        tls_context: ssl.SSLContext | None,
    ):
        self.s = settings
        self.o = options
        self.address = address
        self.base_dir = base_dir
        self.shared_with = shared_with
        self.ctx = tls_context
        self.timeout = float(options.timeout_seconds)
        self.host = settings.host.strip().strip("[]")
        self.port = settings.port
        self.tls_mode = settings.effective_tls_mode
        self.stage = "connect"
        self.where = f"{self.host} port {self.port}"
        self.smtp: _Client | None = None
        self._killer: socket.socket | None = None
        self._fired = False
        self._token = 0
        self._lock = threading.Lock()
        self._stage_deadline = 0.0

    # ----- the conversation -----------------------------------------------------------

    def run(self, password: str) -> str:
        mail = self._prepare_message() if self.o.mode == "send" else None
        if self.tls_mode != "none" and self.ctx is None:
            self.ctx = client_context(self.o.ca_file, self.base_dir)

        sock = self._connect()
        if self.tls_mode == "implicit":
            sock = self._implicit_tls(sock)
        local = sock.getsockname()[0]
        helo_name = f"[IPv6:{local}]" if ":" in local else f"[{local}]"
        self.smtp = _Client(self.host, sock, helo_name, self.timeout)
        self._greeting()
        self._ehlo()
        if self.tls_mode == "starttls":
            self._starttls()
            self._ehlo()
        authenticated = self._auth(password)
        done = [f"{self.o.mode} check passed against {self.where} (TLS: {self.tls_mode})"]
        if authenticated:
            done.append(f"authenticated as {self.s.username!r}")
        if mail is not None:
            done.append(self._send(*mail))
        self._quit()
        return "; ".join(done)

    def _prepare_message(self):
        to = self.o.to
        if not to:
            raise _Fail("recipient_rejected", "rcpt", "verify.mode is send but verify.to is not set; nothing was sent")
        sender = self.o.from_ or self.s.sender or (self.s.username if looks_like_address(self.s.username) else None)
        if not sender:
            raise _Fail(
                "sender_rejected",
                "mail",
                "no From address: set verify.from or the record's sender (the username "
                "is not a mail address); nothing was sent",
            )
        try:
            msg = build_test_message(
                address=self.address,
                from_addr=sender,
                to_addr=to,
                host=self.host,
                port=self.port,
                tls_mode=self.tls_mode,
                shared_with=self.shared_with,
            )
        except UnsafeField as e:
            failure = "recipient_rejected" if e.field == "to" else "sender_rejected"
            raise _Fail(
                failure, "rcpt" if e.field == "to" else "mail", f"{e} (refused before connecting; nothing was sent)"
            ) from None
        return sender, to, msg

    def _connect(self) -> socket.socket:
        with self._stage("connect"):
            infos = self._resolve()
            errors: list[str] = []
            last: tuple[str, str] | None = None
            deadline = self._stage_deadline
            for family, type_, proto, _canon, sockaddr in infos:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ip = sockaddr[0]
                sock = socket.socket(family, type_, proto)
                sock.settimeout(remaining)
                try:
                    sock.connect(sockaddr)
                except TimeoutError:
                    sock.close()
                    last = ("connect_timeout", f"no answer from {ip} port {self.port} within {self.timeout:g} s")
                except ConnectionRefusedError:
                    sock.close()
                    last = ("connection_refused", f"connection refused by {ip} port {self.port}")
                except OSError as e:
                    sock.close()
                    last = (
                        "connection_refused",
                        f"cannot connect to {ip} port {self.port}: {e.strerror or type(e).__name__}",
                    )
                else:
                    self.where = f"{self.host} port {self.port}" + (f" ({ip})" if ip != self.host else "")
                    sock.settimeout(self.timeout)
                    self._killer = sock.dup()
                    return sock
                errors.append(last[1])
            if last is None:
                last = ("connect_timeout", f"no time left to connect to {self.host} port {self.port}")
                errors.append(last[1])
            raise _Fail(last[0], "connect", "; ".join(errors))

    def _resolve(self) -> list:
        try:
            ipaddress.ip_address(self.host.split("%")[0])
            literal = True
        except ValueError:
            literal = False
        box: dict = {}

        def work() -> None:
            try:
                box["infos"] = socket.getaddrinfo(
                    self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST if literal else 0
                )
            except (OSError, UnicodeError) as e:
                box["error"] = e

        worker = threading.Thread(target=work, name="smtp-iac-dns", daemon=True)
        worker.start()
        worker.join(max(0.0, self._stage_deadline - time.monotonic()))
        if worker.is_alive():
            raise _Fail("dns", "connect", f"no DNS answer for {self.host!r} within {self.timeout:g} s")
        if "error" in box:
            e = box["error"]
            why = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise _Fail("dns", "connect", f"cannot resolve {self.host!r}: {why}")
        infos = [i for i in box["infos"] if i[0] in (socket.AF_INET, socket.AF_INET6)]
        if not infos:
            raise _Fail("dns", "connect", f"{self.host!r} has no IPv4 or IPv6 address")
        return infos

    def _implicit_tls(self, sock: socket.socket) -> socket.socket:
        with self._stage("tls"):
            try:
                return self.ctx.wrap_socket(sock, server_hostname=self.host)
            except Exception as e:
                if self._timed_out(e):
                    raise self._timeout_failure("the TLS handshake") from None
                raise self._tls_failure(e, "tls") from None

    def _greeting(self) -> None:
        with self._stage("greeting"):
            code, text = self._reply(lambda: self.smtp.getreply(), "the greeting")
            if code == 220:
                return
            if code < 0:
                raise _Fail(
                    "protocol",
                    "greeting",
                    f"{self.where} sent something that is not an SMTP greeting: {self._raw_reply()!r}",
                )
            raise _Fail("protocol", "greeting", f"{self.where} refused service in its greeting: {code} {text}")

    def _ehlo(self) -> None:
        with self._stage("ehlo"):
            code, text = self._reply(lambda: self.smtp.ehlo(), "EHLO")
            if code == 250:
                return
            hcode, htext = self._reply(lambda: self.smtp.helo(), "HELO")
            if hcode == 250:
                return
            raise _Fail("protocol", "ehlo", f"{self.where} refused EHLO ({code} {text}) and HELO ({hcode} {htext})")

    def _starttls(self) -> None:
        with self._stage("starttls"):
            if not self.smtp.has_extn("starttls"):
                raise _Fail(
                    "starttls_not_offered",
                    "starttls",
                    f"{self.where} does not offer STARTTLS (EHLO offers: {self._features() or 'nothing'})",
                )
            code, text = self._reply(lambda: self.smtp.docmd("STARTTLS"), "STARTTLS")
            if code != 220:
                raise _Fail("starttls_not_offered", "starttls", f"{self.where} refused STARTTLS: {code} {text}")
            try:
                self.smtp.sock = self.ctx.wrap_socket(self.smtp.sock, server_hostname=self.host)
            except Exception as e:
                if self._timed_out(e):
                    raise self._timeout_failure("the TLS handshake after STARTTLS") from None
                raise self._tls_failure(e, "starttls") from None
            # RFC 3207: forget what was learnt before TLS.
            self.smtp.file = None
            self.smtp.helo_resp = None
            self.smtp.ehlo_resp = None
            self.smtp.esmtp_features = {}
            self.smtp.does_esmtp = False

    def _auth(self, password: str) -> bool:
        if not self.s.username:
            return False
        with self._stage("auth"):
            if not self.smtp.has_extn("auth"):
                why = " (without TLS; many servers offer AUTH only after TLS)" if self.tls_mode == "none" else ""
                raise _Fail(
                    "auth_not_offered",
                    "auth",
                    f"{self.where} does not offer AUTH{why} (EHLO offers: {self._features() or 'nothing'})",
                )
            try:
                self.smtp.login(self.s.username, password)
            except smtplib.SMTPAuthenticationError as e:
                raise _Fail(
                    "auth_failed",
                    "auth",
                    f"{self.where} rejected the credentials of {self.s.username!r}: "
                    f"{e.smtp_code} {reply_text(e.smtp_error)}",
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise _Fail("auth_not_offered", "auth", f"{self.where} does not offer AUTH") from None
            except smtplib.SMTPServerDisconnected as e:
                raise self._io_failure(e, "AUTH") from None
            except smtplib.SMTPException as e:
                if type(e) is smtplib.SMTPException:  # "No suitable authentication method found."
                    offered = self.smtp.esmtp_features.get("auth", "").strip() or "no mechanism"
                    raise _Fail(
                        "auth_not_offered",
                        "auth",
                        f"{self.where} offers AUTH {offered}; none that this client supports (CRAM-MD5, PLAIN, LOGIN)",
                    ) from None
                raise _Fail("protocol", "auth", f"{self.where}: AUTH failed: {reply_text(str(e))}") from None
            except OSError as e:
                raise self._io_failure(e, "AUTH") from None
        return True

    def _send(self, sender: str, to: str, msg) -> str:
        smtputf8 = needs_smtputf8(sender, to)
        mail_options: list[str] = []
        if smtputf8:
            if not self.smtp.has_extn("smtputf8"):
                which = "sender_rejected" if not sender.isascii() else "recipient_rejected"
                raise _Fail(
                    which,
                    "mail",
                    f"{self.where} does not offer SMTPUTF8, needed for a non-ASCII address; nothing was sent",
                )
            mail_options.append("SMTPUTF8")
        with self._stage("mail"):
            code, text = self._reply(lambda: self.smtp.mail(sender, mail_options), "MAIL FROM")
            if code != 250:
                raise self._rejected("sender_rejected", "mail", f"MAIL FROM:<{sender}>", code, text)
        with self._stage("rcpt"):
            code, text = self._reply(lambda: self.smtp.rcpt(to), "RCPT TO")
            if code not in (250, 251):
                raise self._rejected("recipient_rejected", "rcpt", f"RCPT TO:<{to}>", code, text)
        with self._stage("data"):
            try:
                code, text = self._reply(lambda: self.smtp.data(msg.as_bytes()), "DATA")
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, reply_text(e.smtp_error)
            if code != 250:
                raise self._rejected("protocol", "data", "the test message (DATA)", code, text)
        return f"test message from {sender} to {to} accepted: {code} {text}"

    def _quit(self) -> None:
        """Polite goodbye on success only, bounded by QUIT_WAIT_SECONDS; its outcome is ignored."""
        wait = min(self.timeout, QUIT_WAIT_SECONDS)
        with self._lock:
            self._token += 1
            token = self._token
        watchdog = threading.Timer(wait, self._expire, args=(token,))
        watchdog.daemon = True
        watchdog.start()
        try:
            self.smtp.sock.settimeout(wait)
            self.smtp.putcmd("quit")
            self.smtp.getreply()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            watchdog.cancel()
            with self._lock:
                self._token += 1

    # ----- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Run one stage under the timeout: socket timeout per read, watchdog for the whole stage."""
        with self._lock:
            self.stage = name
            self._fired = False
            self._token += 1
            token = self._token
        self._stage_deadline = time.monotonic() + self.timeout
        if self.smtp is not None and self.smtp.sock is not None:
            self.smtp.sock.settimeout(self.timeout)
        watchdog = threading.Timer(self.timeout, self._expire, args=(token,))
        watchdog.daemon = True
        watchdog.start()
        try:
            yield
        finally:
            watchdog.cancel()
            with self._lock:
                self._token += 1  # a watchdog that is already running now does nothing
        if self._fired:  # the stage ended, but at its deadline: the connection may be shut
            raise self._timeout_failure("the server")

    def _expire(self, token: int) -> None:
        with self._lock:
            if token != self._token:
                return
            self._fired = True
            if self._killer is not None:
                try:
                    self._killer.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _timeout_failure(self, what: str) -> _Fail:
        t = f"{self.timeout:g} s"
        if self.stage == "connect":
            return _Fail("connect_timeout", "connect", f"no connection to {self.where} within {t}")
        if self.stage == "greeting":
            return _Fail(
                "greeting_timeout",
                "greeting",
                f"{self.where} accepted the connection but sent no SMTP greeting within {t}",
            )
        if self.stage == "tls":
            return _Fail(
                "greeting_timeout",
                "tls",
                f"{self.where} accepted the connection but did not answer the TLS "
                f"handshake within {t} (nothing was received)",
            )
        if self.stage == "starttls":
            return _Fail(
                "protocol", "starttls", f"{self.where} did not complete STARTTLS and the TLS handshake within {t}"
            )
        return _Fail("protocol", self.stage, f"{self.where} did not answer {what} within {t}")

    def _timed_out(self, e: BaseException) -> bool:
        return (
            self._fired
            or isinstance(e, TimeoutError)
            or isinstance(e.__context__, TimeoutError)
            or isinstance(e.__cause__, TimeoutError)
        )

    def _reply(self, call, what: str) -> tuple[int, str]:
        try:
            code, raw = call()
        except smtplib.SMTPResponseException as e:
            if isinstance(e, smtplib.SMTPDataError):
                raise
            return e.smtp_code, reply_text(e.smtp_error)
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            raise self._io_failure(e, what) from None
        if self._fired:
            raise self._io_failure(TimeoutError(), what)
        return code, reply_text(raw)

    def _io_failure(self, e: BaseException, what: str) -> _Fail:
        if self._timed_out(e):
            return self._timeout_failure(what)
        if isinstance(e, ssl.SSLError):
            return self._tls_failure(e, self.stage)
        why = reply_text(str(e)) or type(e).__name__
        return _Fail("protocol", self.stage, f"{self.where} closed or broke the connection during {what}: {why}")

    def _tls_failure(self, e: BaseException, stage: str) -> _Fail:
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or reply_text(str(e))
            return _Fail("cert_verify", stage, f"certificate of {self.where} not accepted for {self.host!r}: {why}")
        if isinstance(e, ssl.SSLError):
            why = getattr(e, "reason", None) or reply_text(str(e))
            return _Fail(
                "tls_mismatch",
                stage,
                f"TLS handshake with {self.where} failed: {why} (the server does not "
                f"speak TLS {'on connect' if stage == 'tls' else 'after STARTTLS'})",
            )
        why = reply_text(str(e)) or type(e).__name__
        return _Fail("tls_mismatch", stage, f"TLS handshake with {self.where} failed: the connection broke ({why})")

    def _rejected(self, failure: str, stage: str, what: str, code: int, text: str) -> _Fail:
        if code < 0:
            return _Fail("protocol", stage, f"{self.where} answered {what} with garbage: {self._raw_reply()!r}")
        return _Fail(failure, stage, f"{self.where} refused {what}: {code} {text}")

    def _raw_reply(self) -> str:
        lines = self.smtp.last_lines if self.smtp is not None else []
        return reply_text(b" | ".join(line.rstrip(b"\r\n") for line in lines))

    def _features(self) -> str:
        return ", ".join(sorted(k.upper() for k in (self.smtp.esmtp_features or {})))

    def close(self) -> None:
        """Close, never QUIT: after a failure nothing waits on the server."""
        for closer in (getattr(self.smtp, "close", None), getattr(self._killer, "close", None)):
            if closer is not None:
                try:
                    closer()
                except OSError:
                    pass
        self._killer = None
