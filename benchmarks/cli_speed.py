"""Whole-command speed of ``smtp-iac plan`` and ``smtp-iac validate``: each timed from process
start to exit, against a whole-command floor, several rounds taken in turns.

    .venv/bin/python benchmarks/cli_speed.py                          # 2,000 / 20,000 / 200,000 orgs, 5 rounds
    .venv/bin/python benchmarks/cli_speed.py --sizes 2000,20000 --rounds 3
    .venv/bin/python benchmarks/cli_speed.py --dir /tmp/cli-speed     # keep (and reuse) the stacks and stores

What it compares, each a fresh process (``wait4`` of the child: wall, CPU, peak RSS):

- ``smtp-iac plan STACK --store sqlite:///STORE --detailed-exitcode`` (exit 2: the generated
  platform differs from its store in 5% of its scopes) against the FLOOR, a small Python
  process that imports yaml and sqlite3, composes the same stack with libyaml's C composer
  (``yaml.compose(text, Loader=yaml.CSafeLoader)``: no marks, limits or checks) and reads
  every row of the store's records, partners and organizations once. Ratio plan / floor pair
  by pair (the same round), then the growth of each from one size to the next.
- ``smtp-iac validate stacks/dev.yaml`` against ``python -c pass``.

The platforms are ``platform_gen.generate`` (200 partners; the size is the number of
organizations), seeded through the store's own API (``run.seed``) in a child process, so that
this process stays small (a child's peak RSS counts from its parent's at fork). Bytecode is
cached in a temporary ``PYTHONPYCACHEPREFIX`` (as an installed smtp-iac has its ``.pyc``
files), and each command runs once, uncounted, before the rounds. Each round runs every
command once, in the same order; the figures are min / median / max over the rounds, and a
ratio is taken within a round, so that a drift of the shared machine's speed meets both sides.
Nothing here is a test: it reports, and marks a goal MISSED.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
LARGE_PLATFORM = 100_000  # above, the stack needs a raised node budget (as run.py)
PLAN_GOAL, VALIDATE_GOAL, GROWTH_GOAL = 1.5, 4.0, 10.0

FLOOR = """
import gc, sqlite3, sys, yaml
gc.disable()
with open(sys.argv[1], "rb") as f:
    text = f.read()
yaml.compose(text, Loader=yaml.CSafeLoader)
db = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
for table in ("records", "partners", "organizations"):
    db.execute(f"SELECT * FROM {table}").fetchall()
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----- fixtures (built in a child process: ``--build DIR ORGS``) ---------------------------


def build(where: Path, orgs: int, partners: int) -> None:
    """Generate the platform of ``orgs`` organizations into ``where``: the stack, a seeded
    SQLite store, its key and the environment the stack's password references read."""
    sys.path[:0] = [str(HERE), str(ROOT / "tests")]
    from platform_gen import generate
    from run import seed, sqlite_backend

    from smtp_iac.store import open_store

    where.mkdir(parents=True, exist_ok=True)
    pl = generate(partners=partners, orgs=orgs)
    (where / "bench.yaml").write_text(pl.stack_yaml, encoding="utf-8")
    with sqlite_backend(where, "store") as backend, open_store(backend.url, key=backend.key) as store:
        seed(store, pl)
    facts = {"key": backend.key, "environ": pl.environ, "expected": pl.expected, "records": len(pl.live)}
    (where / "facts.json").write_text(json.dumps(facts), encoding="utf-8")


def fixture(base: Path, orgs: int, partners: int) -> Path:
    where = base / f"orgs-{orgs}-p{partners}"
    if (where / "facts.json").exists():
        log(f"reusing {where}")
        return where
    log(f"building {orgs:,} organizations in {where}")
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--build", str(where), str(orgs), "--partners", str(partners)]
    subprocess.run(cmd, check=True, env=os.environ | {"PYTHONPATH": str(ROOT / "providers")})
    log(f"  built in {time.perf_counter() - t0:.0f} s")
    return where


# ----- timing -------------------------------------------------------------------------------


class Case:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], want: int):
        self.name, self.argv, self.env, self.want = name, argv, env, want
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.rss_mb: list[float] = []

    def run(self, counted: bool = True) -> None:
        t0 = time.perf_counter()
        child = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert child.stderr is not None
        err = child.stderr.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code != self.want:
            raise SystemExit(f"{self.name}: exit {code}, expected {self.want}\n{err.decode()[-2000:]}")
        if counted:
            self.wall.append(wall)
            self.cpu.append(usage.ru_utime + usage.ru_stime)
            self.rss_mb.append(usage.ru_maxrss / 1024)


def mmm(xs: list[float], scale: float = 1.0, fmt: str = "{:.3f}") -> str:
    return " / ".join(fmt.format(x * scale) for x in (min(xs), statistics.median(xs), max(xs)))


def ratios(a: Case, b: Case, cpu: bool = False) -> list[float]:
    """A / B within each round: wall seconds, or with ``cpu`` the CPU seconds (user + sys),
    which another tenant of a busy machine disturbs less."""
    xs, ys = (a.cpu, b.cpu) if cpu else (a.wall, b.wall)
    return [x / y for x, y in zip(xs, ys, strict=True)]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2000,20000,200000", help="organizations, comma-separated")
    ap.add_argument("--partners", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5, help="counted rounds (default 5), after one warm-up")
    ap.add_argument("--dir", metavar="DIR", help="build the platforms here, or reuse those built before")
    ap.add_argument("--json", metavar="FILE", help="also write the raw figures here")
    ap.add_argument("--build", nargs=2, metavar=("DIR", "ORGS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(Path(args.build[0]), int(args.build[1]), args.partners)
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="smtp-iac-cli-speed-"))
    pyc = tempfile.mkdtemp(prefix="smtp-iac-pyc-")
    try:
        return measure(args, sizes, base, pyc)
    finally:
        shutil.rmtree(pyc, ignore_errors=True)
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


def measure(args: argparse.Namespace, sizes: list[int], base: Path, pyc: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_IAC_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pyc
    py = sys.executable
    cases = [
        Case("python -c pass", [py, "-c", "pass"], env, 0),
        Case("smtp-iac validate stacks/dev.yaml", [str(SMTP_IAC), "validate", "stacks/dev.yaml"], env, 0),
    ]
    pairs: list[tuple[int, Case, Case]] = []
    for n in sizes:
        where = fixture(base, n, args.partners)
        facts = json.loads((where / "facts.json").read_text())
        stack, db = where / "bench.yaml", where / "store.db"
        cenv = env | facts["environ"] | {"SMTP_IAC_STORE_KEY": facts["key"]}
        if n > LARGE_PLATFORM:
            cenv["SMTP_IAC_MAX_NODES"] = "8000000"  # as run.py: 200,000 orgs are ~1.1 million nodes
        floor = Case(f"floor, {n:,} orgs", [py, "-c", FLOOR, str(stack), str(db)], cenv, 0)
        plan = Case(
            f"smtp-iac plan, {n:,} orgs",
            [str(SMTP_IAC), "plan", str(stack), "--store", f"sqlite:///{db}", "--detailed-exitcode"],
            cenv,
            2,
        )
        cases += [floor, plan]
        pairs.append((n, plan, floor))
    log("warm-up (bytecode, page cache)")
    for c in cases:
        c.run(counted=False)
    for r in range(args.rounds):
        log(f"round {r + 1} of {args.rounds}")
        for c in cases:
            c.run()
    print(report(args, cases, pairs))
    if args.json:
        doc: dict[str, Any] = {c.name: {"wall": c.wall, "cpu": c.cpu, "rss_mb": c.rss_mb} for c in cases}
        Path(args.json).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return 0


def report(args: argparse.Namespace, cases: list[Case], pairs: list[tuple[int, Case, Case]]) -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    out = [
        f"{args.rounds} rounds after one warm-up, taken in turns; {sys.executable}; "
        f"{os.cpu_count()} CPUs; load average at the end {' '.join(load)}",
        "",
        "| command | wall s (min / median / max) | CPU s (median) | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for c in cases:
        out.append(f"| {c.name} | {mmm(c.wall)} | {statistics.median(c.cpu):.3f} | {statistics.median(c.rss_mb):.0f} |")
    out += [
        "",
        "| goal | wall ratio (min / median / max) | CPU ratio (median) | target | |",
        "|---|---:|---:|---:|---|",
    ]
    base, validate = cases[0], cases[1]
    v = ratios(validate, base)
    out.append(
        f"| validate stacks/dev.yaml / python -c pass | {mmm(v, fmt='{:.1f}x')} "
        f"| {statistics.median(ratios(validate, base, True)):.1f}x | <= {VALIDATE_GOAL:g}x "
        f"| {verdict(statistics.median(v) <= VALIDATE_GOAL)} |"
    )
    for n, plan, floor in pairs:
        r = ratios(plan, floor)
        out.append(
            f"| plan / floor, {n:,} orgs | {mmm(r, fmt='{:.2f}x')} "
            f"| {statistics.median(ratios(plan, floor, True)):.2f}x | <= {PLAN_GOAL:g}x "
            f"| {verdict(statistics.median(r) <= PLAN_GOAL)} |"
        )
    for (n0, plan0, floor0), (n1, plan1, floor1) in itertools.pairwise(pairs):
        growth = ratios(plan1, plan0)
        fgrowth = ratios(floor1, floor0)
        goal = GROWTH_GOAL * n1 / n0 / 10
        out.append(
            f"| plan growth {n0:,} -> {n1:,} orgs ({n1 / n0:g}x the orgs; floor: {mmm(fgrowth, fmt='{:.1f}x')}) "
            f"| {mmm(growth, fmt='{:.1f}x')} | {statistics.median(ratios(plan1, plan0, True)):.1f}x "
            f"| <= {goal:g}x | {verdict(statistics.median(growth) <= goal)} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
