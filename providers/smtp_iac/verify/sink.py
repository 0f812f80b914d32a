"""A local SMTP sink on loopback, for development and the README demo (no real relay needed).

It accepts any AUTH (allowed without TLS because it only ever listens on loopback), keeps each
message's envelope and headers, and never keeps a password. With ``tls="starttls"`` or
``"implicit"`` it makes a throwaway CA and certificate (for 127.0.0.1, ::1, localhost) and
writes the CA to ``ca_file``, to be used as the stack's ``verify.ca_file``.

    handle = start_sink("127.0.0.1", 0, tls="starttls")   # port 0: any free port
    ... handle.port, handle.messages, handle.ca_file ...
    handle.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from ..errors import UsageError

TLS_MODES = ("none", "starttls", "implicit")
SINK_HOSTNAME = "smtp-iac-sink.localhost"

log = logging.getLogger("smtp_iac.sink")

# aiosmtpd warns, on every successful AUTH, that it set a deprecated attribute itself.
logging.getLogger("mail.log").addFilter(lambda record: "login_data" not in record.getMessage())


@dataclass(frozen=True)
class SinkMessage:
    number: int
    received_at: dt.datetime
    peer: str
    tls: bool
    auth_user: str | None
    mail_from: str
    rcpt_tos: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    size: int
    data: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class SinkHandle:
    """A running sink: ``host``, ``port``, ``tls``, ``ca_file`` (None without TLS),
    ``messages`` (list of SinkMessage, in arrival order), ``stop()``; also a context manager."""

    def __init__(
        self, controller: _SinkController, host: str, tls: str, ca_file: Path | None, messages: list[SinkMessage]
    ):
        self._controller = controller
        self.host = host
        self.port: int = controller.port
        self.tls = tls
        self.ca_file = ca_file
        self.messages = messages
        self._stopped = False
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self._controller.stop()

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def start_sink(
    host: str = "127.0.0.1",
    port: int = 2525,
    *,
    tls: str = "none",
    cert_dir: str | os.PathLike[str] | None = None,
    on_message: Callable[[SinkMessage], None] | None = None,
) -> SinkHandle:
    """Start the sink in a background thread and return once it accepts connections."""
    if tls not in TLS_MODES:
        raise UsageError(f"unknown TLS mode {tls!r}: expected one of {', '.join(TLS_MODES)}")
    if not is_loopback(host):
        raise UsageError(
            f"the sink listens on loopback only, not {host!r}",
            hint="use 127.0.0.1, ::1 or localhost: it accepts any password without TLS",
        )
    if not 0 <= port <= 65535:
        raise UsageError(f"port {port} out of range 0..65535")
    host = host.strip("[]")
    messages: list[SinkMessage] = []
    ca_file: Path | None = None
    server_ctx: ssl.SSLContext | None = None
    if tls != "none":
        directory = Path(cert_dir) if cert_dir else Path(tempfile.mkdtemp(prefix="smtp-iac-sink-"))
        ca_file, server_ctx = _make_certificates(directory, host)

    handler = _SinkHandler(messages, on_message)
    kwargs: dict[str, Any] = dict(
        hostname=host,
        port=port,
        server_hostname=SINK_HOSTNAME,
        authenticator=_accept_any,
        auth_require_tls=False,
        ready_timeout=10.0,
    )
    if tls == "starttls":
        kwargs["tls_context"] = server_ctx
    elif tls == "implicit":
        kwargs["ssl_context"] = server_ctx
    controller = _SinkController(handler, **kwargs)
    try:
        controller.start()
    except OSError as e:
        raise UsageError(
            f"cannot listen on {host} port {port}: {e.strerror or e}", hint="pick another --port (0 picks a free one)"
        ) from None
    return SinkHandle(controller, host, tls, ca_file, messages)


# ----- internals ------------------------------------------------------------------------


def _accept_any(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    """Any user, any password. Only the login name is kept (the password is dropped here)."""
    login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else None
    return AuthResult(success=True, auth_data=login)


class _SinkHandler:
    def __init__(self, messages: list[SinkMessage], on_message: Callable[[SinkMessage], None] | None):
        self.messages = messages
        self.on_message = on_message
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = bytes(envelope.content)
        parsed = BytesHeaderParser(policy=default_policy).parsebytes(data)
        peer = session.peer
        with self._lock:
            msg = SinkMessage(
                number=len(self.messages) + 1,
                received_at=dt.datetime.now(dt.UTC),
                peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
                tls=session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
                auth_user=session.auth_data if isinstance(session.auth_data, str) else None,
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                headers=tuple((k, str(v)) for k, v in parsed.items()),
                size=len(data),
                data=data,
            )
            self.messages.append(msg)
        if self.on_message is not None:
            try:
                self.on_message(msg)
            except Exception:
                log.exception("sink on_message callback failed")
        return "250 2.0.0 OK: accepted by the smtp-iac sink"


class FreePortController(Controller):
    """aiosmtpd's Controller, with port 0 meaning "any free port" (``.port`` is the real one
    once started). Also the base of the test suite's SMTP servers (tests/smtp_servers.py)."""

    def _create_server(self) -> Coroutine[Any, Any, asyncio.Server]:
        async def create() -> asyncio.Server:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = int(server.sockets[0].getsockname()[1])
            return server

        return create()


class _SinkController(FreePortController):
    def factory(self) -> SMTP:
        return SMTP(self.handler, **self.SMTP_kwargs)


def _make_certificates(directory: Path, host: str) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and a leaf for the loopback names; the CA goes to ``ca.pem``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-iac sink throwaway CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for ip in {"127.0.0.1", "::1", host}:
        with contextlib.suppress(ValueError):
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = directory / "sink-cert.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "sink-key.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            leaf_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ca_file, ctx
