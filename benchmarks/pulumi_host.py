"""Pulumi through the SDK's REAL dynamic provider host (performance at scale), on a fresh SQLite store
(and PostgreSQL with ``--pg DSN`` or ``SMTP_IAC_TEST_PG_DSN``):

1. Check+Diff of N resources (default 1,000; no changes, so each Diff fingerprints the
   password): ms per resource through the host, against ``make_plan`` of the same scopes in
   one process (what ``smtp-iac plan`` does, without interpreter start and rendering);
2. Create of M resources (default 100) sharing one relay: SMTP sessions and AUTHs counted at a
   loopback aiosmtpd relay, ms per resource, against ``apply`` of the same M creates.

The Pulumi CLI is not here: the engine is stood in for by ``tests/pulumi/pulumi_engine.py``
(gRPC calls made one after another, as ``pulumi up --parallel 1`` would issue them).

    .venv/bin/python benchmarks/pulumi_host.py [--resources 1000] [--creates 100] [--pg DSN]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "pulumi")]

from cryptography.fernet import Fernet  # noqa: E402
from pulumi.dynamic import ConfigureRequest  # noqa: E402
from pulumi.dynamic.dynamic import serialize_provider  # noqa: E402
from pulumi_engine import ProviderHost, urn  # noqa: E402
from smtp_servers import make_ca, smtp_server, write_ca_file  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.models import ResolvedSettings  # noqa: E402
from smtp_iac.planning.apply import apply_plan  # noqa: E402
from smtp_iac.planning.planner import make_plan  # noqa: E402
from smtp_iac.pulumi import properties as P  # noqa: E402
from smtp_iac.pulumi.provider import SmtpSettingsProvider  # noqa: E402
from smtp_iac.pulumi.resources import SETTINGS_TYPE  # noqa: E402
from smtp_iac.reading.stackfile import read  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402

USER, PASSWORD, STACK = "mailer", "bench-relay-secret-1f3a", "bench"
SECRET = {"password", "__provider"}


@contextmanager
def backends(tmp: Path, dsn: str | None) -> Iterator[list[tuple[str, str]]]:
    out = [("sqlite", f"sqlite:///{tmp / 'store.db'}")]
    schema = f"bench_pulumi_{uuid.uuid4().hex[:8]}"
    if dsn:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in dsn else "?"
        out.append(("postgresql", f"{dsn}{sep}options={quote(f'-csearch_path={schema}', safe='')}"))
    try:
        yield out
    finally:
        if dsn:
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def orgs(n: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def props(org: str, port: int, ca_file: Path, provider: str) -> dict[str, Any]:
    return {
        "address": f"partners/acme/organizations/{org}",
        "stack": STACK,
        "host": "127.0.0.1",
        "port": port,
        "tls": True,
        "username": USER,
        "password": PASSWORD,
        "verify": {"mode": "login", "timeout_seconds": 10, "ca_file": str(ca_file)},
        "__provider": provider,
    }


def stack_file(path: Path, org_names: list[str], port: int, ca_file: Path) -> Path:
    lines = [
        "version: 1",
        f"verify: {{mode: login, timeout_seconds: 10, ca_file: {ca_file}}}",
        "partners:",
        "  acme:",
        "    organizations:",
    ]
    for o in org_names:
        lines.append(
            f"      {o}:\n        smtp: {{host: 127.0.0.1, port: {port}, tls: true, username: {USER}, "
            "password: {env: BENCH_RELAY_PASSWORD}}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_plan_ms(path: Path, url: str, key: str) -> tuple[float, Any]:
    loaded, diags = read(path)
    assert loaded is not None, diags
    env = {"BENCH_RELAY_PASSWORD": PASSWORD}
    with open_store(url, key=key, create=False) as store:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            plan = make_plan(loaded, store, stack_file=str(path), environ=env)
            best = min(best, time.perf_counter() - t0)
    return best * 1000, plan


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (``/proc/PID/stat``, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def provider_ms(
    url: str, key: str, names: list[str], olds: dict[str, dict[str, Any]], port: int, ca_file: Path, provider: str
) -> float:
    """The provider's own check and diff of the same resources, called in this process as the
    host calls them (after its first call: imports and the store opened once), in ms."""
    own = SmtpSettingsProvider()
    own.configure(ConfigureRequest(config={"smtp-iac:store": url, "smtp-iac:storeKey": key}))
    first = props(names[0], port, ca_file, provider)
    own.diff(first["address"], olds[names[0]], own.check({}, first).inputs)
    t0 = time.perf_counter()
    for o in names:
        news = own.check({}, props(o, port, ca_file, provider)).inputs
        assert not own.diff(news["address"], olds[o], news).changes
    return (time.perf_counter() - t0) * 1000


def run_backend(name: str, url: str, tmp: Path, n: int, m: int, ca: Any, ca_file: Path) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    check_orgs, create_orgs, cli_orgs = orgs(n, "c"), orgs(m, "n"), orgs(m, "p")
    with open_store(url, key=key) as s:
        s.load_tenants(
            {
                "partners": {
                    "acme": {"organizations": {o: {"smtp_enabled": True} for o in check_orgs + create_orgs + cli_orgs}}
                }
            },
            actor="bench",
        )
    with smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}) as relay:
        provider = serialize_provider(SmtpSettingsProvider())
        # 1. Check+Diff: live records written directly, the state's outputs made from them
        olds: dict[str, dict[str, Any]] = {}
        with open_store(url, key=key) as s:
            for o in check_orgs:
                p = props(o, relay.port, ca_file, provider)
                settings = ResolvedSettings(
                    host="127.0.0.1", port=relay.port, tls=True, username=USER, password=PASSWORD
                )
                rec = s.put(Address("acme", o), settings, expected_version=None, stack=STACK, actor="bench").record
                olds[o] = P.settings_outputs(P.normalize(dict(p)), rec)
        host = ProviderHost(ROOT, tmp / f"host-{name}.log")
        try:
            host.configure({"smtp-iac:store": url, "smtp-iac:storeKey": key}, secret_keys={"smtp-iac:storeKey"})
            t0, host0, engine0 = time.perf_counter(), cpu_seconds(host.proc.pid), time.process_time()
            for o in check_orgs:
                u = urn(STACK, SETTINGS_TYPE, f"partners/acme/organizations/{o}")
                news, failures = host.check(u, {}, props(o, relay.port, ca_file, provider), SECRET)
                assert not failures
                assert host.diff(u, news["address"], olds[o], news, SECRET).changes == 1  # DIFF_NONE
            check_diff_ms = (time.perf_counter() - t0) * 1000
            host_cpu_ms = (cpu_seconds(host.proc.pid) - host0) * 1000
            engine_cpu_ms = (time.process_time() - engine0) * 1000
            # 2. Create of M resources sharing one relay
            t0 = time.perf_counter()
            for o in create_orgs:
                u = urn(STACK, SETTINGS_TYPE, f"partners/acme/organizations/{o}")
                news, _ = host.check(u, {}, props(o, relay.port, ca_file, provider), SECRET)
                host.create(u, news, SECRET)
            create_ms = (time.perf_counter() - t0) * 1000
            sessions, auths = relay.stats.sessions, relay.stats.auth_attempts
        finally:
            host.close()

        # the CLI on the same scopes: plan of the N unchanged ones, apply of M creates
        plan_ms, plan = cli_plan_ms(stack_file(tmp / f"{name}-check.yaml", check_orgs, relay.port, ca_file), url, key)
        assert plan.diff.counts()["no-op"] == n, plan.diff.counts()
        path = stack_file(tmp / f"{name}-apply.yaml", cli_orgs, relay.port, ca_file)
        loaded, _ = read(path)
        assert loaded is not None
        with open_store(url, key=key) as s:
            plan = make_plan(loaded, s, stack_file=str(path), environ={"BENCH_RELAY_PASSWORD": PASSWORD})
            before = relay.stats.sessions
            t0 = time.perf_counter()
            env = {"BENCH_RELAY_PASSWORD": PASSWORD}
            report = apply_plan(plan, s, files=loaded.files, environ=env, actor="bench")
            apply_ms = (time.perf_counter() - t0) * 1000
            cli_sessions = relay.stats.sessions - before
            assert plan.diff.counts()["create"] == m, plan.diff.counts()
            del report

    own_ms = provider_ms(url, key, check_orgs, olds, relay.port, ca_file, provider)
    per_cd, per_plan = check_diff_ms / n, plan_ms / n
    per_create, per_apply = create_ms / m, apply_ms / m
    print(f"[{name}] Check+Diff, {n} resources through the host: {check_diff_ms:.0f} ms, {per_cd:.3f} ms/resource")
    print(
        f"[{name}]   of which CPU: the host process {host_cpu_ms / n:.3f} ms/resource, the engine stand-in "
        f"(protobuf and gRPC client, this process) {engine_cpu_ms / n:.3f}; smtp-iac's own check and diff, "
        f"called directly: {own_ms / n:.3f} ms/resource"
    )
    print(
        f"[{name}]   CLI make_plan of the same {n} scopes: {plan_ms:.0f} ms, {per_plan:.3f} ms/scope; "
        f"ratio {per_cd / per_plan:.1f}x"
    )
    print(
        f"[{name}] Create, {m} resources sharing one relay: {create_ms:.0f} ms, {per_create:.2f} ms/resource, "
        f"SMTP sessions {sessions}, AUTHs {auths}"
    )
    print(
        f"[{name}]   CLI apply of {m} creates on the same relay: {apply_ms:.0f} ms, {per_apply:.2f} ms/scope, "
        f"SMTP sessions {cli_sessions}; ratio {per_create / per_apply:.1f}x"
    )
    return {
        "check_diff_ms_per_resource": per_cd,
        "host_cpu_ms_per_resource": host_cpu_ms / n,
        "engine_cpu_ms_per_resource": engine_cpu_ms / n,
        "provider_ms_per_resource": own_ms / n,
        "plan_ms_per_scope": per_plan,
        "create_ms_per_resource": per_create,
        "apply_ms_per_scope": per_apply,
        "creates": m,
        "smtp_sessions": sessions,
        "auths": auths,
        "cli_smtp_sessions": cli_sessions,
    }


Run = Callable[[str, str, Path, Any, Path], dict[str, Any]]


def each_backend(run: Run, pg: str | None, json_path: str | None, prefix: str) -> None:
    """``run(name, url, tmp, ca, ca_file)`` on SQLite (and PostgreSQL with ``pg``), in one
    temporary directory with one CA; the numbers also to ``json_path``."""
    ca = make_ca()
    out = {}
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        tmp = Path(d)
        ca_file = write_ca_file(ca, tmp)
        with backends(tmp, pg) as urls:
            for name, url in urls:
                out[name] = run(name, url, tmp, ca, ca_file)
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=1000)
    ap.add_argument("--creates", type=int, default=100)
    ap.add_argument("--pg", default=os.environ.get("SMTP_IAC_TEST_PG_DSN") or None)
    ap.add_argument("--json", metavar="FILE", help="also write the numbers here, per store")
    args = ap.parse_args()

    def run(name: str, url: str, tmp: Path, ca: Any, ca_file: Path) -> dict[str, Any]:
        return run_backend(name, url, tmp, args.resources, args.creates, ca, ca_file)

    each_backend(run, args.pg, args.json, "smtp-iac-pulumi-bench-")


if __name__ == "__main__":
    main()
