"""The settings service under load (the settings service): requests per second and p50/p99 latency of
``GET /v1/organizations/{org}/effective`` and of a scope ``PUT`` (verify off, settings pointing
at a sink), with several concurrent clients, on SQLite and PostgreSQL, and two service
instances on one PostgreSQL; then ``plan`` of the 20,000-organization platform through the
service against the same plan on the database directly, as a ratio.

    .venv/bin/python benchmarks/service.py      # SQLite (and PostgreSQL if SMTP_IAC_TEST_PG_DSN is set)
    .venv/bin/python benchmarks/service.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/service.py --orgs 500 --seconds 1 --repeat 1   # a quick smoke run

Each service is the real ``smtp-iac serve`` in its own process (uvicorn, one worker), started
against a freshly seeded store; the clients are ``httpx.AsyncClient``s in this process, each
sending its next request when the last one is answered (closed loop), for ``--seconds``.
Client and services share this machine's cores, so the figures are what one machine serves
to itself, not a capacity claim. Nothing is asserted but that every answer had the expected
status (a failed request would make the figures meaningless).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import httpx  # noqa: E402
from platform_gen import generate  # noqa: E402
from run import PG_ENV, Backend, best_of, log, machine, over_backends, seed  # noqa: E402

from smtp_iac.planning.planner import make_plan  # noqa: E402
from smtp_iac.reading.stackfile import read  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402

SMTP_IAC = str(Path(sys.executable).parent / "smtp-iac")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    """Until ``url/readyz`` answers 200; SystemExit if ``proc`` ends or a minute passes first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.1)


@contextmanager
def instance(backend: Backend, cwd: Path) -> Iterator[str]:
    """``smtp-iac serve`` on a free loopback port, until the block ends."""
    port = free_port()
    env = dict(os.environ, SMTP_IAC_STORE_KEY=backend.key)
    proc = subprocess.Popen(
        [SMTP_IAC, "serve", "--store", backend.url, "--port", str(port), "--allow-unverified", "--rate-limit", "1e6"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # one JSON line per request: not what is measured
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc, f"smtp-iac serve ({backend.name})")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


async def _effective_client(base: str, token: str, orgs: list[str], until: float, out: list[float]) -> None:
    rng = random.Random(base + str(len(out)))
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        while not out or time.perf_counter() < until:  # at least one request, however slow the machine
            org = rng.choice(orgs)
            t0 = time.perf_counter()
            r = await c.get(f"/v1/organizations/{org}/effective")
            out.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"effective answered {r.status_code}: {r.text[:200]}")


async def _put_client(base: str, token: str, scopes: list[str], until: float, out: list[float]) -> None:
    body = {
        "host": "127.0.0.1",
        "port": 2525,  # a sink's address; verify is off, so nothing connects
        "tls": True,
        "username": "bench",
        "password": "bench-password-not-secret",
        "verify": {"mode": "off"},
    }
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        etags = {}
        for s in scopes:
            r = await c.get(f"/v1/scopes/{s}")
            etags[s] = r.headers.get("etag")
        i = 0
        while not out or time.perf_counter() < until:  # at least one request, however slow the machine
            s = scopes[i % len(scopes)]
            i += 1
            headers = {"If-Match": etags[s]} if etags[s] else {"If-None-Match": "*"}
            t0 = time.perf_counter()
            r = await c.put(f"/v1/scopes/{s}", json=body, headers=headers)
            out.append(time.perf_counter() - t0)
            if r.status_code not in (200, 201):
                raise SystemExit(f"PUT answered {r.status_code}: {r.text[:200]}")
            etags[s] = r.headers["etag"]


def load(kind: str, bases: list[str], token: str, targets: list[str], clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients spread over ``bases`` for ``seconds``: rate and latencies."""
    lat: list[float] = []

    async def main() -> float:
        until = time.perf_counter() + seconds
        t0 = time.perf_counter()
        if kind == "effective":
            jobs = [_effective_client(bases[i % len(bases)], token, targets, until, lat) for i in range(clients)]
        else:  # each client writes its own scopes: no two clients race for a version
            n = min(clients, len(targets))
            jobs = [_put_client(bases[i % len(bases)], token, targets[i::n], until, lat) for i in range(n)]
        await asyncio.gather(*jobs)
        return time.perf_counter() - t0

    return rates(lat, asyncio.run(main()))


def rates(lat: list[float], elapsed: float) -> dict:
    """Requests, rate and p50/p99 latency of a run's latencies (seconds) over ``elapsed``."""
    lat = sorted(lat)
    return {
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def plan_ratio(backend: Backend, url: str, token: str, stack: Path, env: dict[str, str], repeat: int) -> dict:
    loaded, diags = read(stack)
    assert loaded is not None, diags[:3]
    os.environ.update(env)
    with open_store(backend.url, key=backend.key) as direct, open_store(url, token=token) as remote:
        t_direct, p1 = best_of(repeat, lambda: make_plan(loaded, direct, stack_file=str(stack), environ=env))
        t_remote, p2 = best_of(repeat, lambda: make_plan(loaded, remote, stack_file=str(stack), environ=env))
    assert p1.diff.counts() == p2.diff.counts(), (p1.diff.counts(), p2.diff.counts())
    assert p1.blast is not None and p2.blast is not None and p1.blast.affected == p2.blast.affected
    return {"direct_s": t_direct, "service_s": t_remote, "ratio": t_remote / t_direct, "counts": p1.diff.counts()}


def bench(backend: Backend, pl, tmp: Path, args: argparse.Namespace) -> list[str]:
    rows: list[str] = []
    with open_store(backend.url, key=backend.key) as store:
        seed(store, pl)
        token = new_token(name="bench", role=Role.SYSADMIN, now=datetime.now(UTC))
        store.create_token(token, actor="benchmark")
    orgs = [f"partners/{p}/organizations/{o}" for p, e in pl.tenants["partners"].items() for o in e["organizations"]]
    partners = [f"partners/{p}" for p in pl.tenants["partners"]]
    stack = tmp / "bench.yaml"
    stack.write_text(pl.stack_yaml, encoding="utf-8")
    layouts = [("one instance", 1)] + ([("two instances", 2)] if backend.name == "postgresql" else [])
    for label, n in layouts:
        with ExitStack() as stack_ctx:
            bases = [stack_ctx.enter_context(instance(backend, tmp)) for _ in range(n)]
            for kind, targets in (("effective", orgs), ("PUT scope", partners)):
                r = load(
                    "effective" if kind == "effective" else "put",
                    bases,
                    token.text,
                    targets,
                    args.clients,
                    args.seconds,
                )
                rows.append(
                    f"| {backend.name} | {label} | {kind} | {args.clients} | {r['requests']:,} | "
                    f"{r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
                )
                log(rows[-1])
            if n == 1:
                pr = plan_ratio(backend, bases[0], token.text, stack, dict(pl.environ), args.repeat)
                rows.append(
                    f"| {backend.name} | plan of {pl.organizations:,} orgs | direct {pr['direct_s']:.3f} s, "
                    f"through the service {pr['service_s']:.3f} s | ratio {pr['ratio']:.2f}x | | | | |"
                )
                log(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", metavar="DSN", default=os.environ.get(PG_ENV) or None)
    ap.add_argument("--orgs", type=int, default=20_000)
    ap.add_argument("--partners", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3, help="plan: best of N")
    args = ap.parse_args(argv)
    pl = generate(partners=args.partners, orgs=args.orgs)
    rows = over_backends(args.pg, "svc", lambda backend, tmp: bench(backend, pl, tmp, args))
    m = machine()
    print(f"machine: {m}")
    print(
        f"{pl.organizations:,} organizations, {len(pl.live):,} records; {args.clients} clients, {args.seconds:g} s each"
    )
    print("| store | layout | request | clients | requests | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
