"""The web console under load: requests per second and p50/p99 latency of the tier map page
(``GET /``: first page, a tier filter, a search, the last page), a scope page and an
organization page, each against the floor of one HTTP round trip (``/healthz``) and the API
page the tier map is made from (``GET /v1/tiermap/organizations?limit=50``), on SQLite and
PostgreSQL at 20,000 organizations; and the store's own tier map queries (``org_page``,
``partner_page``, ``blast_radius``) called in process, so the SQL cost shows apart from HTTP.

    .venv/bin/python benchmarks/console.py      # SQLite (and PostgreSQL if SMTP_IAC_TEST_PG_DSN is set)
    .venv/bin/python benchmarks/console.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/console.py --orgs 300 --partners 4 --seconds 0.5 --repeat 1 --no-pg   # smoke

The service is the real ``smtp-iac serve`` in its own process (uvicorn, one worker), started
against a freshly seeded store (``platform_gen``: 200 partners, every one with a record, 10% of
organizations with their own); the clients are ``httpx.AsyncClient``s in this process, each
sending its next request when the last one is answered (closed loop), for ``--seconds``. The
console pages are asked for as a signed-in sysadmin (one session, signed in through the
sign-in form as a browser does), so a tier map page is three API calls made in process by
the console (controller record, a page of partners, a page of organizations) plus the
template; a partner's scope page is two (record, blast radius), an organization page two
(effective settings, audit trail). "cost vs (b)" is the API page's req/s over the row's: how
many API pages one of its answers costs. Client and service share this machine's cores, so
the figures are what one machine serves to itself, not a capacity claim. Nothing is asserted
but that every answer had status 200 (and, once before each run, the content it should have).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import httpx  # noqa: E402
from platform_gen import Platform, generate  # noqa: E402
from run import PG_ENV, Backend, best_of, log, machine, pg_backend, seed, sqlite_backend  # noqa: E402
from service import instance, rates  # noqa: E402

from smtp_iac.addresses import CONTROLLER, Address  # noqa: E402
from smtp_iac.console.session import SESSION_COOKIE  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402
from smtp_iac.tiermap import OrgQuery  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402

PAGE = 50
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HEADER = "| store | | request | requests | req/s | p50 ms | p99 ms | cost vs (b) | bytes |"
SQL_HEADER = "| store | in process (best of N) | result | ms |"


@dataclass(frozen=True)
class Target:
    """What the shape of the platform gives the requests to ask for."""

    orgs: list[str]  # organization addresses, partners/P/organizations/O
    partners: list[str]  # partner addresses, partners/P
    total: int  # organizations
    q: str  # a search that matches a few organizations
    q_matches: int
    last_offset: int


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    auth: str  # "none", "bearer" or "session"
    path: Callable[[random.Random], str]
    expect: str  # a text the answer must contain (checked once, before the run)


def targets(pl: Platform) -> Target:
    orgs = [f"partners/{p}/organizations/{o}" for p, e in pl.tenants["partners"].items() for o in e["organizations"]]
    ids = [a.rsplit("/", 1)[1] for a in orgs]
    q = ids[len(ids) // 2][:-1]  # o10000 -> o1000: ten organizations at 20,000
    return Target(
        orgs=orgs,
        partners=[f"partners/{p}" for p in pl.tenants["partners"]],
        total=len(orgs),
        q=q,
        q_matches=sum(q in i for i in ids),
        last_offset=max(0, len(orgs) - PAGE),
    )


def kinds(t: Target, tier_counts: dict[str, int]) -> list[Kind]:
    def caption(first: int, last: int, total: int, filtered: bool) -> str:
        return f"Organizations {min(first, total)}–{last} of {total:,}" + (" matching the filter" if filtered else "")

    def fixed(path: str) -> Callable[[random.Random], str]:
        return lambda _rng: path

    def page(key: str, query: str, note: str, first: int, matched: int, filtered: bool) -> Kind:
        label = f"console GET /{'?' + query if query else ''}{' (' + note + ')' if note else ''}"
        last = min(first + PAGE - 1, matched)
        return Kind(
            key, label, "session", fixed("/" + ("?" + query if query else "")), caption(first, last, matched, filtered)
        )

    api = f"/v1/tiermap/organizations?limit={PAGE}"
    c_n, p_n, n = tier_counts["controller"], tier_counts["partner"], t.total
    return [
        Kind("a", "GET /healthz", "none", fixed("/healthz"), '"ok"'),
        Kind("b", f"GET {api}", "bearer", fixed(api), f'"total":{n}'),
        page("c", "", "first page", 1, n, False),
        page("d", "tier=controller", f"{c_n:,} match", 1, c_n, True),
        page("d2", "tier=partner", f"{p_n:,} match", 1, p_n, True),
        page("e", f"q={t.q}", f"{t.q_matches} match", 1, t.q_matches, True),
        page("f", f"offset={t.last_offset}", "last page", t.last_offset + 1, n, False),
        Kind(
            "g",
            "console GET /scopes/partners/P (random P)",
            "session",
            lambda rng: "/scopes/" + rng.choice(t.partners),
            "SMTP Configuration",
        ),
        Kind(
            "h",
            "console GET /organizations/partners/P/organizations/O (random O)",
            "session",
            lambda rng: "/organizations/" + rng.choice(t.orgs),
            "<h1>Organization o",
        ),
    ]


def sign_in(base: str, token: str) -> str:
    """The session cookie a browser gets from the sign-in form."""
    with httpx.Client(base_url=base, timeout=30) as c:
        page = c.get("/signin")
        m = CSRF.search(page.text)
        if page.status_code != 200 or m is None:
            raise SystemExit(f"GET /signin answered {page.status_code} without a form: {page.text[:200]}")
        r = c.post("/signin", data={"csrf": m.group(1), "token": token, "next": ""})
        if r.status_code != 303 or SESSION_COOKIE not in r.cookies:
            raise SystemExit(f"POST /signin answered {r.status_code}: {r.text[:200]}")
        return r.cookies[SESSION_COOKIE]


def client_args(kind: Kind, token: str, session: str) -> dict:
    if kind.auth == "bearer":
        return {"headers": {"Authorization": f"Bearer {token}"}}
    if kind.auth == "session":
        return {"cookies": {SESSION_COOKIE: session}}
    return {}


def check_once(base: str, kind: Kind, token: str, session: str) -> int:
    """One request of the kind, its content checked; the byte size of its answer."""
    with httpx.Client(base_url=base, timeout=60, **client_args(kind, token, session)) as c:
        r = c.get(kind.path(random.Random(0)))
    if r.status_code != 200:
        raise SystemExit(f"({kind.key}) {kind.label} answered {r.status_code}: {r.text[:300]}")
    if kind.expect not in r.text:
        raise SystemExit(f"({kind.key}) {kind.label}: {kind.expect!r} not in the answer: {r.text[:300]}")
    return len(r.content)


async def _client(base: str, kind: Kind, args: dict, seed: int, until: float, out: list[float]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60, **args) as c:
        while not out or time.perf_counter() < until:  # at least one request, however slow the machine
            path = kind.path(rng)
            t0 = time.perf_counter()
            r = await c.get(path)
            out.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"({kind.key}) GET {path} answered {r.status_code}: {r.text[:300]}")


def load(base: str, kind: Kind, token: str, session: str, clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients for ``seconds``: rate and latencies."""
    lat: list[float] = []
    args = client_args(kind, token, session)

    async def main() -> float:
        until = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(base, kind, args, i, until, lat) for i in range(clients)))
        return time.perf_counter() - t0

    return rates(lat, asyncio.run(main()))


def store_rows(backend: Backend, t: Target, repeat: int) -> tuple[list[str], dict[str, int]]:
    """The store's tier map queries in process, best of ``repeat``; and the tier counts."""
    partner = Address.parse(t.partners[len(t.partners) // 2])
    calls: list[tuple[str, Callable[[object], object]]] = [
        (f"org_page() first {PAGE}", lambda s: s.org_page(OrgQuery())),
        ("org_page(tier=controller)", lambda s: s.org_page(OrgQuery(tier="controller"))),
        ("org_page(tier=partner)", lambda s: s.org_page(OrgQuery(tier="partner"))),
        (f"org_page(search={t.q})", lambda s: s.org_page(OrgQuery(search=t.q))),
        (f"org_page(offset={t.last_offset})", lambda s: s.org_page(OrgQuery(offset=t.last_offset))),
        (f"org_page(partner={partner.partner})", lambda s: s.org_page(OrgQuery(partner=partner.partner))),
        (f"partner_page() first {PAGE}", lambda s: s.partner_page()),
        ("blast_radius(controller)", lambda s: s.blast_radius(CONTROLLER)),
        (f"blast_radius({partner})", lambda s: s.blast_radius(partner)),
    ]
    rows: list[str] = []
    with open_store(backend.url, key=backend.key) as store:
        counts = {tier: store.org_page(OrgQuery(tier=tier, limit=1)).total for tier in ("controller", "partner")}
        for label, fn in calls:
            secs, result = best_of(repeat, lambda fn=fn: fn(store))
            what = f"{result.total:,} matched" if hasattr(result, "total") else f"{result:,} organizations"
            rows.append(f"| {backend.name} | {label} | {what} | {1000 * secs:.2f} |")
            log(rows[-1])
    return rows, counts


def bench(
    backend: Backend, pl: Platform, t: Target, tmp: Path, args: argparse.Namespace
) -> tuple[list[str], list[str]]:
    with open_store(backend.url, key=backend.key) as store:
        t0 = time.perf_counter()
        seed(store, pl)
        token = new_token(name="bench", role=Role.SYSADMIN, now=datetime.now(UTC))
        store.create_token(token, actor="benchmark")
        log(f"{backend.name}: seeded {pl.organizations:,} organizations in {time.perf_counter() - t0:.1f} s")
    sql_rows, counts = store_rows(backend, t, args.repeat)
    rows: list[str] = []
    with instance(backend, tmp) as base:
        session = sign_in(base, token.text)
        floor_rps: float | None = None
        for kind in kinds(t, counts):
            size = check_once(base, kind, token.text, session)
            r = load(base, kind, token.text, session, args.clients, args.seconds)
            if kind.key == "b":
                floor_rps = r["rps"]
            cost = f"{floor_rps / r['rps']:.2f}x" if floor_rps and kind.key != "a" else ""
            rows.append(
                f"| {backend.name} | ({kind.key}) | {kind.label} | {r['requests']:,} | {r['rps']:,.0f} | "
                f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {cost} | {size:,} |"
            )
            log(rows[-1])
    return rows, sql_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", metavar="DSN", default=os.environ.get(PG_ENV) or None)
    ap.add_argument("--no-pg", action="store_true", help=f"SQLite only, even with --pg or {PG_ENV}")
    ap.add_argument("--orgs", type=int, default=20_000)
    ap.add_argument("--partners", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=5, help="store queries: best of N")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    pl = generate(partners=args.partners, orgs=args.orgs)
    t = targets(pl)
    tmp = Path(tempfile.mkdtemp(prefix="smtp-iac-console-bench-"))
    rows: list[str] = []
    sql: list[str] = []
    try:
        kinds_ = [("sqlite", lambda: sqlite_backend(tmp, "console"))]
        if args.pg and not args.no_pg:
            kinds_.append(("postgresql", lambda: pg_backend(args.pg, "console")))
        for _name, make in kinds_:
            with make() as backend:
                http_rows, sql_rows = bench(backend, pl, t, tmp, args)
                rows += http_rows
                sql += sql_rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m = machine()
    print(f"machine: {m}")
    print(
        f"{pl.organizations:,} organizations, {pl.partners} partners, {len(pl.live):,} records; "
        f"{args.clients} clients, {args.seconds:g} s each; cost vs (b): req/s of (b) over the row's"
    )
    print(HEADER)
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(r)
    print()
    print(SQL_HEADER.replace("N", str(args.repeat)))
    print("|---|---|---|---:|")
    for r in sql:
        print(r)
    print(f"ran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
