"""How long a store may wait on its database, and how it holds its connections.

Two callers, two sets of limits:

- ``ONE_CONNECTION`` (the CLI, a pipeline's run): one connection, opened for the command and
  closed after it; generous waits, because a pipeline queued behind another pipeline's apply
  should wait its turn rather than fail, but never unbounded.
- ``POOLED`` (the settings service, the Pulumi plugin: long-lived processes answering many
  callers): a pool of checked connections that replaces lost ones in the background, and
  short waits, so that no request outlives ``REQUEST_BUDGET_S`` for want of the database. A
  request that cannot be served in time is answered 503 with ``Retry-After``.

Every limit is enforced by the database or its driver, not by a timer in this process:
PostgreSQL's ``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout``
(set on each connection it makes), libpq's ``connect_timeout`` and TCP keepalives, the pool's
wait for a free connection; SQLite's busy timeout and a bounded wait for the connection's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Limits:
    connect_s: int
    """libpq's ``connect_timeout`` (whole seconds)."""
    wait_s: float
    """For a free connection: the pool's checkout, or the one connection's lock."""
    statement_s: float
    """PostgreSQL ``statement_timeout``: any one statement."""
    lock_s: float
    """PostgreSQL ``lock_timeout`` (a row, table or advisory lock); SQLite's busy timeout."""
    idle_tx_s: float
    """PostgreSQL ``idle_in_transaction_session_timeout``: a transaction its client stopped
    driving (a process frozen mid-transaction) releases its locks after this."""
    pool_size: int = 0
    """PostgreSQL connections held at most; 0: one connection, no pool."""

    @property
    def pooled(self) -> bool:
        return self.pool_size > 0

    def with_pool_size(self, size: int) -> Limits:
        return replace(self, pool_size=size)

    def settings(self) -> dict[str, str]:
        """The PostgreSQL session settings that enforce these limits."""
        return {
            "statement_timeout": f"{round(self.statement_s * 1000)}ms",
            "lock_timeout": f"{round(self.lock_s * 1000)}ms",
            "idle_in_transaction_session_timeout": f"{round(self.idle_tx_s * 1000)}ms",
        }


ONE_CONNECTION = Limits(connect_s=10, wait_s=60, statement_s=120, lock_s=60, idle_tx_s=300)

POOLED = Limits(connect_s=3, wait_s=2, statement_s=4, lock_s=2, idle_tx_s=10, pool_size=10)

REQUEST_BUDGET_S = 10
"""What SPEC promises a request of the service at most (``tests/faults`` hold the service to
it). A pooled store call waits for a connection and runs a statement (2 + 4 s; a lock wait ends
inside its statement); a read retried after its connection was lost met that loss at once, and
its second try has the same bound; a write that lost its connection at COMMIT adds a connect
(3 s) to ask the database what became of it."""

RECONNECT_S = 2.0
"""How long the pool keeps retrying one lost connection (with backoff, at most this apart)
before it gives that attempt up; the next request that finds no connection starts another. So
a database that answers again is used again within about this long, whatever the outage's
length."""

KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
"""TCP keepalives on every PostgreSQL connection: a peer that vanished (a host down, a
network cut, no reset sent) is noticed within seconds rather than the kernel's hours."""
