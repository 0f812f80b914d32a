"""The settings service against its framework's floor, driven by ``wrk`` (Debian's package):
``GET /v1/organizations/{org}/effective`` for random organizations and a scope ``PUT`` (verify
off, ``If-Match`` from the last answer), 8 connections each, the real ``smtp-iac serve`` over a
seeded 20,000-organization SQLite store against ``floor_app.py`` (a bare FastAPI app with the
same server settings answering the same bytes after a token compare), several rounds
interleaved; then the ratios.

    .venv/bin/python benchmarks/service_floor.py                    # 20,000 organizations, 3 rounds of 5 s
    .venv/bin/python benchmarks/service_floor.py --orgs 500 --seconds 1 --rounds 1   # a quick smoke run
    .venv/bin/python benchmarks/service_floor.py --pg postgresql://postgres@127.0.0.1:5432/test

wrk and the services share this machine's two cores (wrk takes one thread per connection for
``PUT``, each writing its own scope; ``GET`` uses two threads). Nothing is asserted but that every
answer had the expected status: a run with failed requests stops with the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import httpx  # noqa: E402
from platform_gen import generate  # noqa: E402
from run import PG_ENV, Backend, log, machine, over_backends, seed  # noqa: E402
from service import free_port, wait_ready  # noqa: E402

from smtp_iac.store import open_store  # noqa: E402
from smtp_iac.tokens import Role, new_token  # noqa: E402

SMTP_IAC = str(Path(sys.executable).parent / "smtp-iac")
GOALS = {"effective": 0.5, "PUT scope": 0.4}


@contextmanager
def process(argv: list[str], url: str, env: dict[str, str], cwd: Path, what: str) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc, what)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` and its children so far (``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def service(backend: Backend, cwd: Path, workers: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [SMTP_IAC, "serve", "--store", backend.url, "--port", str(port), "--allow-unverified"]
    argv += ["--rate-limit", "1e6", "--health-interval", "0"] + (["--workers", str(workers)] if workers != 1 else [])
    env = dict(os.environ, SMTP_IAC_STORE_KEY=backend.key)
    return process(argv, f"http://127.0.0.1:{port}", env, cwd, "smtp-iac serve")


def floor(token: str, body_get: Path, body_put: Path, cwd: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [sys.executable, str(HERE / "floor_app.py"), "--port", str(port), "--token", token]
    argv += ["--body-get", str(body_get), "--body-put", str(body_put)]
    return process(argv, f"http://127.0.0.1:{port}", dict(os.environ), cwd, "the floor app")


def wrk(target: tuple[str, int], kind: str, seconds: float, connections: int, env: dict[str, str]) -> dict[str, float]:
    url, pid = target
    script = HERE / "wrk" / ("effective.lua" if kind == "effective" else "put.lua")
    threads = connections if kind != "effective" else 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    cpu = cpu_seconds(pid)
    out = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True, timeout=seconds + 60)
    cpu = cpu_seconds(pid) - cpu
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("JSON ")]
    if out.returncode != 0 or not lines or out.stderr.strip():
        raise SystemExit(f"wrk {kind} at {url} failed: {out.stderr.strip()[:400] or out.stdout[-400:]}")
    r = json.loads(lines[-1][5:])
    if r["errors"] or r["non2xx"]:
        raise SystemExit(f"wrk {kind} at {url}: {r['errors']} errors, {r['non2xx']} non-2xx answers")
    return {
        "rps": r["requests"] / seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "cpu_us": 1e6 * cpu / max(1, r["requests"]),
    }


def bench(backend: Backend, pl, tmp: Path, args: argparse.Namespace) -> list[str]:
    with open_store(backend.url, key=backend.key) as store:
        seed(store, pl)
        token = new_token(name="bench", role=Role.SYSADMIN, now=datetime.now(UTC))
        store.create_token(token, actor="benchmark")
    orgs = [f"partners/{p}/organizations/{o}" for p, e in pl.tenants["partners"].items() for o in e["organizations"]]
    partners = [f"partners/{p}" for p in pl.tenants["partners"]]
    (tmp / "orgs.txt").write_text("\n".join(orgs) + "\n")
    env = {"TOKEN": token.text, "ORGS_FILE": str(tmp / "orgs.txt")}
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with service(backend, tmp, args.workers) as (ours, our_pid):
        auth = {"Authorization": f"Bearer {token.text}"}
        body_get = tmp / "get.json"
        body_get.write_bytes(httpx.get(f"{ours}/v1/organizations/{orgs[0]}/effective", headers=auth).content)
        body_put = tmp / "put.json"
        body_put.write_bytes(httpx.get(f"{ours}/v1/scopes/{partners[0]}", headers=auth).content)
        with floor(token.text, body_get, body_put, tmp) as (bare, bare_pid):
            for rnd in range(args.rounds):
                for kind in ("effective", "PUT scope"):
                    for who, target in (("floor", (bare, bare_pid)), ("smtp-iac", (ours, our_pid))):
                        # each round writes fresh scopes: a thread's first request reads its ETag
                        picked = partners[(rnd * 2 + (who == "floor")) * args.clients :][: args.clients]
                        (tmp / "scopes.txt").write_text("\n".join(picked) + "\n")
                        r = wrk(
                            target, kind, args.seconds, args.clients, dict(env, SCOPES_FILE=str(tmp / "scopes.txt"))
                        )
                        runs.setdefault((kind, who), []).append(r)
                        log(f"round {rnd + 1} {backend.name} {kind} {who}: {r}")
    rows = []
    for kind in ("effective", "PUT scope"):
        ours_r, floor_r = runs[(kind, "smtp-iac")], runs[(kind, "floor")]
        rps = [o["rps"] / f["rps"] for o, f in zip(ours_r, floor_r, strict=True)]
        cpu = [f["cpu_us"] / o["cpu_us"] for o, f in zip(ours_r, floor_r, strict=True)]
        keys = ("rps", "p50_ms", "p99_ms", "cpu_us")
        med = {k: statistics.median(r[k] for r in ours_r) for k in keys}
        fmed = {k: statistics.median(r[k] for r in floor_r) for k in keys}
        goal = GOALS[kind]
        ok = statistics.median(rps) >= goal and (kind != "effective" or med["p99_ms"] < 10)
        rows.append(
            f"| {backend.name} | {kind} | {med['rps']:,.0f} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} | "
            f"{med['cpu_us']:,.0f} | {fmed['rps']:,.0f} | {fmed['p99_ms']:.1f} | {fmed['cpu_us']:,.0f} | "
            f"{min(rps):.2f} / {statistics.median(rps):.2f} / {max(rps):.2f}x | {statistics.median(cpu):.2f}x | "
            f">= {goal}x{', p99 < 10 ms' if kind == 'effective' else ''} | {'met' if ok else 'MISSED'} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", metavar="DSN", default=os.environ.get(PG_ENV) or None)
    ap.add_argument("--orgs", type=int, default=20_000)
    ap.add_argument("--partners", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8, help="connections")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="smtp-iac serve --workers")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    pl = generate(partners=args.partners, orgs=args.orgs)
    rows = over_backends(args.pg, "floor", lambda backend, tmp: bench(backend, pl, tmp, args))
    print(f"machine: {machine()}")
    print(
        f"{pl.organizations:,} organizations; {args.clients} connections, {args.rounds} rounds of "
        f"{args.seconds:g} s, interleaved; smtp-iac serve --workers {args.workers}"
    )
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(
        "| store | request | smtp-iac req/s | p50 ms | p99 ms | CPU us/req | floor req/s | floor p99 ms | "
        "floor CPU us/req | req/s ratio (min / median / max) | CPU ratio | goal | verdict |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
