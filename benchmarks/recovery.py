"""The settings service through its database's bad minutes: how long after PostgreSQL answers
again the service answers normally, and what callers see meanwhile.

    .venv/bin/python benchmarks/recovery.py                       # 2 instances, 32 clients
    .venv/bin/python benchmarks/recovery.py --clients 8 --instances 1 --quick   # a smoke run

A PostgreSQL cluster of its own (``initdb`` into a temporary directory, ``pg_ctl`` on a free
port; as the ``postgres`` user when run as root), ``--instances`` real ``smtp-iac serve``
processes sharing it, and ``--clients`` closed-loop HTTP clients (``httpx.AsyncClient``)
asking for an organization's effective settings, spread over the instances. Then, one after
another, with the load running:

- ``restart``: ``pg_ctl restart -m fast`` (a minor upgrade);
- ``outage``: ``pg_ctl stop``, 5 s down, ``pg_ctl start`` (a failover's gap);
- ``terminate``: ``pg_terminate_backend`` on every connection of the service;
- ``lock``: ``LOCK TABLE records`` held 5 s by another session (a migration).

For each: the answers by status, the slowest answer, and the recovery, counted from the
moment a new connection to the database succeeds (the restart's end, the lock's release): when
the first answer 200 came after it, when the last answer other than 200 came (relative to
it: negative when none came after), and how many requests begun after it were not answered
200. SPEC promises normal answers within 5 s of the database answering and no answer later
than 10 s. Nothing is asserted; figures go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

import httpx  # noqa: E402
import psycopg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from pg_cluster import Cluster, bindir  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from run import Backend  # noqa: E402
from service import instance  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.models import ResolvedSettings  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402

APP = "smtp-iac-recovery"
ORG = "partners/acme/organizations/blue"


@dataclass(frozen=True)
class Answer:
    base: str
    started: float
    ended: float
    status: int


def seed(url: str, key: str) -> str:
    """Tenants, a controller record, and a viewer token; returns the token."""
    with open_store(url, key=key) as store:
        store.load_tenants({"partners": {"acme": {"organizations": {"blue": {"smtp_enabled": True}}}}})
        settings = ResolvedSettings(
            host="mail.example.com", port=587, tls=True, username="u", password=SecretStr("Recovery-Pw-1"), sender=None
        )
        store.put(Address(), settings, expected_version=None, stack=None, actor="bench")
        token = new_token(name="bench", role=Role.VIEWER, now=datetime.now(UTC))
        store.create_token(token, actor="bench")
        return token.text


class Load:
    """``clients`` closed-loop clients in a thread of their own (an asyncio loop)."""

    def __init__(self, bases: list[str], token: str, clients: int):
        self.bases, self.token, self.clients = bases, token, clients
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _client(self, base: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = (await c.get(f"/v1/organizations/{ORG}/effective")).status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append(Answer(base, started, time.monotonic(), status))
                if status != 200:
                    await asyncio.sleep(0.05)

    async def _main(self) -> None:
        await asyncio.gather(*(self._client(self.bases[i % len(self.bases)]) for i in range(self.clients)))

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(60)
        return self.answers


def terminate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (APP,))


def hold_lock(dsn: str, seconds: float) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
        time.sleep(seconds)
        conn.rollback()


def measure(name: str, fault: Callable[[], None], load: Load, bases: list[str], cluster: Cluster, after: float) -> str:
    begin = len(load.answers)
    fault_start = time.monotonic()
    fault()
    cluster.wait_answering()
    up = time.monotonic()
    time.sleep(after)
    answers = [a for a in load.answers[begin:] if a.started >= fault_start]
    statuses = Counter(a.status for a in answers)
    slowest = max((a.ended - a.started for a in answers), default=0.0)
    first_ok = min((a.ended for a in answers if a.status == 200 and a.ended >= up), default=None)
    last_bad = max((a.ended for a in answers if a.status != 200), default=None)
    after_up = [a for a in answers if a.started >= up]
    bad_after = sum(a.status != 200 for a in after_up)
    counts = ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(statuses.items()))
    ok = f"{first_ok - up:.2f} s" if first_ok is not None else "none"
    bad = f"{last_bad - up:+.2f} s" if last_bad is not None else "none"
    return (
        f"| {name} | {time.monotonic() - fault_start - after:.1f} s | {counts} | {slowest:.2f} s | {ok} | {bad} | "
        f"{bad_after} of {len(after_up)} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--down", type=float, default=5.0, help="seconds of outage and of the held lock")
    ap.add_argument("--after", type=float, default=8.0, help="seconds of load after each fault")
    ap.add_argument("--quick", action="store_true", help="1 s outage and lock, 3 s after each")
    args = ap.parse_args()
    if args.quick:
        args.down, args.after = 1.0, 3.0
    found = bindir()
    if found is None:
        raise SystemExit("needs PostgreSQL's server binaries (initdb, pg_ctl)")
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="smtp-iac-recovery-"))
        root.chmod(0o755)
        cluster = Cluster(found, root).init()
        stack.callback(cluster.destroy)
        work = Path(tempfile.mkdtemp(prefix="smtp-iac-recovery-cwd-"))
        stack.callback(shutil.rmtree, work, True)
        key = Fernet.generate_key().decode()
        url = f"{cluster.dsn}?application_name={APP}"
        token = seed(url, key)
        backend = Backend("postgres", url, key)
        bases = [stack.enter_context(instance(backend, work)) for _ in range(args.instances)]
        load = Load(bases, token, args.clients).start()
        time.sleep(2)

        def outage() -> None:
            cluster.stop()
            time.sleep(args.down)
            cluster.start()

        rows = [
            measure("restart", cluster.restart, load, bases, cluster, args.after),
            measure("outage", outage, load, bases, cluster, args.after),
            measure("terminate", lambda: terminate(cluster.dsn), load, bases, cluster, args.after),
            measure("lock", lambda: hold_lock(url, args.down), load, bases, cluster, args.after),
        ]
        total = load.stop()
    print(f"{args.instances} instance(s) of smtp-iac serve on one PostgreSQL, {args.clients} clients, "
          f"{len(total)} requests in all")  # fmt: skip
    print()
    print(
        "| fault | fault lasted | answers (status: count) | slowest answer | first 200 after it | last other answer "
        "| not 200 among those begun after |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
