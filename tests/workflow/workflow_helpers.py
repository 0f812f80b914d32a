"""Helpers for the workflow tests (plan, apply, drift, effective, import, test-email) run
through the real CLI entry point: in-process with ``smtp_iac.cli.app.run([...])`` and, for a
few, as subprocesses of the installed ``smtp-iac`` console script.

Each test gets its own working directory (chdir), its own SQLite store (``SMTP_IAC_STORE``),
the store key either from a key file beside the database or from ``SMTP_IAC_STORE_KEY``, and
its passwords in environment variables. SMTP servers are real aiosmtpd servers on loopback
(``tests/smtp_servers.py``) with a trustme CA that the stacks trust through ``verify.ca_file``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/smtp_servers.py is shared by several test dirs
    sys.path.insert(0, _TESTS)

import smtp_servers  # noqa: E402

from smtp_iac.addresses import Address  # noqa: E402
from smtp_iac.cli.app import run  # noqa: E402
from smtp_iac.store import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PLAN_SCHEMA = ROOT / "schemas" / "plan.schema.json"
CONSOLE_SCRIPT = Path(sys.executable).parent / "smtp-iac"

# Plain secrets: unique strings that the tests search for in every output and file.
PASSWORD = "wf-Plain-Secret-8c41d!never-shown"
OTHER_PASSWORD = "wf-Other-Secret-2b7e9!never-shown"  # a second valid secret (password rotation)
WRONG_PASSWORD = "wf-Wrong-Secret-5f03a!never-shown"  # what the relay refuses
SECRETS = (PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD)

USER = "mailer"
USER2 = "mailer-two"
PW_ENV = "WF_SMTP_PASSWORD"
OTHER_ENV = "WF_SMTP_OTHER"
WRONG_ENV = "WF_SMTP_WRONG"
STACK = "dev"

TENANTS = {
    "partners": {
        "acme": {
            "organizations": {
                "acme-eu": {"smtp_enabled": True},
                "acme-us": {"smtp_enabled": True},
                "acme-labs": {"smtp_enabled": False},
            }
        },
        "globex": {"organizations": {"globex-main": {"smtp_enabled": False}, "globex-eu": {"smtp_enabled": True}}},
        "initech": {"organizations": {"initech-hq": {"smtp_enabled": True}}},
    }
}


class _NoAliases(yaml.SafeDumper):
    """Stack files refuse anchors/aliases: write a shared dict out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Workspace:
    """One test's world: working directory, store, env, and every output seen (for secret searches)."""

    dir: Path
    db: Path
    url: str
    key_mode: str  # "keyfile" | "env"
    capsys: Any
    outputs: list[str] = field(default_factory=list)
    via: str | None = None  # the settings service's URL when commands go through it

    @property
    def store_shown(self) -> str:
        """The store URL that commands name in their output."""
        return self.via or self.url

    def actor(self, name: str) -> str:
        """The audit actor of the commands' writes: ``SMTP_IAC_ACTOR``, or through the service
        the token's name and role (the workspace's token is named after the pipeline)."""
        return f"{name} (sysadmin)" if self.via else name

    # ----- running the CLI ----------------------------------------------------------------

    def run(self, *args: str, stdin: str | None = None) -> Result:
        """The real CLI entry point, in-process (stdin: a non-terminal stream when given)."""
        self.capsys.readouterr()
        if stdin is not None:
            import io

            saved = sys.stdin
            sys.stdin = io.StringIO(stdin)
            try:
                rc = run(list(args))
            finally:
                sys.stdin = saved
        else:
            rc = run(list(args))
        cap = self.capsys.readouterr()
        self.outputs += [cap.out, cap.err]
        return Result(rc, cap.out, cap.err)

    def sub(self, *args: str, stdin: str = "") -> Result:
        """The installed console script as a subprocess; stdin a pipe (not a terminal)."""
        env = dict(os.environ)
        env.pop("SMTP_IAC_DEBUG", None)
        p = subprocess.run(
            [str(CONSOLE_SCRIPT), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.dir,
            env=env,
            timeout=120,
        )
        self.outputs += [p.stdout, p.stderr]
        return Result(p.returncode, p.stdout, p.stderr)

    def on_terminal(self, answer: str, *args: str) -> Result:
        """The installed console script with a terminal (a pty) as stdin, ``answer`` typed in
        advance: what a person at a prompt sees and does."""
        import pty

        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            p = subprocess.run(
                [str(CONSOLE_SCRIPT), *args], stdin=slave, capture_output=True, text=True, cwd=self.dir, timeout=60
            )
        finally:
            os.close(slave)
            os.close(master)
        self.outputs += [p.stdout, p.stderr]
        return Result(p.returncode, p.stdout, p.stderr)

    # ----- files --------------------------------------------------------------------------

    def write_stack(self, doc: dict, name: str = "dev.yaml") -> str:
        path = self.dir / "stacks" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(
            "# yaml-language-server: $schema=../schemas/stack.schema.json\n"
            + yaml.dump(doc, Dumper=_NoAliases, sort_keys=False),
            encoding="utf-8",
        )
        return f"stacks/{name}"

    def write_tenants(self, doc: dict = TENANTS, name: str = "tenants.yaml") -> str:
        (self.dir / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return name

    # ----- the store, directly (out-of-band changes and proofs) ---------------------------

    def open(self):
        return open_store(self.url)

    def load_tenants(self, doc: dict = TENANTS) -> None:
        with self.open() as s:
            s.load_tenants(doc, actor="test")

    def state(self) -> tuple[list[dict], list[dict]]:
        """Every record (fields, fingerprint, version, owner) and every audit entry."""
        with self.open() as s:
            records = [r.model_dump() for r in s.list_records()]
            audit = [e.to_dict() for e in s.audit_log()]
        return records, audit

    def record(self, address: str):
        with self.open() as s:
            return s.get(Address.parse(address))

    def fingerprint(self, password: str, shown_at: str | None = None) -> str:
        """The store's fingerprint of ``password``; with ``shown_at`` (an address), as commands
        show it there: through the service, bound to that scope (``service.fingerprints``)."""
        from smtp_iac.service.fingerprints import KEY_PURPOSE, ScopeFingerprints

        with self.open() as s:
            fp = s.fingerprint(Address.parse(shown_at or "controller"), password)
            if shown_at is None or not self.via:
                return fp
            shown = ScopeFingerprints(s.derived_key(KEY_PURPOSE)).shown(shown_at, fp)
            assert shown is not None and shown != fp
            return shown

    def store_files(self) -> list[Path]:
        return sorted(p for p in self.db.parent.iterdir() if p.is_file())


# ----- stack documents --------------------------------------------------------------------


def settings(port: int, *, user: str = USER, env: str = PW_ENV, host: str = "127.0.0.1", **extra) -> dict:
    d = {"host": host, "port": port, "tls": True, "username": user, "password": {"env": env}}
    d.update(extra)
    return d


def verify_opts(ca_file: Path, mode: str = "login") -> dict:
    d: dict = {"mode": mode, "timeout_seconds": 3, "ca_file": str(ca_file)}
    if mode == "send":
        d["to"] = smtp_servers.TEST_TO
    return d


def stack_doc(
    ca_file: Path | None,
    *,
    controller: Any = None,
    partners: dict | None = None,
    mode: str = "login",
    name: str = STACK,
) -> dict:
    doc: dict = {"version": 1, "name": name}
    if ca_file is not None:
        doc["verify"] = verify_opts(ca_file, mode)
    else:
        doc["verify"] = {"mode": "off"}
    if controller is not None:
        doc["controller"] = {"smtp": controller}
    if partners:
        doc["partners"] = partners
    return doc


def partner(smtp: Any = None, **orgs: Any) -> dict:
    d: dict = {}
    if smtp is not None:
        d["smtp"] = smtp
    if orgs:
        d["organizations"] = {o.replace("_", "-"): {"smtp": s} for o, s in orgs.items()}
    return d


def schema_validator():
    import jsonschema

    return jsonschema.Draft202012Validator(
        json.loads(PLAN_SCHEMA.read_text(encoding="utf-8")), format_checker=jsonschema.FormatChecker()
    )
