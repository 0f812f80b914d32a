"""How the service is served: uvicorn (h11, the asyncio loop) with the limits SPEC "Service"
promises hostile callers (bullet "Connections").

- A request head (request line and headers) not complete within ``header_timeout`` (10 s) of
  the connection opening, or of the previous response on a keep-alive connection, gets the
  connection closed: uvicorn itself only times out idle keep-alive connections
  (``timeout_keep_alive``, 5 s, kept), so a client that dribbles one header line every few
  seconds would otherwise hold its file descriptor for ever.
- A request body still coming in before its answer must keep coming: it has ``header_timeout``
  from the end of the head, plus one second per ``BODY_RATE`` bytes received (a 64 KiB body
  may take 14 s, the sysadmin's 16 MiB tenants upload 17 minutes), so a client that dribbles
  a body a byte at a time cannot hold a connection (and a place under the cap) for ever.
- At most ``max_connections`` connections are open; one more is closed at once, before it is
  read (one warning line a minute at most while that goes on). The default comes from the file
  descriptor limit (``FdBudget``), so the process keeps descriptors for its store, its SMTP
  checks and the accept loop, and ``/healthz`` answers again as soon as connections go.
- asyncio's accept loop, when it runs out of descriptors anyway, logs a full traceback per
  failed ``accept()`` (thousands a second): ``AcceptErrorFilter`` turns that into one line a
  minute.

``server_config`` is the one place this is decided; ``smtp-iac serve`` and the tests'
in-process ``ServerThread`` both use it, so every test runs the production setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 10.0  # SPEC: request headers not complete within 10 s are closed
DEFAULT_KEEP_ALIVE = 5  # uvicorn's own default, said here so that it stays
RESERVE = 256  # descriptors besides connections; see FdBudget
MOST_CONNECTIONS = 50_000  # the default cap's ceiling, for memory; see FdBudget
LOG_EVERY = 60.0  # seconds between two lines about refused connections or failed accepts
BODY_RATE = 16 * 1024  # bytes a second a request body earns beyond the header timeout

log = logging.getLogger("smtp_iac.service.server")


@dataclass(frozen=True)
class FdBudget:
    """How the file-descriptor limit is shared out: ``max_connections + backlog + reserve <=
    limit``, so that connections at the cap plus a full accept burst never exhaust it.

    - ``backlog`` is the listen queue and also how many sockets asyncio accepts in one go
      (``_accept_connection`` loops ``backlog`` times): every one holds a descriptor before the
      protocol can refuse it. limit / 32, between 16 and 1024.
    - ``reserve`` is what the process needs besides connections: the store's database
      connection (and SQLite's WAL files), up to 16 SMTP checks in flight and their DNS
      lookups, stdio and log files, the loop's selector and self-pipe, the listening socket,
      templates and CA files being read (256, or a quarter of a small limit); plus two more
      accept bursts, since the sockets of one burst are refused (and closed) two or three loop
      iterations after they were accepted, while the listen queue may refill.

    With the limit at 20,000: backlog 625, reserve 256 + 2 x 625 = 1,506, cap 17,869.

    The cap is at most 50,000 whatever the limit (containers often have 1,048,576): a slow
    connection costs the service about 4.5 KB (measured by ``benchmarks/slowloris.py``: 148 MB
    resident at 17,100 slow connections, 73 MB at 500), plus up to 16 KiB of request head
    being dribbled in (h11's limit), so 50,000 is at most about 1 GB; no settings service needs
    more at once.
    """

    limit: int
    backlog: int
    reserve: int

    @property
    def max_connections(self) -> int:
        return min(MOST_CONNECTIONS, max(1, self.limit - self.backlog - self.reserve))

    @classmethod
    def for_limit(cls, limit: int) -> FdBudget:
        backlog = min(1024, max(16, limit // 32))
        return cls(limit=limit, backlog=backlog, reserve=min(RESERVE, limit // 4) + 2 * backlog)


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard one (a refusal is ignored) and return the
    soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Throttle:
    """At most one ``ready()`` a ``seconds``; counts what it held back in between."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = -seconds
        self.held = 0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            self.held += 1
            return False
        self.last = now
        return True

    def take_held(self) -> int:
        held, self.held = self.held, 0
        return held


class AcceptErrorFilter(logging.Filter):
    """On the "asyncio" logger: asyncio's "socket.accept() out of system resource" (logged with
    a traceback for every failed accept, then accepting pauses for 1 s) becomes one line without
    a traceback, at most once a minute. Everything else passes unchanged."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, every: float = LOG_EVERY) -> None:
        super().__init__()
        self.throttle = Throttle(every)

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.MESSAGE):
            return True
        if not self.throttle.ready():
            return False
        error = record.exc_info[1] if record.exc_info else None
        held = self.throttle.take_held()
        record.msg = "%s (%s): not accepting for 1 s%s"
        record.args = (self.MESSAGE, error, f"; {held} more since the last such line" if held else "")
        record.exc_info = None
        record.exc_text = None
        return True


def quiet_accept_errors() -> None:
    """Install ``AcceptErrorFilter`` on the "asyncio" logger, once per process."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptErrorFilter) for f in logger.filters):
        logger.addFilter(AcceptErrorFilter())


class ServerConfig(uvicorn.Config):
    """uvicorn's Config with the two limits ``GuardedH11Protocol`` reads, and the throttle of
    the refusal warning that its connections share."""

    def __init__(self, app: Any, *, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.refusals = Throttle(LOG_EVERY)


class SlowClientGuard:
    """The header deadline and the connection cap, for any of uvicorn's HTTP protocols.

    A concrete protocol calls ``_guard_admit`` first in ``connection_made`` (and stops if it
    answers False), ``_guard_waiting`` after each ``data_received`` and ``on_response_complete``
    with whether it now waits for a request head, and ``_guard_cancel`` in ``connection_lost``.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int | None = None
    _guard_config: ServerConfig | None = None
    _guard_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _body_since = 0.0
    _body_bytes = 0

    def _guard_setup(self, config: uvicorn.Config) -> None:
        if isinstance(config, ServerConfig):
            self._guard_config = config
            self.header_timeout = config.header_timeout
            self.max_connections = config.max_connections

    def _guard_admit(self, transport: asyncio.Transport, open_connections: int) -> bool:
        """False (and the connection aborted, nothing read, nothing written) at the cap."""
        if self.max_connections is None or open_connections < self.max_connections:
            return True
        transport.abort()  # frees the descriptor now, whatever the peer does
        throttle = self._guard_config.refusals if self._guard_config else None
        if throttle is not None and throttle.ready():
            held = throttle.take_held()
            log.warning(
                "refusing connections: %d open, the cap (--max-connections)%s",
                open_connections,
                f"; {held} more refused since the last such line" if held else "",
            )
        return False

    def _guard_waiting(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, waiting: bool) -> None:
        """Arm the deadline when the connection starts waiting for a request head (an armed one
        keeps running while the head dribbles in); cancel it once there is none to wait for."""
        if waiting and not transport.is_closing():
            if self._guard_timer is None:
                self._guard_timer = loop.call_later(self.header_timeout, self._guard_expired, transport)
        else:
            self._head_cancel()

    def _guard_body(
        self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, receiving: bool, received: int
    ) -> None:
        """While a request body comes in before its answer (``receiving``): a deadline of the
        header timeout from the end of the head, moved on by a second per ``BODY_RATE`` bytes."""
        if not receiving or transport.is_closing():
            self._body_cancel()
            return
        if self._body_timer is None:
            self._body_since, self._body_bytes = loop.time(), 0
        else:
            self._body_bytes += received
            self._body_timer.cancel()
        deadline = self._body_since + self.header_timeout + self._body_bytes / BODY_RATE
        self._body_timer = loop.call_at(deadline, self._body_expired, transport)

    def _body_cancel(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_expired(self, transport: asyncio.Transport) -> None:
        self._body_timer = None
        log.debug("closing a connection whose request body came in too slowly")
        transport.abort()

    def _head_cancel(self) -> None:
        if self._guard_timer is not None:
            self._guard_timer.cancel()
            self._guard_timer = None

    def _guard_cancel(self) -> None:
        self._head_cancel()
        self._body_cancel()

    def _guard_expired(self, transport: asyncio.Transport) -> None:
        self._guard_timer = None
        log.debug("closing a connection whose request head took over %.1f s", self.header_timeout)
        transport.abort()  # not close(): a client that does not read would keep it open


class GuardedH11Protocol(SlowClientGuard, H11Protocol):
    """uvicorn's h11 protocol with ``SlowClientGuard``. The connection waits for a request head
    while h11 says the client is IDLE (no complete ``h11.Request`` yet in this cycle), and also
    once the response is sent while the client still sends the body nobody reads any more (a 413
    for a declared Content-Length, a 401 before the tenants body): uvicorn discards that body,
    and the next head can only follow it, so the same deadline covers both."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._guard_setup(config)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self._guard_admit(transport, len(self.connections)):
            self.transport = transport  # for connection_lost, which follows
            return
        super().connection_made(transport)
        self._guard_waiting(self.loop, transport, True)

    def _between_requests(self) -> bool:
        return self.conn.their_state is h11.IDLE or self.conn.our_state is h11.DONE

    def _body_coming(self) -> bool:
        """The head is in, its body is not, and no answer went out yet."""
        return self.conn.their_state is h11.SEND_BODY and self.conn.our_state is not h11.DONE

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._guard_waiting(self.loop, self.transport, self._between_requests())
        self._guard_body(self.loop, self.transport, self._body_coming(), len(data))

    def on_response_complete(self) -> None:
        # uvicorn starts the next cycle here (and parses pipelined data): the state after it says.
        super().on_response_complete()
        self._guard_waiting(self.loop, self.transport, self._between_requests())
        self._guard_body(self.loop, self.transport, self._body_coming(), 0)

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_cancel()
        super().connection_lost(exc)


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    keep_alive: int = DEFAULT_KEEP_ALIVE,
    max_connections: int | None = None,
    workers: int = 1,
) -> ServerConfig:
    """The service's uvicorn configuration. Raises the soft descriptor limit to the hard one,
    installs ``AcceptErrorFilter``, and sizes ``max_connections`` (default) and the listen
    backlog from the limit (``FdBudget``). With ``workers`` > 1, ``app`` is the import string
    of a factory that each worker process calls (``service.workers.app``); the connection cap
    is each worker's."""
    budget = FdBudget.for_limit(raise_fd_limit())
    quiet_accept_errors()
    return ServerConfig(
        app,
        header_timeout=header_timeout,
        max_connections=budget.max_connections if max_connections is None else max_connections,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        http=GuardedH11Protocol,
        loop="asyncio",  # AcceptErrorFilter knows asyncio's accept loop (uvloop logs its own way)
        lifespan="on",
        timeout_keep_alive=keep_alive,
        backlog=budget.backlog,
        log_level="warning",
        access_log=False,  # the service logs one JSON line per request itself
        server_header=False,
        workers=workers,
        factory=workers > 1,
    )


def log_to_stderr() -> None:
    """The service's own log lines (one JSON line per request, warnings) on stderr, as they are
    written; in each worker process too."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the console's in-process API calls have their own lines
    quiet_accept_errors()


def run(config: uvicorn.Config) -> None:
    """Serve until stopped (SIGINT, SIGTERM), as ``uvicorn.run`` does: exit 3 if it never
    started. With ``config.workers`` > 1, uvicorn's supervisor keeps that many worker
    processes on one listening socket, restarting one that dies."""
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
