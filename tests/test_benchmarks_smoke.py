"""The benchmarks are not tests (their figures go to benchmarks/RESULTS.md), but their code
must keep running as the code it measures changes: each runs here once, on a small input, as
a subprocess, to its end. No figure is asserted. They are slow (process starts, servers, several
rounds), so they run in the full run only (``SMTP_IAC_FULL_TESTS=1``, tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240, cwd=BENCH.parent)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_platform_benchmark_runs_to_the_end():
    out = _run(
        str(BENCH / "run.py"), "--orgs", "200", "--partners", "4", "--repeat", "1", "--no-cli", "--apply-scopes", "20"
    )
    assert "drift afterwards: 0 items" in out


def test_validate_limits_runs_to_the_end():
    out = _run(str(BENCH / "validate_limits.py"), "--only", "long-key", "--only", "comments", "--no-formats")
    assert "| long-key | text |" in out and "worst:" in out


def test_hostile_relay_runs_to_the_end():
    out = _run(str(BENCH / "hostile_relay.py"), "--timeout", "1")
    assert "endless multi-line greeting" in out and "protocol at greeting" in out


def test_startup_benchmark_runs_to_the_end():
    out = _run(str(BENCH / "startup.py"), "--repeat", "1")
    assert "smtp-iac validate" in out and "python -c pass" in out


def test_service_benchmark_runs_to_the_end():
    out = _run(str(BENCH / "service.py"), "--orgs", "100", "--partners", "4", "--seconds", "0.5", "--repeat", "1")
    assert "| sqlite | one instance | effective |" in out and "ratio" in out


def test_console_benchmark_runs_to_the_end():
    out = _run(
        str(BENCH / "console.py"),
        *("--orgs", "300", "--partners", "4", "--seconds", "0.5", "--repeat", "1", "--no-pg"),
    )
    assert "| store | | request | requests | req/s | p50 ms | p99 ms | cost vs (b) | bytes |" in out


def test_scale_goals_summary_runs_to_the_end():
    out = _run(
        str(BENCH / "scale_goals.py"),
        *("--sizes", "100,1000", "--partners", "4", "--quick", "--pulumi-resources", "20", "--pulumi-creates", "5"),
    )
    for goal in ("stack reading / C compose, 1,000 orgs, sqlite", "plan growth 1,000 / 100 orgs, sqlite"):
        assert goal in out
    assert "peak RSS of `smtp-iac plan`" in out and "Pulumi Check+Diff per resource" in out


def test_recovery_benchmark_runs_to_the_end():
    out = _run(str(BENCH / "recovery.py"), "--quick", "--clients", "4", "--instances", "1")
    assert "| restart |" in out and "| lock |" in out


def test_pulumi_plugin_benchmark_runs_to_the_end():
    out = _run(str(BENCH / "pulumi_plugin.py"), "--resources", "20", "--calls", "3", "--pg", "")
    assert "native plugin" in out and "| Read (import) |" in out


def test_health_benchmark_runs_to_the_end():
    out = _run(str(BENCH / "health.py"), "--orgs", "2000", "--partners", "8", "--check-ms", "0", "--pg", "")
    assert "5 checks for 2,000 organizations" in out and "sessions per relay [1, 1, 1, 1, 1]" in out


def test_cli_speed_benchmark_runs_to_the_end(tmp_path):
    out = _run(
        str(BENCH / "cli_speed.py"), "--sizes", "200", "--partners", "4", "--rounds", "1", "--dir", str(tmp_path)
    )
    assert "plan / floor, 200 orgs" in out and "validate stacks/dev.yaml / python -c pass" in out


def test_tier_filter_benchmark_runs_to_the_end(tmp_path):
    out = _run(
        str(BENCH / "tierfilter.py"),
        *("--orgs", "300", "--partners", "4", "--rounds", "1", "--requests", "1", "--no-pg", "--cache", str(tmp_path)),
    )
    assert "tier=controller" in out


def test_service_floor_benchmark_runs_to_the_end():
    import shutil

    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: apt-get install wrk); the benchmark drives the service with it")
    out = _run(str(BENCH / "service_floor.py"), "--orgs", "100", "--partners", "20", "--seconds", "1", "--rounds", "1")
    assert "| sqlite | effective |" in out and "| sqlite | PUT scope |" in out
