"""Real SMTP servers on free loopback ports, for tests (verify, plan/apply, Pulumi).

Everything here is a real server: aiosmtpd for the SMTP ones (STARTTLS, implicit TLS, plain;
with or without STARTTLS/AUTH; rejecting chosen senders/recipients; counting sessions), and
raw sockets for the broken ones (silent, garbage greeting, closed port, a listener that never
accepts). Certificates come from a trustme CA.

    from smtp_servers import SmtpServer, make_ca, smtp_server
    ca = make_ca()
    with smtp_server(tls="starttls", ca=ca, users={"user": "pw"}) as srv:
        ...  # srv.host, srv.port, srv.messages, srv.stats.sessions

Import it with ``tests/`` on sys.path (tests/verify/conftest.py does that).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from smtp_iac.verify.sink import FreePortController

LOOPBACK = "127.0.0.1"
TEST_USER = "relay-user"
TEST_PASSWORD = "Pw-7f3K!unique-verify-secret"
"""What test servers accept by default; tests search every output for this string."""
TEST_SENDER = "no-reply@example.com"
TEST_TO = "ops@example.com"

# aiosmtpd warns on every successful AUTH that a deprecated attribute was set (by itself).
logging.getLogger("mail.log").addFilter(lambda record: "login_data" not in record.getMessage())


# ----- certificates ---------------------------------------------------------------------


def make_ca() -> trustme.CA:
    return trustme.CA()


def server_tls_context(ca: trustme.CA, hostnames: Sequence[str] = (LOOPBACK, "localhost")) -> ssl.SSLContext:
    """A server-side context with a leaf certificate for ``hostnames`` signed by ``ca``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hostnames).configure_cert(ctx)
    return ctx


def write_ca_file(ca: trustme.CA, directory: Path, name: str = "ca.pem") -> Path:
    path = Path(directory) / name
    ca.cert_pem.write_to_path(str(path))
    return path


# Session fixtures "ca" and "ca_file" for a test dir's conftest.py:
# ``from smtp_servers import ca_fixture, ca_file_fixture


@pytest.fixture(scope="session", name="ca")
def ca_fixture() -> trustme.CA:
    """One CA for the session; the test servers' certificates are signed by it."""
    return make_ca()


@pytest.fixture(scope="session", name="ca_file")
def ca_file_fixture(ca: trustme.CA, tmp_path_factory) -> Path:
    """The CA as a PEM file (for verify.ca_file / VerifyOptions.ca_file)."""
    return write_ca_file(ca, tmp_path_factory.mktemp("ca"))


# ----- aiosmtpd servers -----------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    auth_login: str | None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SessionStats:
    """SMTP sessions as the server saw them: a session is a connection that sent EHLO/HELO
    (aiosmtpd's own readiness probe connects without one and is not counted)."""

    sessions: int = 0
    active: int = 0
    max_active: int = 0
    auth_attempts: int = 0
    _open: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, proto: object) -> bool:
        with self._lock:
            if id(proto) in self._open:
                return False
            self._open.add(id(proto))
            self.sessions += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            return True

    def closed(self, proto: object) -> None:
        with self._lock:
            if id(proto) in self._open:
                self._open.discard(id(proto))
                self.active -= 1


class _CountingSMTP(SMTP):
    def __init__(self, handler, *, stats: SessionStats, **kwargs):
        super().__init__(handler, **kwargs)
        self._stats = stats

    def connection_lost(self, error):
        self._stats.closed(self)
        super().connection_lost(error)


class _Controller(FreePortController):
    """aiosmtpd's Controller on port 0 (the kernel picks a free port) with session counting."""

    def __init__(self, handler, *, stats: SessionStats, **kwargs):
        super().__init__(handler, **kwargs)
        self._stats = stats

    def factory(self):
        return _CountingSMTP(self.handler, stats=self._stats, **self.SMTP_kwargs)


class _Handler:
    def __init__(self, srv: SmtpServer):
        self.srv = srv

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.srv.stats.opened(server):
            await self.srv._gate()
        out = []
        for line in responses:
            word = line[4:].split(" ")[0].upper()
            if word == "STARTTLS" and not self.srv.offer_starttls:
                continue
            if word == "AUTH" and not self.srv.offer_auth:
                continue
            out.append(line)
        return out

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.lower() in self.srv.reject_senders:
            return "550 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.srv.reject_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        login = getattr(session.auth_data, "login", None)
        self.srv.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.content),
                auth_login=login.decode() if login else None,
            )
        )
        return "250 2.0.0 OK: queued"


class SmtpServer:
    """A real aiosmtpd server on a free loopback port. Use ``smtp_server(...)`` or start()/stop()."""

    def __init__(
        self,
        *,
        tls: str = "starttls",
        ca: trustme.CA | None = None,
        users: dict[str, str] | None = None,
        offer_starttls: bool = True,
        offer_auth: bool = True,
        reject_senders: Sequence[str] = (),
        reject_recipients: Sequence[str] = (),
        auth_failure_reply: Callable[[str, str], str] | None = None,
        gather: int = 0,
        gather_timeout: float = 5.0,
        hold_seconds: float = 0.0,
        cert_hostnames: Sequence[str] = (LOOPBACK, "localhost"),
        exclude_auth: Sequence[str] = (),
        host: str = LOOPBACK,
    ):
        if tls not in ("starttls", "implicit", "none"):
            raise ValueError(tls)
        if tls != "none" and ca is None:
            ca = make_ca()
        self.tls = tls
        self.ca = ca
        self.host = host
        self.port = 0
        self.users = dict(users) if users is not None else {TEST_USER: TEST_PASSWORD}
        self.offer_starttls = offer_starttls
        self.offer_auth = offer_auth
        self.reject_senders = {a.lower() for a in reject_senders}
        self.reject_recipients = {a.lower() for a in reject_recipients}
        self.auth_failure_reply = auth_failure_reply
        self.gather = gather
        self.gather_timeout = gather_timeout
        self.hold_seconds = hold_seconds
        self.messages: list[Received] = []
        self.stats = SessionStats()
        self._gathered: asyncio.Event | None = None
        tls_ctx = server_tls_context(ca, cert_hostnames) if tls != "none" else None
        kwargs = dict(
            hostname=host,
            port=0,
            server_hostname="smtp.test",
            authenticator=self._authenticate,
            # Implicit TLS is TLS from the first byte (aiosmtpd only counts STARTTLS as TLS);
            # plain mode allows AUTH in clear on loopback, for the plain-mode tests.
            auth_require_tls=(tls == "starttls"),
            ready_timeout=10.0,
            auth_exclude_mechanism=list(exclude_auth),
        )
        if tls == "starttls":
            kwargs["tls_context"] = tls_ctx
        elif tls == "implicit":
            kwargs["ssl_context"] = tls_ctx
        self._controller = _Controller(_Handler(self), stats=self.stats, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        self.stats.auth_attempts += 1
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if login in self.users and self.users[login] == password:
            return AuthResult(success=True, auth_data=auth_data)
        if self.auth_failure_reply is not None:
            return AuthResult(success=False, handled=False, message=self.auth_failure_reply(login, password))
        return AuthResult(success=False, handled=False)

    async def _gate(self) -> None:
        """Hold each new session until ``gather`` sessions are open at once (or the timeout),
        then for ``hold_seconds``: makes concurrency visible without racing the clock."""
        if self.gather:
            if self._gathered is None:
                self._gathered = asyncio.Event()
            if self.stats.active >= self.gather:
                self._gathered.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._gathered.wait(), self.gather_timeout)
        if self.hold_seconds:
            await asyncio.sleep(self.hold_seconds)

    def start(self) -> SmtpServer:
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        self._controller.stop()

    def ca_file(self, directory: Path) -> Path:
        return write_ca_file(self.ca, directory)


@contextlib.contextmanager
def smtp_server(**kwargs) -> Iterator[SmtpServer]:
    srv = SmtpServer(**kwargs).start()
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def smtp_server_with_cert(cert: trustme.LeafCert, **kwargs) -> Iterator[SmtpServer]:
    """``smtp_server`` (TLS: starttls or implicit) presenting ``cert``, e.g. one that expires soon:
    ``ca.issue_cert(LOOPBACK, "localhost", not_after=...)``."""
    srv = SmtpServer(**kwargs)
    if srv.tls == "none":
        raise ValueError("a certificate needs TLS")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    if srv.tls == "implicit":
        srv._controller.ssl_context = ctx
    else:
        srv._controller.SMTP_kwargs["tls_context"] = ctx
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# ----- broken servers (raw sockets) -----------------------------------------------------


class RawServer:
    """Accepts connections and does ``behaviour(conn)`` in a thread; keeps them open until stop."""

    def __init__(self, payload: bytes | None = None, host: str = LOOPBACK, drip_interval: float = 0.0):
        self.payload = payload
        self.drip_interval = drip_interval
        self.connections = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()[:2]
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._conns.append(conn)
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        """What the server does with a new connection (subclasses script a conversation)."""
        if self.payload is not None and self.drip_interval:
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()
        elif self.payload is not None:
            with contextlib.suppress(OSError):
                conn.sendall(self.payload)

    def _drip(self, conn: socket.socket) -> None:
        for i in range(len(self.payload)):
            if self._stop.wait(self.drip_interval):
                return
            try:
                conn.sendall(self.payload[i : i + 1])
            except OSError:
                return

    def start(self) -> RawServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._listener.close()


@contextlib.contextmanager
def silent_server() -> Iterator[RawServer]:
    """Accepts and never says a word (a server that never greets)."""
    srv = RawServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def garbage_server(payload: bytes = b"HTTP/1.1 400 Bad Request\r\n\r\n") -> Iterator[RawServer]:
    """Accepts and answers with something that is not SMTP."""
    srv = RawServer(payload).start()
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def drip_server(payload: bytes = b"220 " + b"x" * 200 + b"\r\n", interval: float = 0.2) -> Iterator[RawServer]:
    """Sends its greeting one byte per ``interval``: every read succeeds, the stage never ends
    (only a whole-stage deadline stops a client)."""
    srv = RawServer(payload, drip_interval=interval).start()
    try:
        yield srv
    finally:
        srv.stop()


_HELD: list[socket.socket] = []
"""The sockets behind ``closed_port``, bound for the life of the process."""


def closed_port(host: str = LOOPBACK) -> int:
    """A port with nothing listening, where a connection is refused: a socket bound to it and
    never listening, kept for the life of the process, so that no other test (nor another
    process of a parallel run, which a released port could go to) takes it."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    _HELD.append(s)
    return int(s.getsockname()[1])


@contextlib.contextmanager
def unaccepting_listener(host: str = LOOPBACK) -> Iterator[int]:
    """A listening socket that never accepts and whose accept queue is full, so that Linux drops
    any further SYN: a real connect timeout, on loopback. Yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.3)
            try:
                s.connect((host, port))
            except (TimeoutError, BlockingIOError):
                s.close()
                break
            fillers.append(s)
        else:
            raise RuntimeError("the accept queue never filled; cannot make a connect timeout")
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` (a server updates its counters in its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
