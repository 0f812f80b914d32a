"""The native plugin (``pulumi-resource-smtp-iac``) against the SDK's dynamic provider host,
both real processes driven over gRPC as the engine drives them (``tests/pulumi/pulumi_engine``;
calls one after another, as ``pulumi up --parallel 1`` issues them), on one SQLite store (and
PostgreSQL with ``--pg DSN`` or ``SMTP_IAC_TEST_PG_DSN``), in one run:

1. Check+Diff of N unchanged resources (default 1,000; each Diff fingerprints the password):
   ms per resource through each, in R interleaved rounds (default 3, the median), and the
   ratio; beside them the same requests answered by two floors, bare servicers in processes
   of their own that echo Check's inputs and answer Diff "no changes" (``serve_floor``: one on
   grpc.aio as the plugin is served, one on grpc's thread pool), so the plugin's figure is also
   a ratio to what Python's gRPC costs before any work;
2. each call the engine makes of the plugin, timed over K resources (default 50): median and
   p95 ms per call (Create and Update verify with an SMTP login at a loopback relay; the run
   shares one check per relay and credentials, as ``apply`` does).

    .venv/bin/python benchmarks/pulumi_plugin.py [--resources 1000] [--calls 50] [--rounds 3] [--pg DSN]

``SMTP_IAC_BENCH_PROFILE=FILE`` starts the plugin under cProfile (from here: the plugin has no
profiling in it) and writes its stats to FILE when the run stops it
(``python -c "import pstats; pstats.Stats('FILE').sort_stats('cumulative').print_stats(40)"``).

Nothing is asserted; figures go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "pulumi"), str(HERE)]

from cryptography.fernet import Fernet  # noqa: E402
from pulumi.dynamic.dynamic import serialize_provider  # noqa: E402
from pulumi_engine import ProviderHost, urn  # noqa: E402
from pulumi_host import cpu_seconds, each_backend  # noqa: E402
from smtp_servers import smtp_server  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.models import ResolvedSettings  # noqa: E402
from smtp_iac.pulumi import properties as P  # noqa: E402
from smtp_iac.pulumi.native import settings as native_settings  # noqa: E402
from smtp_iac.pulumi.provider import SmtpSettingsProvider  # noqa: E402
from smtp_iac.pulumi.resources import SETTINGS_TYPE  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402

USER, PASSWORD, STACK = "mailer", "bench-relay-secret-7c1e", "bench"
NATIVE = "smtp-iac:index:SmtpSettings"
OWNER = f"pulumi/smtp-iac/{STACK}"


PROFILE_ENV = "SMTP_IAC_BENCH_PROFILE"
"""Set to a file name: the benchmark starts the plugin under cProfile (the plugin itself has
no profiling in it) and the plugin writes its stats there when it is stopped."""


def plugin_command() -> list[str]:
    exe = shutil.which("pulumi-resource-smtp-iac", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("pulumi-resource-smtp-iac is not installed beside this interpreter (pip install -e .)")
    profile = os.environ.get(PROFILE_ENV)
    if profile:
        return [sys.executable, __file__, "--serve-profiled", str(Path(profile).resolve()), "127.0.0.1:1"]
    return [exe, "127.0.0.1:1"]


def floor_command(server: str) -> list[str]:
    """A plugin-like process with nothing in it but a bare servicer (``serve_floor``):
    ``aio`` (grpc.aio, as the plugin is served) or ``threaded`` (grpc's thread-pool server)."""
    return [sys.executable, __file__, "--serve-floor", server]


def serve_profiled(out: str, argv: list[str]) -> None:
    """The plugin's own ``main`` under cProfile; the stats go to ``out`` on SIGTERM."""
    import cProfile
    import signal

    from smtp_iac.pulumi.native import server

    prof = cProfile.Profile()

    def stop(*_: Any) -> None:
        prof.disable()
        prof.dump_stats(out)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.argv = ["pulumi-resource-smtp-iac", *argv]
    prof.enable()
    server.main()


def serve_floor(server: str) -> None:
    """The floor: a bare ``ResourceProvider`` servicer in its own process, served as the plugin
    is (same server options, loopback port printed on stdout), whose Check echoes the
    request's inputs and whose Diff answers "no changes", with no conversion and no logic:
    what answering these two calls costs in Python's gRPC before any work. ``aio``: grpc.aio
    on an event loop, as the plugin is served; ``threaded``: grpc's thread-pool server (4
    workers), the other way Python's gRPC serves."""
    import asyncio

    import grpc
    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    class Floor(provider_pb2_grpc.ResourceProviderServicer):
        async def Configure(self, request: Any, context: Any) -> Any:
            return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

        async def Check(self, request: Any, context: Any) -> Any:
            return provider_pb2.CheckResponse(inputs=request.news)

        async def Diff(self, request: Any, context: Any) -> Any:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE, hasDetailedDiff=True)

    class Threaded(provider_pb2_grpc.ResourceProviderServicer):
        def Configure(self, request: Any, context: Any) -> Any:
            return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

        def Check(self, request: Any, context: Any) -> Any:
            return provider_pb2.CheckResponse(inputs=request.news)

        def Diff(self, request: Any, context: Any) -> Any:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE, hasDetailedDiff=True)

    if server == "threaded":
        from concurrent.futures import ThreadPoolExecutor

        threaded = grpc.server(ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(Threaded(), threaded)
        port = threaded.add_insecure_port("127.0.0.1:0")
        threaded.start()
        sys.stdout.buffer.write(f"{port}\n".encode())
        sys.stdout.buffer.flush()
        threaded.wait_for_termination()
        return

    async def serve() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(Floor(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.buffer.write(f"{port}\n".encode())
        sys.stdout.buffer.flush()
        await server.wait_for_termination()

    asyncio.run(serve())


def address(org: str) -> str:
    return f"partners/acme/organizations/{org}"


def native_inputs(org: str, port: int) -> dict[str, Any]:
    d = {"address": address(org), "host": "127.0.0.1", "port": port, "tls": True, "username": USER}
    return d | {"password": PASSWORD}


def dynamic_inputs(org: str, port: int, ca_file: Path, provider: str) -> dict[str, Any]:
    verify = {"mode": "login", "timeout_seconds": 10, "ca_file": str(ca_file)}
    return native_inputs(org, port) | {"stack": STACK, "verify": verify, "__provider": provider}


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def check_diff_ms(
    host: ProviderHost, type_: str, items: list[tuple[dict, dict]], secret: set[str]
) -> tuple[float, float]:
    """Check then Diff of every (inputs, old outputs): ms per resource, wall (the engine
    stand-in's view) and the provider process's CPU (the time spent in it)."""
    t0, cpu0 = time.perf_counter(), cpu_seconds(host.proc.pid)
    for news, olds in items:
        u = urn(STACK, type_, news["address"])
        checked, failures = host.check(u, {}, news, secret)
        assert not failures, failures
        assert host.diff(u, news["address"], olds, checked, secret).changes == 1  # DIFF_NONE
    wall = (time.perf_counter() - t0) * 1000 / len(items)
    return wall, (cpu_seconds(host.proc.pid) - cpu0) * 1000 / len(items)


def run_backend(name: str, url: str, tmp: Path, n: int, k: int, ca: Any, ca_file: Path, rounds: int) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    orgs = [f"o{i:05d}" for i in range(n)]  # the dynamic provider's (owner: the stack file's name)
    owned = [f"n{i:05d}" for i in range(n)]  # the plugin's (owner: pulumi/<project>/<stack>)
    fresh = [f"f{i:05d}" for i in range(k)]
    with open_store(url, key=key) as s:
        tenants = {o: {"smtp_enabled": True} for o in orgs + owned + fresh}
        s.load_tenants({"partners": {"acme": {"organizations": tenants}}}, actor="bench")
    out: dict[str, Any] = {}
    with smtp_server(tls="starttls", ca=ca, users={USER: PASSWORD}) as relay:
        provider = serialize_provider(SmtpSettingsProvider())
        dyn_items, nat_items = [], []
        with open_store(url, key=key) as s:
            settings = ResolvedSettings(host="127.0.0.1", port=relay.port, tls=True, username=USER, password=PASSWORD)
            for o, n_o in zip(orgs, owned, strict=True):
                rec = s.put(Address("acme", o), settings, expected_version=None, stack=STACK, actor="bench").record
                p = dynamic_inputs(o, relay.port, ca_file, provider)
                dyn_items.append((p, P.settings_outputs(P.normalize(dict(p)), rec)))
                rec = s.put(Address("acme", n_o), settings, expected_version=None, stack=OWNER, actor="bench").record
                nat_items.append((native_inputs(n_o, relay.port), native_settings.record_facts(rec)))
        dyn = ProviderHost(ROOT, tmp / f"dynamic-{name}.log")
        nat = ProviderHost(tmp, tmp / f"plugin-{name}.log", command=plugin_command())
        bare = ProviderHost(tmp, tmp / f"floor-{name}.log", command=floor_command("aio"))
        threaded = ProviderHost(tmp, tmp / f"threaded-{name}.log", command=floor_command("threaded"))
        try:
            dyn.configure({"smtp-iac:store": url, "smtp-iac:storeKey": key}, secret_keys={"smtp-iac:storeKey"})
            verify = json.dumps({"mode": "login", "timeoutSeconds": 10, "caFile": str(ca_file)})
            nat.configure({"store": url, "storeKey": key, "verify": verify}, secret_keys={"storeKey"})
            bare.configure({})
            threaded.configure({})
            runs: dict[str, list[tuple[float, float]]] = {"dynamic": [], "plugin": [], "floor": [], "threaded": []}
            hosts = {"dynamic": (dyn, SETTINGS_TYPE, dyn_items), "plugin": (nat, NATIVE, nat_items)}
            hosts |= {"floor": (bare, NATIVE, nat_items), "threaded": (threaded, NATIVE, nat_items)}
            for round_ in range(rounds + 1):  # round 0 warms all three (imports, the store opened)
                for who, (host, type_, items) in hosts.items():
                    secret = {"password", "__provider"} if host is dyn else {"password"}
                    got = check_diff_ms(host, type_, items[:20] if round_ == 0 else items, secret)
                    if round_:
                        runs[who].append(got)
            for who, measured in runs.items():
                out[f"{who}_check_diff_ms"] = statistics.median(w for w, _ in measured)
                out[f"{who}_check_diff_cpu_ms"] = statistics.median(c for _, c in measured)
            out["plugin_info_floor_cpu_ms"] = floor_cpu_ms(nat, len(nat_items))
            out["calls"] = per_call(nat, fresh, relay.port)
            out["smtp_sessions"] = relay.stats.sessions
        finally:
            dyn.close()
            nat.close()
            bare.close()
            threaded.close()
    print(f"[{name}] Check+Diff per resource, {n} resources, median of {rounds} interleaved rounds (ms):")
    print("| provider | wall, engine stand-in's view | CPU in the provider process |")
    print("|---|---:|---:|")
    for who, label in LABELS:
        print(f"| {label} | {out[f'{who}_check_diff_ms']:.3f} | {out[f'{who}_check_diff_cpu_ms']:.3f} |")
    ratio = out["dynamic_check_diff_ms"] / out["plugin_check_diff_ms"]
    cpu_ratio = out["dynamic_check_diff_cpu_ms"] / out["plugin_check_diff_cpu_ms"]
    floor_ratio = out["plugin_check_diff_cpu_ms"] / out["floor_check_diff_cpu_ms"]
    threaded_ratio = out["threaded_check_diff_cpu_ms"] / out["floor_check_diff_cpu_ms"]
    print(
        f"[{name}] dynamic host / plugin: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU; plugin / floor: "
        f"{floor_ratio:.2f}x CPU ({out['plugin_check_diff_cpu_ms'] - out['floor_check_diff_cpu_ms']:.3f} ms "
        f"beyond it); two GetPluginInfo calls to the plugin: {2 * out['plugin_info_floor_cpu_ms']:.3f} ms CPU; "
        f"threaded floor / grpc.aio floor: {threaded_ratio:.2f}x CPU"
    )
    print(f"[{name}] the plugin's calls, {k} resources each (ms per call):")
    print("| call | median | p95 |")
    print("|---|---:|---:|")
    for call, (median, p95) in out["calls"].items():
        print(f"| {call} | {median:.3f} | {p95:.3f} |")
    print(f"[{name}] SMTP sessions at the relay for {k} creates and {k} updates: {out['smtp_sessions']}")
    return out


def floor_cpu_ms(host: ProviderHost, n: int) -> float:
    """The plugin's CPU per call that does nothing (GetPluginInfo): the Python gRPC server's own."""
    cpu0 = cpu_seconds(host.proc.pid)
    for _ in range(n):
        host.plugin_info()
    return (cpu_seconds(host.proc.pid) - cpu0) * 1000 / n


def per_call(host: ProviderHost, orgs: list[str], port: int) -> dict[str, tuple[float, float]]:
    times: dict[str, list[float]] = {}

    def add(call: str, fn: Callable[[], Any]) -> Any:
        result: list[Any] = []
        times.setdefault(call, []).append(timed(lambda: result.append(fn())))
        return result[0]

    secret = {"password"}
    for o in orgs:
        u = urn(STACK, NATIVE, address(o))
        news = native_inputs(o, port)
        add("GetSchema", host.schema)
        add("Check", lambda u=u, news=news: host.check(u, {}, news, secret))
        add("Create (preview)", lambda u=u, news=news: host.create(u, news, secret, preview=True))
        id_, outs = add("Create", lambda u=u, news=news: host.create(u, news, secret))
        add("Diff", lambda u=u, id_=id_, outs=outs, news=news: host.diff(u, id_, outs, news, secret))
        add("Read (refresh)", lambda u=u, id_=id_, outs=outs, news=news: host.read(u, id_, outs, news, secret))
        add("Read (import)", lambda u=u, id_=id_: host.read(u, id_, {}, {}))
        changed = dict(news, sender="no-reply@acme.example")
        uouts = add("Update", lambda u=u, id_=id_, outs=outs, c=changed: host.update(u, id_, outs, c, secret))
        add("Invoke getEffectiveSettings", lambda o=o: host.invoke(EFFECTIVE, {"organization": f"acme/{o}"}))
        add("Delete", lambda u=u, id_=id_, uouts=uouts: host.delete(u, id_, uouts, secret))
    return {
        call: (statistics.median(ms), statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else ms[0])
        for call, ms in times.items()
    }


EFFECTIVE = "smtp-iac:index:getEffectiveSettings"
LABELS = (
    ("dynamic", "dynamic host"),
    ("plugin", "native plugin"),
    ("floor", "floor: bare grpc.aio servicer"),
    ("threaded", "floor: bare threaded servicer"),
)


def main() -> None:
    if sys.argv[1:2] == ["--serve-floor"]:
        return serve_floor(sys.argv[2])
    if sys.argv[1:2] == ["--serve-profiled"]:
        return serve_profiled(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of Check+Diff (median)")
    ap.add_argument("--pg", default=os.environ.get("SMTP_IAC_TEST_PG_DSN") or None)
    ap.add_argument("--json", metavar="FILE", help="also write the numbers here, per store")
    args = ap.parse_args()

    def run(name: str, url: str, tmp: Path, ca: Any, ca_file: Path) -> dict[str, Any]:
        return run_backend(name, url, tmp, args.resources, args.calls, ca, ca_file, args.rounds)

    each_backend(run, args.pg, args.json, "smtp-iac-plugin-bench-")


if __name__ == "__main__":
    main()
