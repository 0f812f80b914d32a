"""One verify check: a real SMTP conversation with the relay, every failure classified.

connect (DNS, TCP) -> [implicit TLS] -> greeting -> EHLO -> [STARTTLS -> EHLO] -> AUTH
-> (send mode) MAIL, RCPT, DATA.

Bounded in time and classified by ``session.Session``: ``timeout_seconds`` is one deadline for
the whole conversation, counted from the start of the check; replies are capped in size
(``client``). After a failure the socket is closed, never QUIT-and-wait. Nothing returned or
logged holds the password: relay text is masked before it is cut, and every detail is masked
again as a whole.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from ..addresses import Address
from ..errors import SmtpIacError
from ..models import ResolvedSettings, VerifyOptions
from ..reading.rules import HostError, host_ascii
from .client import SmtpClient
from .connect import allowed, connect, resolve
from .deadline import Deadline
from .message import UnsafeField, build_test_message, from_address, needs_smtputf8
from .redact import Redactor, reply_text
from .result import CheckFailed, Failure, Stage, VerifyResult, failed, skipped, succeeded
from .session import Session
from .tlsctx import client_context

log = logging.getLogger("smtp_iac.verify")

Mail = tuple[str, str, EmailMessage]
"""(envelope from, envelope to, message)."""


def run_check(
    settings: ResolvedSettings,
    options: VerifyOptions,
    *,
    address: Address,
    base_dir: Path | None = None,
    shared_with: Sequence[Address] = (),
    tls_context: ssl.SSLContext | None = None,
    destination: Callable[[str], str | None] | None = None,
    message: Mail | None = None,
    password_known: bool = True,
) -> VerifyResult:
    """Check ``settings`` over a real SMTP conversation; never raises for what the relay does.

    ``shared_with``: other scopes with identical settings (named in the test message's body).
    ``tls_context``: a prepared client context (``verify_many`` shares one); else built from
    ``options.ca_file`` (relative to ``base_dir``). An unreadable ``ca_file`` raises UsageError.
    ``destination``: asked of every address the relay's name resolves to, just before the
    connection; a reason it gives refuses that address (the service's ``--deny-relay``, checked
    again here so that a name that resolves anew cannot slip past it).
    ``message``: (from, to, message) sent instead of the test message (the service's mailer;
    ``options.mode`` must be ``send``).
    ``password_known``: False when the caller did not give the password (the service checks with
    the stored one): the relay's words after MAIL, RCPT and DATA are then withheld
    (``Session.text``), so that no caller learns from a mask whether its own text held it.
    The log line masks the password everywhere, the caller's own text included.
    """
    if options.mode == "off":
        return skipped(address)
    deadline = Deadline(float(options.timeout_seconds))
    password = settings.password.get_secret_value()
    redact = Redactor(settings.username, password)
    check = _Check(settings, options, address, base_dir, shared_with, tls_context, deadline, redact)
    check.destination = destination
    check.prepared = message
    check.withhold_echo = not password_known
    try:
        detail = check.run(password)
        result = succeeded(address, options.mode, detail, deadline.elapsed(), check.cert_not_after)
    except CheckFailed as f:  # relay text in a detail is masked where it is read (``Session.text``)
        result = failed(address, options.mode, f, f.detail, deadline.elapsed(), check.cert_not_after)
    except SmtpIacError:
        raise
    except Exception as e:  # noqa: BLE001 - a relay must never crash an apply
        why = CheckFailed(Failure.PROTOCOL, check.stage, f"unexpected {type(e).__name__} during {check.stage}")
        # a codec error's message names the character and its position in the text it was
        # encoding, which may be the password: it is left out
        said = "" if isinstance(e, UnicodeError) else f": {reply_text(str(e), redact)}"
        detail = f"{why.detail}{said}"
        result = failed(address, options.mode, why, detail, deadline.elapsed())
    finally:
        check.close()
    log.info("verify %s", redact(result.summary()))
    return result


class _Check(Session):
    def __init__(
        self,
        settings: ResolvedSettings,
        options: VerifyOptions,
        address: Address,
        base_dir: Path | None,
        shared_with: Sequence[Address],
        tls_context: ssl.SSLContext | None,
        deadline: Deadline,
        redact: Redactor,
    ):
        super().__init__(_network_host(settings.host), settings.port, deadline, tls_context, redact)
        self.s = settings
        self.o = options
        self.address = address
        self.base_dir = base_dir
        self.shared_with = shared_with
        self.tls_mode = settings.effective_tls_mode
        self.destination: Callable[[str], str | None] | None = None
        self.prepared: Mail | None = None
        self.cert_not_after: datetime | None = None

    # ----- the conversation -----------------------------------------------------------

    def run(self, password: str) -> str:
        mail = self.prepared or (self._prepare_message() if self.o.mode == "send" else None)
        if self.tls_mode != "none" and self.ctx is None:
            self.ctx = client_context(self.o.ca_file, self.base_dir)

        sock = self._connect()
        if self.tls_mode == "implicit":
            sock = self._implicit_tls(sock)
        local = sock.getsockname()[0]
        helo_name = f"[IPv6:{local}]" if ":" in local else f"[{local}]"
        self._smtp = SmtpClient(self.host, sock, helo_name, self.deadline.remaining())
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
        self.quit()
        return "; ".join(done)

    def _prepare_message(self) -> tuple[str, str, EmailMessage]:
        to = self.o.to
        if not to:
            raise CheckFailed(
                Failure.RECIPIENT_REJECTED, Stage.RCPT, "verify.mode is send but verify.to is not set; nothing was sent"
            )
        sender = from_address(self.o.from_, self.s.sender, self.s.username)
        if not sender:
            raise CheckFailed(
                Failure.SENDER_REJECTED,
                Stage.MAIL,
                "no From address: set verify.from or the record's sender (the username "
                "is not a mail address); nothing was sent",
            )
        try:
            msg = build_test_message(
                address=str(self.address),
                from_addr=sender,
                to_addr=to,
                host=self.host,
                port=self.port,
                tls_mode=self.tls_mode,
                shared_with=[str(a) for a in self.shared_with],
            )
        except UnsafeField as e:
            to_field = e.field == "to"
            raise CheckFailed(
                Failure.RECIPIENT_REJECTED if to_field else Failure.SENDER_REJECTED,
                Stage.RCPT if to_field else Stage.MAIL,
                f"{e} (refused before connecting; nothing was sent)",
            ) from None
        return sender, to, msg

    def _connect(self) -> socket.socket:
        with self._stage(Stage.CONNECT):
            infos = resolve(self.host, self.port, self.deadline)
            if self.destination is not None:
                infos = allowed(infos, self.destination, self.host)
            sock, ip = connect(infos, self.host, self.port, self.deadline)
            self.where = f"{self.host} port {self.port}" + (f" ({ip})" if ip != self.host else "")
            self.sock = sock
            self.watchdog.watch(sock)
            return sock

    def _implicit_tls(self, sock: socket.socket) -> socket.socket:
        with self._stage(Stage.TLS):
            try:
                self.sock = self._tls().wrap_socket(sock, server_hostname=self.host)
                self.cert_not_after = cert_expiry(self.sock)
                return self.sock
            except Exception as e:  # noqa: BLE001 - any handshake failure is classified, none escapes
                if self._timed_out(e):
                    raise self._timeout_failure("the TLS handshake") from None
                raise self._tls_failure(e, Stage.TLS) from None

    def _greeting(self) -> None:
        with self._stage(Stage.GREETING):
            code, text = self._reply(lambda: self.smtp.getreply(), "the greeting")
            if code == 220:
                return
            if code < 0:
                raise CheckFailed(
                    Failure.PROTOCOL,
                    Stage.GREETING,
                    f"{self.where} sent something that is not an SMTP greeting: {self._raw_reply()!r}",
                )
            raise CheckFailed(
                Failure.PROTOCOL, Stage.GREETING, f"{self.where} refused service in its greeting: {code} {text}"
            )

    def _ehlo(self) -> None:
        with self._stage(Stage.EHLO):
            code, text = self._reply(lambda: self.smtp.ehlo(), "EHLO")
            if code == 250:
                return
            hcode, htext = self._reply(lambda: self.smtp.helo(), "HELO")
            if hcode == 250:
                return
            raise CheckFailed(
                Failure.PROTOCOL, Stage.EHLO, f"{self.where} refused EHLO ({code} {text}) and HELO ({hcode} {htext})"
            )

    def _starttls(self) -> None:
        with self._stage(Stage.STARTTLS):
            if not self.smtp.has_extn("starttls"):
                raise CheckFailed(
                    Failure.STARTTLS_NOT_OFFERED,
                    Stage.STARTTLS,
                    f"{self.where} does not offer STARTTLS (EHLO offers: {self._features() or 'nothing'})",
                )
            code, text = self._reply(lambda: self.smtp.docmd("STARTTLS"), "STARTTLS")
            if code != 220:
                raise CheckFailed(
                    Failure.STARTTLS_NOT_OFFERED, Stage.STARTTLS, f"{self.where} refused STARTTLS: {code} {text}"
                )
            try:
                assert self.smtp.sock is not None
                self.smtp.sock = self._tls().wrap_socket(self.smtp.sock, server_hostname=self.host)
                self.cert_not_after = cert_expiry(self.smtp.sock)
            except Exception as e:  # noqa: BLE001 - any handshake failure is classified, none escapes
                if self._timed_out(e):
                    raise self._timeout_failure("the TLS handshake after STARTTLS") from None
                raise self._tls_failure(e, Stage.STARTTLS) from None
            # RFC 3207: forget what was learnt before TLS.
            self.smtp.file = None
            self.smtp.helo_resp = None
            self.smtp.ehlo_resp = None
            self.smtp.esmtp_features = {}
            self.smtp.does_esmtp = False

    def _auth(self, password: str) -> bool:
        if not self.s.username:
            return False
        with self._stage(Stage.AUTH):
            if not self.smtp.has_extn("auth"):
                why = " (without TLS; many servers offer AUTH only after TLS)" if self.tls_mode == "none" else ""
                raise CheckFailed(
                    Failure.AUTH_NOT_OFFERED,
                    Stage.AUTH,
                    f"{self.where} does not offer AUTH{why} (EHLO offers: {self._features() or 'nothing'})",
                )
            try:
                self.smtp.login(self.s.username, password)
            except UnicodeError:  # smtplib sends AUTH in ASCII; its message would name the character
                raise CheckFailed(
                    Failure.AUTH_FAILED,
                    Stage.AUTH,
                    "the username or password holds characters that SMTP AUTH cannot send (non-ASCII); "
                    "nothing was sent to the relay",
                ) from None
            except smtplib.SMTPAuthenticationError as e:
                raise CheckFailed(
                    Failure.AUTH_FAILED,
                    Stage.AUTH,
                    f"{self.where} rejected the credentials of {self.s.username!r}: "
                    f"{e.smtp_code} {self.text(e.smtp_error)}",
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise CheckFailed(Failure.AUTH_NOT_OFFERED, Stage.AUTH, f"{self.where} does not offer AUTH") from None
            except smtplib.SMTPServerDisconnected as e:
                raise self._io_failure(e, "AUTH") from None
            except smtplib.SMTPException as e:
                if type(e) is smtplib.SMTPException:  # "No suitable authentication method found."
                    offered = self.text(self.smtp.esmtp_features.get("auth", "")) or "no mechanism"
                    raise CheckFailed(
                        Failure.AUTH_NOT_OFFERED,
                        Stage.AUTH,
                        f"{self.where} offers AUTH {offered}; none that this client supports (CRAM-MD5, PLAIN, LOGIN)",
                    ) from None
                raise CheckFailed(
                    Failure.PROTOCOL, Stage.AUTH, f"{self.where}: AUTH failed: {self.text(str(e))}"
                ) from None
            except OSError as e:
                raise self._io_failure(e, "AUTH") from None
        return True

    def _send(self, sender: str, to: str, msg: EmailMessage) -> str:
        smtputf8 = needs_smtputf8(sender, to)
        mail_options: list[str] = []
        if smtputf8:
            if not self.smtp.has_extn("smtputf8"):
                which = Failure.SENDER_REJECTED if not sender.isascii() else Failure.RECIPIENT_REJECTED
                raise CheckFailed(
                    which,
                    Stage.MAIL,
                    f"{self.where} does not offer SMTPUTF8, needed for a non-ASCII address; nothing was sent",
                )
            mail_options.append("SMTPUTF8")
        with self._stage(Stage.MAIL):
            code, text = self._reply(lambda: self.smtp.mail(sender, mail_options), "MAIL FROM")
            if code != 250:
                raise self._rejected(Failure.SENDER_REJECTED, Stage.MAIL, f"MAIL FROM:<{sender}>", code, text)
        with self._stage(Stage.RCPT):
            code, text = self._reply(lambda: self.smtp.rcpt(to), "RCPT TO")
            if code not in (250, 251):
                raise self._rejected(Failure.RECIPIENT_REJECTED, Stage.RCPT, f"RCPT TO:<{to}>", code, text)
        with self._stage(Stage.DATA):
            try:
                code, text = self._reply(lambda: self.smtp.data(msg.as_bytes()), "DATA")
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, self.text(e.smtp_error)
            if code != 250:
                raise self._rejected(Failure.PROTOCOL, Stage.DATA, "the test message (DATA)", code, text)
        what = "message" if self.prepared else "test message"
        return f"{what} from {sender} to {to} accepted: {code} {text}"


def cert_expiry(sock: socket.socket) -> datetime | None:
    """When the relay's certificate expires (its ``notAfter``), as the handshake just verified it;
    None when the context verified no certificate."""
    getpeercert = getattr(sock, "getpeercert", None)
    cert = getpeercert() if getpeercert is not None else None
    not_after = cert.get("notAfter") if cert else None
    if not isinstance(not_after, str):
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)


def _network_host(host: str) -> str:
    """The host as validation accepted it, in the form DNS, SNI and the certificate check use:
    the A-label (IDNA 2008) of a name, an IP literal as written. Python's own codec would
    encode a name with IDNA 2003 (``faß.de`` becomes ``fass.de``: another host than the one
    reviewed)."""
    host = host.strip().strip("[]")
    try:
        return host_ascii(host)
    except HostError:  # settings from an old plan or store: let DNS say what is wrong
        return host
