"""Start-up time of the command line (performance at scale): ``smtp-iac validate`` runs in pre-commit on
every commit, so on a small valid file it should cost little more than starting Python.

    .venv/bin/python benchmarks/startup.py              # best of 15 runs each
    .venv/bin/python benchmarks/startup.py --repeat 30

Each row is the wall time of a fresh subprocess (best of N runs: the least disturbed one) of
``python -c pass``, ``smtp-iac --version``, ``smtp-iac --help`` and ``smtp-iac validate
stacks/dev.yaml``, and its ratio to ``python -c pass``; the target for validate is at most
4x. Nothing here is a test: it reports, and marks a row ``OVER`` when validate breaks the
target. (What validate must NOT import is a test: tests/test_startup.py.)

Bytecode: an installed smtp-iac has its ``.pyc`` files, so the runs here do too. The children
run without ``PYTHONDONTWRITEBYTECODE`` and with ``PYTHONPYCACHEPREFIX`` set to a temporary
directory (nothing is written into the tree), after one warm-up run of each command; without
that, every run would compile smtp-iac's sources again. ``--as-is`` runs them in this
process's environment instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
TARGET_RATIO = 4.0


def best_of(cmd: list[str], repeat: int, env: dict[str, str]) -> float:
    best = float("inf")
    for i in range(repeat + 1):  # the first: a warm-up (bytecode), not counted
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
        if i:
            best = min(best, elapsed)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15, help="runs of each command; the best is shown")
    ap.add_argument("--as-is", action="store_true", help="this environment's bytecode settings (no cache prefix)")
    ap.add_argument("--json", metavar="FILE", help="also write {command: [ms, ratio]} here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="smtp-iac-pyc-") as pyc:
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pyc
        rows = report(args.repeat, env, "as is" if args.as_is else "bytecode cached")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


def report(repeat: int, env: dict[str, str], mode: str) -> dict[str, tuple[float, float]]:
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("smtp-iac --version", [str(SMTP_IAC), "--version"]),
        ("smtp-iac --help", [str(SMTP_IAC), "--help"]),
        ("smtp-iac validate stacks/dev.yaml", [str(SMTP_IAC), "validate", "stacks/dev.yaml"]),
    ]
    print(f"best of {repeat} runs each ({sys.executable}; {mode})")
    print("| command | wall (ms) | ratio to python -c pass |")
    print("|---|---:|---:|")
    base = None
    rows = {}
    for name, cmd in cases:
        t = best_of(cmd, repeat, env)
        base = base or t
        ratio = t / base
        mark = " OVER" if name.startswith("smtp-iac validate") and ratio > TARGET_RATIO else ""
        print(f"| {name} | {t * 1000:.1f} | {ratio:.1f}x{mark} |", flush=True)
        rows[name] = (t * 1000, ratio)
    return rows


if __name__ == "__main__":
    main()
