"""Hostile relays (hostile input): how long a verify check runs and how much memory it takes against
relays that never stop talking or talk too slowly, each check in its own subprocess.

    .venv/bin/python benchmarks/hostile_relay.py                 # timeout_seconds 4, every case
    .venv/bin/python benchmarks/hostile_relay.py --timeout 2
    PYTHONPATH=/elsewhere/providers .venv/bin/python benchmarks/hostile_relay.py   # another checkout's code

The relays are real sockets on loopback (``tests/verify/hostile_relays.py``: ``endless_greeting``,
``endless_line``, ``huge_ehlo``, ``dialogue`` with a delay or a drip); the check is
``smtp_iac.verify.run_check`` in ``send`` mode, plain SMTP with AUTH, run in a fresh
interpreter so that its peak resident set is its own: the child resets the kernel's high-water
mark (``/proc/self/clear_refs``) after its imports, runs the check, and reports ``VmHWM`` less the
resident set it started from. Nothing here is a test: it prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "verify")]

PASSWORD = "bench-Secret-0a1b2c3d4e5f"


@dataclass(frozen=True)
class Case:
    name: str
    relay: Callable[[], AbstractContextManager[Any]]


def cases() -> list[Case]:
    from hostile_relays import TERSE_REPLIES, dialogue, endless_greeting, endless_line, huge_ehlo, scripted_server

    return [
        Case("valid relay (control)", lambda: scripted_server(dialogue())),
        Case("endless multi-line greeting", lambda: scripted_server(endless_greeting)),
        Case("one greeting line, no CRLF ever", lambda: scripted_server(endless_line)),
        Case("EHLO reply of 10,000 lines", lambda: scripted_server(huge_ehlo(10_000))),
        Case("drip: terse replies, 1 byte / 0.3 s", lambda: scripted_server(dialogue(TERSE_REPLIES), drip=0.3)),
        Case("slow stages: every reply 0.9 s late", lambda: scripted_server(dialogue(), delay=0.9)),
    ]


# ----- the child: one check, its time and its peak memory ------------------------------------


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(port: int, timeout: int) -> None:
    from pydantic import SecretStr

    from smtp_iac.addresses import Address
    from smtp_iac.models import ResolvedSettings, VerifyOptions
    from smtp_iac.verify import run_check

    settings = ResolvedSettings(
        host="127.0.0.1",
        port=port,
        tls=False,
        username="bench-user",
        password=SecretStr(PASSWORD),
        sender="bench@example.com",
    )
    options = VerifyOptions.model_validate({"mode": "send", "to": "ops@example.com", "timeout_seconds": timeout})
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
        reset = True
    except OSError:
        reset = False
    rss_before = _status("VmRSS")
    started = time.monotonic()
    result = run_check(settings, options, address=Address.parse("controller"))
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "ok": result.ok,
                "failure": result.failure,
                "stage": result.stage,
                "detail": result.detail,
                "elapsed": elapsed,
                "growth_kib": _status("VmHWM") - rss_before,
                "hwm_reset": reset,
            }
        )
    )


# ----- the parent: relays here, checks in subprocesses, one table -------------------------------


def measure(case: Case, timeout: int) -> dict[str, Any]:
    with case.relay() as srv:
        p = subprocess.run(
            [sys.executable, __file__, "--child", str(srv.port), "--timeout", str(timeout)],
            capture_output=True,
            text=True,
            timeout=timeout * 10 + 60,
        )
    if p.returncode != 0:
        raise RuntimeError(f"{case.name}: the check's process failed:\n{p.stderr}")
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    if PASSWORD in p.stdout + p.stderr:
        raise RuntimeError(f"{case.name}: the password appeared in the check's output")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=int, default=4, help="verify.timeout_seconds of every check (4)")
    ap.add_argument("--child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.timeout)
        return 0
    rows = []
    for case in cases():
        r = measure(case, args.timeout)
        outcome = "ok" if r["ok"] else f"{r['failure']} at {r['stage']}"
        rows.append((case.name, outcome, f"{r['elapsed']:.3f}", f"{r['growth_kib'] / 1024:.1f}", r["detail"]))
        if not r["hwm_reset"]:
            print("note: /proc/self/clear_refs not writable; growth includes the imports' peak", file=sys.stderr)
    head = ("relay", "result", "check s", "peak RSS +MiB")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print(f"timeout_seconds = {args.timeout:g}; send mode, plain SMTP + AUTH PLAIN; one subprocess per check")
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)))
    print()
    for name, _outcome, _t, _m, detail in rows:
        print(f"{name}:\n    {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
