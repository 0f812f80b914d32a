"""The tier map's tier filter at 200,000 organizations: each tier filter against the same page
without one, as ratios measured in the same rounds, interleaved (one of each, then again), on
SQLite and PostgreSQL:

- the store's ``org_page`` in process (best of 3 calls per round), each tier alone and with a
  partner, a search or the last page, against the same query without a tier; and the relay
  health report of a tier map view, made anew against kept (``monitor.run.last_report``);
- the API page ``GET /v1/tiermap/organizations?limit=50`` and the console's tier map ``GET /``
  (as a signed-in sysadmin: the API page, a page of partners, the controller's record and the
  relay health report ``GET /v1/health``), p50 of ``--requests`` requests per round, against
  the real ``smtp-iac serve`` in its own process.

    .venv/bin/python benchmarks/tierfilter.py                 # SQLite (and PostgreSQL if SMTP_IAC_TEST_PG_DSN is set)
    .venv/bin/python benchmarks/tierfilter.py --orgs 2000 --partners 20 --rounds 2 --no-pg   # smoke

The platform is ``platform_gen``'s (10% of organizations with their own record and SMTP on,
every partner and the controller with a record), then every fourth partner's record deleted, so
that each tier but 'none' has organizations: 'none' (no controller record) matches nothing
while the controller has one, and is measured as such. Seeding 200,000 organizations takes
minutes, so the seeded store is kept: SQLite as a file, PostgreSQL as a schema, both under
names that say the size and the schema version (``--cache``, default
``~/.cache/smtp-iac-bench``; ``--fresh`` seeds anew). The goal: a filtered page at most 3x the
unfiltered one. Nothing is asserted but each answer's status and its total.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import httpx  # noqa: E402
from console import sign_in  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from platform_gen import Platform, generate  # noqa: E402
from run import PG_ENV, Backend, log, machine, quiesce, seed  # noqa: E402
from service import instance  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.console.session import SESSION_COOKIE  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402
from smtp_iac.store.schema import LATEST  # noqa: E402
from smtp_iac.tiermap import TIERS, OrgQuery  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402

FILTERS: tuple[str | None, ...] = (None, *TIERS)
API = "/v1/tiermap/organizations?limit=50"


def prepare(store: Any, pl: Platform) -> None:
    """Seed the platform, then delete every fourth partner's record (its organizations without
    their own record in force come from the controller)."""
    t0 = time.perf_counter()
    seed(store, pl)
    for i, p in enumerate(sorted(pl.tenants["partners"])):
        if i % 4 == 3:
            live = store.get(Address(p))
            store.delete(Address(p), expected_version=live.version, stack=None, adopt=True, actor="benchmark")
    log(f"seeded {pl.organizations:,} organizations in {time.perf_counter() - t0:.0f} s")


@contextmanager
def cached_sqlite(cache: Path, pl: Platform, label: str, fresh: bool) -> Iterator[Backend]:
    path, keyfile = cache / f"{label}.db", cache / f"{label}.db.benchkey"
    if fresh or not keyfile.exists():
        cache.mkdir(parents=True, exist_ok=True)
        for f in cache.glob(f"{label}.db*"):
            f.unlink()
        key = Fernet.generate_key().decode()
        with open_store(f"sqlite:///{path}", key=key) as store:
            prepare(store, pl)
        keyfile.write_text(key)
    yield Backend("sqlite", f"sqlite:///{path}", keyfile.read_text().strip())


@contextmanager
def cached_pg(cache: Path, dsn: str, pl: Platform, label: str, fresh: bool) -> Iterator[Backend]:
    import psycopg

    schema = label.replace("-", "_")
    keyfile = cache / f"{label}.pg.benchkey"
    sep = "&" if "?" in dsn else "?"
    url = f"{dsn}{sep}options={quote(f'-csearch_path={schema}', safe='')}"
    if fresh or not keyfile.exists():
        cache.mkdir(parents=True, exist_ok=True)
        keyfile.unlink(missing_ok=True)
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        key = Fernet.generate_key().decode()
        with open_store(url, key=key) as store:
            prepare(store, pl)
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("VACUUM ANALYZE")
        keyfile.write_text(key)
    yield Backend("postgresql", url, keyfile.read_text().strip())


def median_ratio(times: dict[Any, list[float]], base: Any, key: Any) -> float:
    """The median over rounds of the round's time of ``key`` over that round's ``base``."""
    return statistics.median(t / b for t, b in zip(times[key], times[base], strict=True))


def _best3(fn: Callable[[], Any]) -> tuple[float, Any]:
    quiesce()
    best, result = float("inf"), None
    for _ in range(3):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def in_process(backend: Backend, rounds: int, pl: Platform) -> tuple[list[str], dict[str | None, int]]:
    """``org_page`` with each filter, alone and with a partner, a search and the last page, each
    against the same query without a tier; best of 3 per round, rounds interleaved."""
    partner = sorted(pl.tenants["partners"])[3]  # one whose record was deleted: every tier occurs
    queries: dict[tuple[str, str | None], OrgQuery] = {}
    for f in FILTERS:
        queries[("", f)] = OrgQuery(tier=f)
        queries[(f"partner={partner}", f)] = OrgQuery(partner=partner, tier=f)
        queries[("search=99", f)] = OrgQuery(search="99", tier=f)
    times: dict[tuple[str, str | None], list[float]] = {k: [] for k in queries}
    totals: dict[tuple[str, str | None], int] = {}
    with open_store(backend.url, key=backend.key) as store:
        last = {k: max(0, store.org_page(OrgQuery(tier=k[1], limit=1)).total - 50) for k in queries if not k[0]}
        for k in last:
            queries[("last page", k[1])] = OrgQuery(tier=k[1], offset=last[k])
            times[("last page", k[1])] = []
        for _ in range(rounds):
            for k, q in queries.items():
                secs, page = _best3(lambda q=q: store.org_page(q))
                times[k].append(secs)
                totals[k] = page.total
    rows = []
    for k in queries:
        what, f = k
        ms = 1000 * statistics.median(times[k])
        ratio = median_ratio(times, (what, None), k)
        label = f"org_page({', '.join(x for x in (what, f'tier={f}' if f else '') if x)})"
        rows.append(f"| {backend.name} | in process | {label} | {totals[k]:,} | {ms:.2f} | {ratio:.2f}x |")
        log(rows[-1])
    return rows, {f: totals[("", f)] for f in FILTERS}


def health(backend: Backend, rounds: int) -> list[str]:
    """The relay health read of each tier map view: the report made anew (what each view paid
    before it was kept) against the kept one, in process."""
    from smtp_iac.monitor import run as monitor

    times: dict[str, list[float]] = {"made": [], "kept": []}
    with open_store(backend.url, key=backend.key) as store:
        monitor.last_report(store)
        for _ in range(max(2, rounds // 2)):
            times["made"].append(_best3(lambda: monitor._report(store, monitor.EVERYTHING, monitor._utc_now))[0])
            secs, report = _best3(lambda: monitor.last_report(store))
            times["kept"].append(secs)
    rows = []
    for k, label in (("made", "last_report() made anew (every view before)"), ("kept", "last_report() kept")):
        ms = 1000 * statistics.median(times[k])
        rows.append(
            f"| {backend.name} | in process | {label} | {len(report.relays):,} relays | {ms:.2f} | "
            f"{median_ratio(times, 'made', k):.3f}x |"
        )
        log(rows[-1])
    return rows


def http(backend: Backend, tmp: Path, rounds: int, requests: int, totals: dict[str | None, int]) -> list[str]:
    """The API page and the console page with each filter: p50 of ``requests`` per round."""
    with open_store(backend.url, key=backend.key) as store:
        token = new_token(name="tierfilter-bench", role=Role.SYSADMIN, now=datetime.now(UTC))
        store.create_token(token, actor="benchmark")
    kinds: list[tuple[str, str, str | None, Callable[[str | None], str]]] = []
    for f in FILTERS:
        kinds.append(
            ("api", "GET " + API + (f"&tier={f}" if f else ""), f, lambda f: API + (f"&tier={f}" if f else ""))
        )
    for f in FILTERS:
        kinds.append(
            ("console", "console GET /" + (f"?tier={f}" if f else ""), f, lambda f: "/" + (f"?tier={f}" if f else ""))
        )
    times: dict[str, list[float]] = {label: [] for _, label, _, _ in kinds}
    with instance(backend, tmp) as base:
        session = sign_in(base, token.text)
        api = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token.text}"})
        console = httpx.Client(base_url=base, timeout=60, cookies={SESSION_COOKIE: session})
        with api, console:
            for kind, label, f, path in kinds:  # once each, checked, before the rounds
                r = (api if kind == "api" else console).get(path(f))
                total = totals[f]
                want = f'"total":{total}' if kind == "api" else f"of {total:,}"
                if r.status_code != 200 or want not in r.text:
                    raise SystemExit(f"{label} answered {r.status_code} without {want!r}: {r.text[:300]}")
            for _ in range(rounds):
                for kind, label, f, path in kinds:
                    client = api if kind == "api" else console
                    lat = []
                    for _ in range(requests):
                        t0 = time.perf_counter()
                        r = client.get(path(f))
                        lat.append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            raise SystemExit(f"{label} answered {r.status_code}")
                    times[label].append(statistics.median(lat))
    rows = []
    for kind, label, f, _ in kinds:
        base_label = next(lb for k, lb, ff, _ in kinds if k == kind and ff is None)
        ms = 1000 * statistics.median(times[label])
        ratio = median_ratio(times, base_label, label)
        rows.append(f"| {backend.name} | {kind} | {label} | {totals[f]:,} | {ms:.1f} | {ratio:.2f}x |")
        log(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", metavar="DSN", default=os.environ.get(PG_ENV) or None)
    ap.add_argument("--no-pg", action="store_true", help=f"SQLite only, even with --pg or {PG_ENV}")
    ap.add_argument("--orgs", type=int, default=200_000)
    ap.add_argument("--partners", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=9, help="requests per kind per round (their p50)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "smtp-iac-bench")
    ap.add_argument("--fresh", action="store_true", help="seed the stores anew")
    ap.add_argument("--seed-only", action="store_true", help="seed (or find) the stores, measure nothing")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    pl = generate(partners=args.partners, orgs=args.orgs)
    label = f"tierfilter-{args.orgs}-{args.partners}-v{LATEST}"
    tmp = Path(tempfile.mkdtemp(prefix="smtp-iac-tierfilter-"))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    rows: list[str] = []
    try:
        backends = [lambda: cached_sqlite(args.cache, pl, label, args.fresh)]
        if args.pg and not args.no_pg:
            backends.append(lambda: cached_pg(args.cache, args.pg, pl, label, args.fresh))
        for make in backends:
            with make() as backend:
                if args.seed_only:
                    continue
                sql_rows, totals = in_process(backend, args.rounds, pl)
                rows += sql_rows
                rows += health(backend, args.rounds)
                rows += http(backend, tmp, args.rounds, args.requests, totals)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"machine: {machine()}; load average before: {' '.join(load)}")
    print(
        f"{pl.organizations:,} organizations, {pl.partners} partners, {len(pl.live):,} records seeded "
        f"(every fourth partner's then deleted); {args.rounds} rounds interleaved; "
        f"x: the median over rounds of (filtered / unfiltered in the same round)"
    )
    print("| store | where | request | matched | ms (median) | x unfiltered |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(r)
    print(f"ran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
