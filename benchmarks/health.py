"""Relay health over a large platform: ``smtp-iac health`` (the same ``check_health`` the
command and the service run) over N organizations (default 200,000) whose effective settings
come from records on 5 relays, on SQLite (and PostgreSQL with ``--pg DSN`` or
``SMTP_IAC_TEST_PG_DSN``).

    .venv/bin/python benchmarks/health.py [--orgs 200000] [--partners 40] [--pg DSN]

The relays are real aiosmtpd servers on loopback (STARTTLS, a trustme certificate), each made
to take ``--check-ms`` (default 300) before it answers EHLO, so that the checks have a cost of
their own; the controller, some partners and some organizations have records (several with
the same settings, so records outnumber relays). Reported: the run's wall time, the slowest
check's own time, what the run spent beyond it (reading the snapshot, grouping 200,000
organizations, decrypting 5 passwords, saving the results: the bookkeeping; the goal is
under 1 s), the SMTP sessions each relay saw (one per relay), and the same for a second run
(history advanced). Nothing is asserted; figures go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

from cryptography.fernet import Fernet  # noqa: E402
from pulumi_host import backends  # noqa: E402
from smtp_servers import make_ca, smtp_server, write_ca_file  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.models import ResolvedSettings  # noqa: E402
from smtp_iac.monitor.run import check_health  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402

RELAYS = 5
USER, PASSWORD = "mailer", "bench-health-secret-5a1f"


def seed(url: str, key: str, orgs: int, partners: int, ports: list[int]) -> tuple[float, int]:
    """Tenants and records; (seconds, records written)."""
    per = orgs // partners
    names = [f"p{p:03d}" for p in range(partners)]
    doc = {
        "partners": {
            p: {"organizations": {f"o{i:06d}": {"smtp_enabled": i % 7 == 0} for i in range(per)}} for p in names
        }
    }
    t0 = time.perf_counter()
    written = 0
    with open_store(url, key=key) as s:
        s.load_tenants(doc, actor="bench")

        def put(address: Address, relay: int) -> None:
            nonlocal written
            settings = ResolvedSettings(host="127.0.0.1", port=ports[relay], tls=True, username=USER, password=PASSWORD)
            s.put(address, settings, expected_version=None, stack=None, actor="bench")
            written += 1

        put(Address(""), 0)  # the controller: relay 0
        for n, p in enumerate(names):
            if n % 2 == 0:
                put(Address(p), 1 + (n // 2) % (RELAYS - 1))  # half the partners: relays 1-4
            for i in range(0, per, 49 * 50):  # a few enabled organizations with their own records
                put(Address(p, f"o{i:06d}"), (i // 49) % RELAYS)
    return time.perf_counter() - t0, written


def run(name: str, url: str, orgs: int, partners: int, check_ms: int, ca, ca_file: Path) -> None:
    key = Fernet.generate_key().decode()
    hold = check_ms / 1000
    with (
        smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}, hold_seconds=hold) as r0,
        smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}, hold_seconds=hold) as r1,
        smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}, hold_seconds=hold) as r2,
        smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}, hold_seconds=hold) as r3,
        smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}, hold_seconds=hold) as r4,
    ):
        relays = [r0, r1, r2, r3, r4]
        seeded, records = seed(url, key, orgs, partners, [r.port for r in relays])
        print(f"[{name}] seeded {orgs:,} organizations, {records} records on {RELAYS} relays in {seeded:.1f} s")
        with open_store(url, key=key) as store:
            for round_ in (1, 2):
                before = [r.stats.sessions for r in relays]
                t0 = time.perf_counter()
                report = check_health(store, timeout_seconds=15, ca_file=str(ca_file), concurrency=8)
                wall = time.perf_counter() - t0
                slowest = max(h.last.latency_ms for h in report.relays if h.last) / 1000
                sessions = [r.stats.sessions - b for r, b in zip(relays, before, strict=True)]
                print(
                    f"[{name}] run {round_}: {len(report.relays)} checks for {report.organizations:,} organizations "
                    f"in {wall:.2f} s; slowest check {slowest:.2f} s; beyond it {wall - slowest:.2f} s; "
                    f"sessions per relay {sessions}; without mail {report.without_mail()}; "
                    f"exit {report.exit_status()}"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orgs", type=int, default=200_000)
    ap.add_argument("--partners", type=int, default=40)
    ap.add_argument("--check-ms", type=int, default=300, help="each relay's delay before it answers EHLO")
    ap.add_argument("--pg", default=os.environ.get("SMTP_IAC_TEST_PG_DSN") or None)
    args = ap.parse_args()
    ca = make_ca()
    with tempfile.TemporaryDirectory(prefix="smtp-iac-health-bench-") as d:
        tmp = Path(d)
        ca_file = write_ca_file(ca, tmp)
        with backends(tmp, args.pg) as urls:
            for name, url in urls:
                run(name, url, args.orgs, args.partners, args.check_ms, ca, ca_file)


if __name__ == "__main__":
    main()
