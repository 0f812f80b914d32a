"""A separate process that writes to a store, for the race and crash tests (run by path).

store_worker.py race URL DIR TAG ROUNDS
    Opens the store, writes DIR/ready-TAG, then for each round r waits for DIR/go-r and
    puts partners/acme with expected_version None (r = 0) or r, password "pw-TAG-r";
    writes the outcome to DIR/res-r-TAG as JSON ({"ok": version} or {"conflict": [expected, actual]}).

store_worker.py bulk URL N ORGS
    Rewrites ORGS organizations of partner "bulk" N times each, every record's fields
    derived from one generation number g (host h<g>..., username u<g>, port 1000+g,
    password pw-<g>), printing "done <count>" after each put. The parent kills it with
    SIGKILL part-way.
"""

from __future__ import annotations

import json
import os
import sys
import time

from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.errors import ConflictError
from smtp_iac.models import ResolvedSettings
from smtp_iac.store import open_store


def _wait_for(path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.0005)


def gen_settings(g: int) -> ResolvedSettings:
    return ResolvedSettings(
        host=f"h{g}.example.com", port=1000 + g, tls=True, username=f"u{g}", password=SecretStr(f"pw-{g}")
    )


def race(url: str, directory: str, tag: str, rounds: int) -> None:
    address = Address("acme")
    with open_store(url) as store:
        open(os.path.join(directory, f"ready-{tag}"), "w").close()
        for r in range(rounds):
            _wait_for(os.path.join(directory, f"go-{r}"))
            s = ResolvedSettings(
                host=f"{tag}-{r}.example.com", port=587, tls=True, username=tag, password=SecretStr(f"pw-{tag}-{r}")
            )
            try:
                rec = store.put(address, s, expected_version=None if r == 0 else r, stack="race", actor=tag).record
                out = {"ok": rec.version}
            except ConflictError as e:
                out = {"conflict": [e.expected, e.actual]}
            tmp = os.path.join(directory, f".res-{r}-{tag}")
            with open(tmp, "w") as f:
                json.dump(out, f)
            os.rename(tmp, os.path.join(directory, f"res-{r}-{tag}"))


def bulk(url: str, n: int, orgs: int) -> None:
    with open_store(url) as store:
        done = 0
        for g in range(n):
            for o in range(orgs):
                address = Address("bulk", f"o{o}")
                store.put(address, gen_settings(g), expected_version=None if g == 0 else g, stack="bulk")
                done += 1
                print(f"done {done}", flush=True)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "race":
        race(args[0], args[1], args[2], int(args[3]))
    elif cmd == "bulk":
        bulk(args[0], int(args[1]), int(args[2]))
    else:
        raise SystemExit(f"unknown command {cmd}")
