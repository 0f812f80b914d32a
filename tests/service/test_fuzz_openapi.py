"""The published OpenAPI document against the real service: schemathesis' own command line
(``st run``, every check, every phase, stateful included) on uvicorn on loopback, SQLite and a
real relay: every operation with a sysadmin token, and the mailer's own operation (messages;
403 for any other token) again with a mailer token. The document must say exactly what the
server does: 0 failures, with only the statuses ``schemathesis.toml`` (at the repository root,
each with its reason) allows for rules a schema cannot state. And no answer echoes a password
(a seeded one, or one the request carried) or a token.

Deterministic and bounded: a fixed ``--seed`` (``SMTP_IAC_FUZZ_SEED`` to try another), one
worker, ``-n`` examples per operation (``SMTP_IAC_FUZZ_EXAMPLES``; 25 in the full run that CI
makes, 5 in the default run), no example database; about 17 s and 4 s at 25 on an idle
machine. Not ``--max-time``: schemathesis 4 takes it as a budget to spend, repeating fuzzing
and stateful runs until it is gone, so a run would last that long and test more on a faster
machine; ``DEADLINE`` bounds the run instead (past it, the test fails).

Nothing leaves loopback: the service denies every relay but loopback (``deny_relay``, verify
timeout 1 s), and name resolution in this process (the service's threads) answers only IP
literals, and on loopback only the test relay's port, so a generated host costs no DNS query
and no check waits on a loopback port that does not speak SMTP.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from run_mode import FULL
from service_support import HQ, Svc, relay_settings, running
from smtp_servers import TEST_PASSWORD, SmtpServer, write_ca_file

from smtp_iac.service.config import parse_networks

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "schemathesis.toml"
ST = Path(sys.executable).with_name("st")
"""schemathesis' command line, installed beside the interpreter (the test extra)."""

SEED = int(os.environ.get("SMTP_IAC_FUZZ_SEED", "1"))
EXAMPLES = int(os.environ.get("SMTP_IAC_FUZZ_EXAMPLES", "25" if FULL else "5"))
DEADLINE = 200
"""Seconds one ``st run`` may take (about 17 at -n 25 alone, 40 to 85 beside the rest of a
parallel run on 2 cores); past them the test fails."""

FUZZ_PASSWORD = "Fuzz-ed1t!unique-password-never-echoed"

ONLY_LOOPBACK = parse_networks(
    [
        *(str(n) for n in ipaddress.ip_network("0.0.0.0/0").address_exclude(ipaddress.ip_network("127.0.0.0/8"))),
        *(str(n) for n in ipaddress.ip_network("::/0").address_exclude(ipaddress.ip_network("::1/128"))),
    ]
)
"""``serve --deny-relay`` for every address but loopback."""


@pytest.fixture
def fuzzed(tmp_path, key, ca, monkeypatch) -> Iterator[tuple[Svc, SmtpServer]]:
    relay = SmtpServer(tls="starttls", ca=ca, users={"relay-user": TEST_PASSWORD, "fuzz": FUZZ_PASSWORD}).start()
    ca_path = write_ca_file(ca, tmp_path)
    try:
        with running(
            f"sqlite:///{tmp_path}/store.db", relay, ca_path, deny_relay=ONLY_LOOPBACK, verify_timeout_seconds=1
        ) as svc:
            svc.store.put(
                HQ, relay_settings(relay, FUZZ_PASSWORD, username="fuzz"), expected_version=None, stack=None, actor="t"
            )
            monkeypatch.setattr(socket, "getaddrinfo", _loopback_resolver(socket.getaddrinfo, relay.port))
            yield svc, relay
    finally:
        relay.stop()


def _loopback_resolver(real: Any, relay_port: int) -> Any:
    """``getaddrinfo`` that resolves IP literals only (no DNS query leaves the machine), and a
    loopback (or unspecified) one only with the test relay's port."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host or "")
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "the fuzz test resolves no names") from None
        v4 = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if (v4.is_loopback or v4.is_unspecified) and str(port) != str(relay_port):
            raise socket.gaierror(socket.EAI_NONAME, "on loopback the fuzz test reaches its relay only")
        return real(host, port, *args, **kw)

    return getaddrinfo


MAILER_OPERATION = "POST /v1/organizations/{org}/messages"
"""The mailer's alone: every other token is refused (403), so it is run again with a mailer's."""


@pytest.mark.parametrize(
    ("token", "only", "phases"),
    [
        ("sysadmin", None, "examples,coverage,fuzzing,stateful"),
        ("mailer", MAILER_OPERATION, "examples,coverage,fuzzing"),  # no link leads to or from it
    ],
    ids=["every-operation-as-sysadmin", "messages-as-mailer"],
)
def test_schemathesis_finds_nothing(fuzzed, tmp_path, token: str, only: str | None, phases: str) -> None:
    svc, _relay = fuzzed
    har = tmp_path / "run.har"
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{svc.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {svc.tokens[token]}",
        "--checks",
        "all",
        "--phases",
        phases,
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        *(("--include-name", only) if only else ()),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMATHESIS_", "HYPOTHESIS_"))}
    started = time.monotonic()
    try:
        run = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE, check=False
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"st run (seed {SEED}) did not end within {DEADLINE} s:\n{e.stdout!s}")
    output = run.stdout + run.stderr
    print(output, f"\n(st run took {time.monotonic() - started:.1f} s)")  # shown with -rP, and on failure
    assert run.returncode == 0, f"schemathesis (seed {SEED}) reported failures:\n{output}"
    sent = _no_secret_echoed(har, svc)
    assert sent or only, "no request carried a password: the check that none is echoed checked nothing"


def _no_secret_echoed(har: Path, svc: Svc) -> int:
    """No answer holds a password (the seeded ones, or one the request carried) or a token;
    the number of requests that carried a password."""
    secrets = {FUZZ_PASSWORD, TEST_PASSWORD, *svc.tokens.values()}
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    assert entries, "schemathesis recorded no requests"
    carried = 0
    for entry in entries:
        answer = entry["response"]["content"].get("text") or ""
        answer += "".join(h["value"] for h in entry["response"]["headers"])
        sent = {p for p in _passwords(entry["request"].get("postData")) if len(p) >= 8}  # "0" is in any answer
        carried += bool(sent)
        for secret in secrets | sent:
            assert secret not in answer, f"{entry['request']['method']} {entry['request']['url']} echoed a secret"
    return carried


def _passwords(post: dict[str, Any] | None) -> Iterator[str]:
    """Every ``password`` and ``secret`` (fingerprint candidates) of a request's JSON body."""
    try:
        body = json.loads((post or {}).get("text") or "null")
    except ValueError:
        return
    found = [body]
    while found:
        value = found.pop()
        if isinstance(value, dict):
            yield from (v for k, v in value.items() if k in ("password", "secret") and isinstance(v, str))
            found.extend(value.values())
        elif isinstance(value, list):
            found.extend(value)
