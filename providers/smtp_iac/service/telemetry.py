"""What the service tells its operators: one JSON log line per request, and Prometheus metrics.

- Log line (logger ``smtp_iac.service.access``): time, method, route (the template, so that
  lines group), path, status, duration, and the token's id, name and role when one was
  accepted. Never a header, a body or a query value: no token, no password. Lines are written
  in batches (``AccessLog``: within a quarter of a second), not one write per request.
- Metrics (``GET /metrics``, prometheus_client's text format): requests by route, method and
  status; checks by outcome and failure class; store call latency by operation; store faults
  (``StoreUnavailable``: a lost connection, no free connection, a lock or statement past its
  limit, a busy SQLite file) by fault and operation, each answered 503 with ``Retry-After``,
  and the readiness probe's failures (operation ``probe``); the background relay health runs
  by outcome, and each relay's health from the store (``health.HealthGauges``). The registry
  is the application's own, so two applications in one process (tests) do not mix.
- A request that fails unexpectedly is answered 500 problem+json here, and logged with the
  exception's type only (its message might hold data); no traceback reaches a client or a log.
- Every answer carries ``Cache-Control: no-store`` (unless it says otherwise) and
  ``X-Content-Type-Options: nosniff``: records, audit entries and tokens' reach are no
  business of a shared cache, and no browser should guess a type the service did not say.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import SmtpIacError, StoreUnavailable
from ..relayhealth import HealthReport
from ..verify import VerifyResult
from .problems import Problem

access_log = logging.getLogger("smtp_iac.service.access")
error_log = logging.getLogger("smtp_iac.service")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "smtp_iac_requests", "HTTP requests answered", ["route", "method", "status"], registry=self.registry
        )
        self.checks = Counter(
            "smtp_iac_checks",
            "SMTP checks and sends, by outcome and failure class",
            ["outcome", "failure"],
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "smtp_iac_store_seconds", "Store call latency", ["operation"], registry=self.registry
        )
        self.store_faults = Counter(
            "smtp_iac_store_faults",
            "Store calls ended by a passing fault (answered 503 with Retry-After), by fault and operation",
            ["fault", "operation"],
            registry=self.registry,
        )
        self.health_runs = Counter(
            "smtp_iac_health_runs",
            "Background relay health rounds of this instance: checked (it held the lease), standby (another "
            "instance holds it), store_fault (skipped: the store did not answer), error",
            ["outcome"],
            registry=self.registry,
        )

        self.health: HealthGauges | None = None

    def watch_health(self, read: Callable[[], HealthReport]) -> None:
        """Export each relay's health as ``read`` answers it (``HealthGauges``)."""
        self.health = HealthGauges(read)
        self.registry.register(self.health)

    def health_changed(self) -> None:
        """A run of this process just saved new results: the next scrape reads them."""
        if self.health is not None:
            self.health.changed()

    def fault(self, fault: str, operation: str) -> None:
        self.store_faults.labels(fault, operation).inc()

    def check_done(self, result: VerifyResult) -> None:
        outcome = "skipped" if result.skipped else ("ok" if result.ok else "failed")
        self.checks.labels(outcome, str(result.failure or "")).inc()


SNAPSHOT_SECONDS = 5.0
"""How long a read of the relays' health serves scrapes (each read resolves every organization)."""


class HealthGauges:
    """Each relay's health as the store keeps it, so every instance exports the same (whichever
    ran the checks): ``smtp_iac_relay_up`` (1: its last check passed, 0: it failed) and
    ``smtp_iac_relay_cert_expiry_seconds`` (its certificate's expiry, from now) per checked relay,
    labelled with its key, host and port; ``smtp_iac_organizations_without_mail`` (on a failing
    relay or with no settings at all). Read at most every ``ttl`` seconds however often
    ``/metrics`` is scraped; while the store does not answer, the last read is exported."""

    def __init__(
        self,
        read: Callable[[], HealthReport],
        ttl: float = SNAPSHOT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._report: HealthReport | None = None
        self._read_at: float | None = None

    def changed(self) -> None:
        with self._lock:
            self._read_at = None

    def report(self) -> HealthReport | None:
        with self._lock:  # one read at a time: scrapes that come together share it
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._read_at = now  # a store that does not answer is asked again after ttl, not at each scrape
                try:
                    self._report = self._read()
                except SmtpIacError as e:
                    fault = e.fault if isinstance(e, StoreUnavailable) else e.kind
                    error_log.warning("relay health metrics: the store did not answer (%s); the last read stays", fault)
            return self._report

    def describe(self) -> list[Metric]:
        return list(_families())

    def collect(self) -> list[Metric]:
        up, expiry, without = _families()
        report = self.report()
        if report is not None:
            now = datetime.now(UTC)
            for h in report.relays:
                if h.last is None:
                    continue
                labels = [h.relay.key, h.relay.host, str(h.relay.port)]
                up.add_metric(labels, 1.0 if h.last.ok else 0.0)
                if h.last.cert_not_after is not None:
                    expiry.add_metric(labels, (h.last.cert_not_after - now).total_seconds())
            without.add_metric([], float(report.without_mail()))
        return [up, expiry, without]


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    labels = ["relay", "host", "port"]
    return (
        GaugeMetricFamily("smtp_iac_relay_up", "1 when the relay's last health check passed, else 0", labels=labels),
        GaugeMetricFamily(
            "smtp_iac_relay_cert_expiry_seconds",
            "Seconds until the relay's TLS certificate expires, as its last check saw it",
            labels=labels,
        ),
        GaugeMetricFamily(
            "smtp_iac_organizations_without_mail",
            "Organizations on a failing relay or with no effective SMTP settings, from the last checks",
        ),
    )


UNTIMED = frozenset({"reads_together"})
"""Store methods that make a context, not a call to time."""


class TimedStore:
    """A store whose every call is timed into ``Metrics.store_seconds`` (by method name), and
    whose faults are counted into ``Metrics.store_faults``."""

    def __init__(self, store: Any, metrics: Metrics):
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value) or name.startswith("__") or name in UNTIMED:
            return value
        histogram = self._metrics.store_seconds.labels(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            except StoreUnavailable as e:
                self._metrics.fault(e.fault, name)
                raise
            finally:
                histogram.observe(time.perf_counter() - start)

        self.__dict__[name] = timed  # made once per method: the next call finds it without __getattr__
        return timed


class AccessLog:
    """The request log, written a batch of lines at a time: at most ``every`` seconds after a
    line (or once ``most`` bytes are waiting, or ``flush`` at shutdown), one log record holds
    the lines since the last, one JSON object per line, so a request pays for its own line's
    JSON alone. A batch stays under ``PIPE_BUF`` (4 KiB): written to a pipe in one ``write``, it
    never interleaves with another worker's lines (``serve --workers``)."""

    def __init__(self, logger: logging.Logger = access_log, every: float = 0.25, most: int = 3584) -> None:
        self.logger, self.every, self.most = logger, every, most
        self._lines: list[str] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, line: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        text = json.dumps(line, ensure_ascii=True)
        if self._lines and self._size + len(text) + 1 > self.most:
            self.flush()
        self._lines.append(text)
        self._size += len(text) + 1
        if self._size >= self.most:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.every, self.flush)
            except RuntimeError:  # no event loop: nothing would come back for the batch
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            lines, self._lines, self._size = self._lines, [], 0
            self.logger.info("\n".join(lines))


class RequestTelemetry:
    """ASGI middleware: logs and counts every request; turns an unexpected exception into a 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log: Callable[[dict[str, Any]], None] | None = None):
        self.app = app
        self.metrics = metrics
        self.log = log or AccessLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = int(message["status"]), True
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in _ALWAYS if h[0] not in names]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as e:  # noqa: BLE001 - the one place an unexpected error becomes a 500
            error_log.error("unexpected %s in %s %s", type(e).__name__, _method(scope), _route(scope))
            status = 500
            if not started:
                await Problem(500, "the service failed unexpectedly; the error is logged").response()(
                    scope, receive, sending
                )
        route, method = _route(scope), _method(scope)
        self.metrics.requests.labels(route, method, str(status)).inc()
        token = scope.get("state", {}).get("token")
        line: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "route": route,
            "path": scope.get("path", "")[:512],
            "status": status,
            "ms": round((time.perf_counter() - start) * 1000, 2),
        }
        if token is not None:
            line.update(token_id=token.id, token_name=token.name, role=str(token.role))
        self.log(line)


_ALWAYS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def _method(scope: Scope) -> str:
    """The request's method, or ``OTHER``: a client chooses the method name (any token up to
    the server's line limit), and each new one would be a new metrics series for good."""
    method = str(scope.get("method", ""))
    return method if method in _METHODS else "OTHER"


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "(no route)"
