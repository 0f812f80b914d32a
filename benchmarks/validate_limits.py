"""Hostile stack files at the size limit (hostile input): ``smtp-iac validate`` must do bounded work
for ANY file up to ``yamlsource.MAX_BYTES`` (16 MiB): at most 5 s and 1 GB peak RSS on a
2-core machine. validate runs in pre-commit and on every pull request, so a pull request must
not be able to make it slow.

    .venv/bin/python benchmarks/validate_limits.py                 # every case
    .venv/bin/python benchmarks/validate_limits.py --only flow-list --only bad-ports
    .venv/bin/python benchmarks/validate_limits.py --keep /tmp/hostile   # keep the files
    .venv/bin/python benchmarks/validate_limits.py --repeat 3        # slowest of 3 runs each

Each case writes one file, deterministically, at run time (none is in the repository): most fill
16 MiB (and so stop at the node budget, ``yamlsource.MAX_NODES``); the ``*-at-budget`` cases stop
just under it, which is the most work validation itself can be made to do. It runs the real
console script ``smtp-iac validate FILE`` on it in a subprocess (``--format`` text; a few cases
json and github too) and prints wall time, peak RSS of that subprocess (``os.wait4``'s rusage:
the per-child ``ru_maxrss``), exit code, output size and the last line of output (the summary,
or the JSON's last line, or the error budget's annotation). Nothing here is a test: it reports,
and marks a row ``OVER`` when it breaks the target.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from platform_gen import generate, stack_yaml  # noqa: E402

from smtp_iac.addresses import CONTROLLER, Address  # noqa: E402
from smtp_iac.reading import yamlsource  # noqa: E402

MAX_BYTES = yamlsource.MAX_BYTES
MAX_NODES = getattr(yamlsource, "MAX_NODES", 1_000_000)  # (the node budget; a release before it has none)

SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
TARGET_SECONDS = 5.0
TARGET_RSS_MB = 1024
HEAD = "version: 1\nname: hostile\n"
SETTINGS = "host: smtp.example.com, port: 587, tls: true, username: u, password: {env: SMTP_PASSWORD}"


def _fill(
    head: str, unit: Callable[[int], str], tail: str = "", limit: int = MAX_BYTES, units: int | None = None
) -> Iterator[str]:
    """``head``, then ``unit(i)`` for i = 0, 1, ... while it fits (and ``i < units``), then
    ``tail``: at most ``limit`` bytes."""
    size = len(head.encode()) + len(tail.encode())
    yield head
    i = 0
    chunk: list[str] = []
    while units is None or i < units:
        u = unit(i)
        n = len(u.encode())
        if size + n > limit:
            break
        size += n
        chunk.append(u)
        if len(chunk) == 10_000:
            yield "".join(chunk)
            chunk = []
        i += 1
    yield "".join(chunk)
    yield tail


def flow_list() -> Iterator[str]:
    """One flow list of 8 million one-character scalars: the most nodes per byte."""
    yield from _fill(HEAD + "controller: [", lambda i: "1,", "1]\n")


def block_list() -> Iterator[str]:
    """A block list of 4 million items."""
    yield from _fill(HEAD + "controller:\n", lambda i: "- 1\n")


def flow_mappings() -> Iterator[str]:
    """A flow list of small flow mappings (the model and the schema both see a list)."""
    yield from _fill(HEAD + "controller: [", lambda i: "{a: 1},", "{}]\n")


def under_budget(unit_nodes: int) -> int:
    """Units of ``unit_nodes`` YAML nodes that fit under ``MAX_NODES`` with the head."""
    return (MAX_NODES - 32) // unit_nodes


def _orgs(settings: Callable[[int], str], units: int | None) -> Iterator[str]:
    """Organizations of one partner, one a line: ``o<i>: {smtp: {<settings(i)>}}``."""
    head = HEAD + "partners:\n  acme:\n    organizations:\n"
    yield from _fill(head, lambda i: f"      o{i:06d}: {{smtp: {{{settings(i)}}}}}\n", units=units)


def bad_ports(units: int | None = None) -> Iterator[str]:
    """100,000+ organizations whose port is 70000: that many errors in as many scopes."""
    yield from _orgs(lambda i: SETTINGS.replace("587", "70000"), units)


def tls_false(units: int | None = None) -> Iterator[str]:
    """Organizations with ``tls: false``: a warning each."""
    yield from _orgs(lambda i: SETTINGS.replace("tls: true", "tls: false"), units)


def idn_hosts(units: int | None = None) -> Iterator[str]:
    """Valid organizations, each with its own internationalized host (an IDNA 2008 check each)."""
    yield from _orgs(lambda i: SETTINGS.replace("smtp.example", f"smtp.bücher{i}.example"), units)


def bad_ports_block() -> Iterator[str]:
    """The same errors in block style, as ``smtp-iac import`` would write the scopes."""
    unit = (
        "      o{:06d}:\n        smtp:\n          host: smtp.example.com\n          port: 70000\n"
        "          tls: true\n          username: u\n          password: {{env: SMTP_PASSWORD}}\n"
    )
    yield from _fill(HEAD + "partners:\n  acme:\n    organizations:\n", lambda i: unit.format(i))


def bad_ids(units: int | None = None) -> Iterator[str]:
    """A million partners whose id is not DNS-label-like (an error at every key)."""
    yield from _fill(HEAD + "partners:\n", lambda i: f"  P_{i}: {{}}\n", units=units)


def unknown_keys_one_mapping() -> Iterator[str]:
    """One settings mapping with a million unknown keys (did-you-mean for each)."""
    yield from _fill(HEAD + "controller:\n  smtp:\n", lambda i: f"    hots{i}: 1\n")


def unknown_keys_many_scopes(units: int | None = None) -> Iterator[str]:
    """An unknown key in each of 150,000 organizations."""
    yield from _fill(
        HEAD + "partners:\n  acme:\n    organizations:\n",
        lambda i: f"      o{i}: {{smtp: inherit, hots: 1}}\n",
        units=units,
    )


def missing_fields(units: int | None = None) -> Iterator[str]:
    """Organizations with ``smtp: {}``: six model errors per four nodes."""
    yield from _fill(
        HEAD + "partners:\n  acme:\n    organizations:\n", lambda i: f"      o{i}: {{smtp: {{}}}}\n", units=units
    )


def duplicate_keys(units: int | None = None) -> Iterator[str]:
    """A million duplicate keys in one mapping."""
    yield from _fill(HEAD + "controller:\n  smtp: inherit\n", lambda i: "  smtp: inherit\n", units=units)


def long_host() -> Iterator[str]:
    """One 16 MiB host of colons and a bad character (backtracking bait for the host pattern)."""
    yield from _fill(HEAD + "controller:\n  smtp:\n    host: '", lambda i: ":" * 4096, "!'\n    port: 587\n")


def long_strings() -> Iterator[str]:
    """Partner ids, hosts, usernames and senders of 256 KiB each (a key over 1,024 characters
    must be written ``? key``), in 16 partners."""
    n = 256 * 1024
    yield from _fill(
        HEAD + "partners:\n",
        lambda i: (
            f"  ? {'p' * n}{i}\n  :\n    smtp:\n      host: {'h' * n}\n      port: 587\n"
            f"      tls: true\n      username: {'u' * n}\n      password: {{env: A}}\n"
            f"      sender: {'s' * n}@x\n"
        ),
    )


def long_key() -> Iterator[str]:
    """One unknown key of 16 MiB (message and path must not carry it whole)."""
    yield from _fill(HEAD + "controller:\n  smtp:\n    ? ", lambda i: "k" * 4096, "\n    : 1\n")


def long_key_many_errors() -> Iterator[str]:
    """A 4 MiB partner id with 40,000 bad organizations under it: every path carries the id."""
    head = HEAD + "partners:\n  ? " + "P" * (4 * 1024 * 1024) + "\n  :\n    organizations:\n"
    yield from _fill(head, lambda i: f"      o{i}: {{smtp: {{{SETTINGS.replace('587', '0')}}}}}\n")


def long_number() -> Iterator[str]:
    """A port of 16 MiB of hex digits (an int of 67 million bits) and a 1 MiB decimal float."""
    yield from _fill(
        HEAD + "controller:\n  smtp:\n    tls: true\n    timeout: 1." + "1" * 1024 * 1024 + "\n    port: 0x",
        lambda i: "f" * 4096,
        "\n",
    )


def deep_late() -> Iterator[str]:
    """900,000 nodes, then flow nesting over libyaml's own limit (1,000 levels)."""
    yield HEAD + "list: [" + "1," * 899_990 + "1]\ncontroller: " + "[" * 5000 + "]" * 5000 + "\n"


def anchors() -> Iterator[str]:
    """A million anchors and aliases (refused at the first one)."""
    yield from _fill(HEAD + "controller:\n", lambda i: f"- &a{i} x\n- *a{i}\n")


def deep_allowed() -> Iterator[str]:
    """Nesting at the limit (63 lists under controller), repeated to fill the file."""
    yield from _fill(HEAD + "controller:\n", lambda i: "- " + "[" * 62 + "1" + "]" * 62 + "\n")


def tags(units: int | None = None) -> Iterator[str]:
    """A million unsupported tags (each an error where it is read)."""
    yield from _fill(HEAD + "controller:\n", lambda i: "- !!python/none x\n", units=units)


def invisible(units: int | None = None) -> Iterator[str]:
    """120,000 organizations whose host hides a ZERO WIDTH SPACE."""
    yield from _orgs(lambda i: SETTINGS.replace("smtp.example", "smtp.exa\u200bmple"), units)


def comments() -> Iterator[str]:
    """A valid stack and 16 MiB of comments."""
    yield from _fill(HEAD + "controller:\n  smtp: inherit\n", lambda i: f"# comment {i:09d} " + "x" * 100 + "\n")


def long_comment_line() -> Iterator[str]:
    """A valid stack and a single 16 MiB comment line."""
    yield from _fill(HEAD + "controller:\n  smtp: inherit\n# ", lambda i: "x" * 4096, "\n")


def platform_20k() -> Iterator[str]:
    """The benchmark's real platform: 200 partners, 20,000 organizations (valid, ~1.1 MB)."""
    yield generate().stack_yaml


def platform_at_budget() -> Iterator[str]:
    """A platform of the benchmark's shape just under the node budget (5.7 nodes an organization)."""
    orgs = int(MAX_NODES / 5.7) // 100 * 100
    yield generate(partners=orgs // 100, orgs=orgs).stack_yaml


def platform_all_settings() -> Iterator[str]:
    """20,000 organizations that ALL have their own settings (and every partner too): the most
    nodes 20,000 organizations can take (364,000)."""
    pids = [f"p{i:03d}" for i in range(200)]

    def settings(username: str) -> dict[str, object]:
        return {
            "host": "smtp.relay.example.net",
            "port": 587,
            "tls": True,
            "username": username,
            "password": {"env": "SMTP_PASSWORD"},
            "sender": "no-reply@example.org",
        }

    desired: dict[Address, dict[str, object] | str] = {CONTROLLER: settings("platform")}
    for i, p in enumerate(pids):
        desired[Address(p)] = settings(f"partner-{p}")
        for j in range(100):
            desired[Address(p, f"o{i * 100 + j:05d}")] = settings(f"org-{i * 100 + j}")
    yield stack_yaml(desired, partners=pids)


def platform_max() -> Iterator[str]:
    """A realistic platform grown to the size limit: 2,000 partners, ~280,000 organizations."""
    text = generate(partners=2_000, orgs=290_000).stack_yaml
    cut = len(text.encode()) > MAX_BYTES
    if cut:  # keep whole organizations: cut at the last one that fits
        text = text.encode()[:MAX_BYTES].decode(errors="ignore")
        text = text[: text.rindex("\n      o")] + "\n"
    yield text


CASES: dict[str, Callable[[], Iterator[str]]] = {
    "flow-list": flow_list,
    "block-list": block_list,
    "flow-mappings": flow_mappings,
    "bad-ports": bad_ports,
    "bad-ports-block": bad_ports_block,
    "bad-ids": bad_ids,
    "unknown-keys-1-map": unknown_keys_one_mapping,
    "unknown-keys-scopes": unknown_keys_many_scopes,
    "duplicate-keys": duplicate_keys,
    "long-host-colons": long_host,
    "long-strings": long_strings,
    "long-key": long_key,
    "long-key-many-errors": long_key_many_errors,
    "long-number": long_number,
    "deep-late": deep_late,
    "anchors-aliases": anchors,
    "deep-allowed": deep_allowed,
    "tags": tags,
    "invisible-hosts": invisible,
    "comments": comments,
    "long-comment-line": long_comment_line,
    "platform-20k": platform_20k,
    "platform-max": platform_max,
    "platform-all-settings": platform_all_settings,
    "platform-at-budget": platform_at_budget,
    # just under the node budget: the most work that validation itself can be made to do
    "bad-ports-at-budget": lambda: bad_ports(under_budget(16)),
    "missing-fields-at-budget": lambda: missing_fields(under_budget(4)),
    "unknown-keys-at-budget": lambda: unknown_keys_many_scopes(under_budget(6)),
    "bad-ids-at-budget": lambda: bad_ids(under_budget(2)),
    "duplicate-keys-at-budget": lambda: duplicate_keys(under_budget(2)),
    "tags-at-budget": lambda: tags(under_budget(1)),
    "invisible-at-budget": lambda: invisible(under_budget(16)),
    "tls-false-at-budget": lambda: tls_false(under_budget(16)),
    "idn-hosts-at-budget": lambda: idn_hosts(under_budget(16)),
}
OTHER_FORMATS = {
    "bad-ports-at-budget": ("json", "github"),
    "bad-ids-at-budget": ("json", "github"),
    "invisible-at-budget": ("json", "github"),
    "tls-false-at-budget": ("json", "github"),
}


def run_validate(path: Path, fmt: str, out: Path, timeout: float) -> tuple[float, float, int, int, str]:
    """Wall seconds, peak RSS in MB (this child only), exit code, output bytes, last line."""
    with out.open("wb") as sink:
        t0 = time.perf_counter()
        proc = os.posix_spawn(
            str(SMTP_IAC),
            [str(SMTP_IAC), "validate", "--format", fmt, str(path)],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, sink.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, sink.fileno(), 2),
            ],
        )
        killed = False
        while True:
            pid, status, usage = os.wait4(proc, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - t0 > timeout:
                os.kill(proc, signal.SIGKILL)
                killed = True
            time.sleep(0.01)
        wall = time.perf_counter() - t0
    size = out.stat().st_size
    with out.open("rb") as f:
        f.seek(max(0, size - 400))
        tail = f.read().decode("utf-8", "replace").rstrip("\n").rsplit("\n", 1)[-1]
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), size, tail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=sorted(CASES), help="run only this case (repeatable)")
    ap.add_argument("--keep", type=Path, help="write the files here and keep them")
    ap.add_argument("--timeout", type=float, default=300, help="kill a run after this many seconds")
    ap.add_argument("--no-formats", action="store_true", help="text format only")
    ap.add_argument("--nodes", type=int, help="size the *-at-budget cases for this node budget (default: MAX_NODES)")
    ap.add_argument("--repeat", type=int, default=1, help="run each N times and show the slowest (default 1)")
    args = ap.parse_args()
    global MAX_NODES
    MAX_NODES = args.nodes or MAX_NODES
    names = args.only or list(CASES)
    tmp = Path(tempfile.mkdtemp(prefix="validate-limits-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    print(
        f"smtp-iac validate on hostile files up to {MAX_BYTES:,} bytes and {MAX_NODES:,} YAML nodes; target "
        f"{TARGET_SECONDS:g} s, {TARGET_RSS_MB} MB peak RSS; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"slowest of {args.repeat} run(s)"
    )
    print()
    print("| case | format | bytes | s | peak RSS MB | exit | output bytes | last line |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    worst_s, worst_mb = 0.0, 0.0
    for name in names:
        path = tmp / f"{name}.yaml"
        with path.open("w", encoding="utf-8") as f:
            for part in CASES[name]():
                f.write(part)
        for fmt in ("text", *(() if args.no_formats else OTHER_FORMATS.get(name, ()))):
            runs = [run_validate(path, fmt, tmp / f"{name}.{fmt}.out", args.timeout) for _ in range(args.repeat)]
            wall, mb, rc, size, tail = max(runs)
            worst_s, worst_mb = max(worst_s, wall), max(worst_mb, mb)
            over = " OVER" if wall > TARGET_SECONDS or mb > TARGET_RSS_MB else ""
            shown = (tail[:90] + "...") if len(tail) > 90 else tail
            shown = shown.replace("|", "\\|")
            row = [f"{name}{over}", fmt, f"{path.stat().st_size:,}", f"{wall:.2f}", f"{mb:.0f}", str(rc), f"{size:,}"]
            print("| " + " | ".join([*row, shown]) + " |", flush=True)
        if args.keep is None:
            path.unlink()
    print()
    print(f"worst: {worst_s:.2f} s, {worst_mb:.0f} MB")
    if args.keep is None:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
