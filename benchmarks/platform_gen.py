"""A generated platform for the benchmark: tenants, the live records to seed a store with, and
a stack file that manages every scope and differs from the live store in a known 5% of them.

Deterministic for a given seed. Shape (defaults): 1 controller, 200 partners, 20,000
organizations (100 per partner); 10% of organizations have an override (and SMTP switched on),
another 5% have SMTP switched on without an override; every partner has a record; every record
points at one of 5 relays. The stack manages ALL scopes (settings where the live store has a
record, ``inherit`` elsewhere), then 5% of the scopes are made to differ:

- field changes (port, host, username or sender) on 40% of them,
- password changes on 30% (the live record was seeded with an older secret),
- inherit-vs-override flips on 30%: half an override the stack now says ``inherit`` for
  (plan: delete), half an ``inherit`` org the stack now gives settings (plan: create).

``expected`` counts what a correct plan must report, so the benchmark can check it measured
a plan that did the work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from smtp_iac.addresses import CONTROLLER, Address

RELAYS = 5
STACK_NAME = "bench"


def relay_host(k: int) -> str:
    return f"smtp{k}.relay.example.net"


def env_name(k: int | str) -> str:
    return f"BENCH_SMTP_PW_{k}"


@dataclass
class Platform:
    tenants: dict[str, Any]  # a tenants document (``store.load_tenants``)
    live: dict[Address, dict[str, Any]]  # address -> settings with the PLAIN password (for seeding only)
    stack_yaml: str
    environ: dict[str, str]  # the env vars the stack's password references read
    expected: dict[str, int] = field(default_factory=dict)  # create/update/delete/no-op/differing
    organizations: int = 0
    partners: int = 0

    @property
    def scopes(self) -> int:
        return 1 + self.partners + self.organizations


def _settings(rng: random.Random, relay: int, username: str, env: str, sender: str | None) -> dict[str, Any]:
    s: dict[str, Any] = {
        "host": relay_host(relay),
        "port": 587,
        "tls": True,
        "username": username,
        "password": {"env": env},
    }
    if sender:
        s["sender"] = sender
    return s


def generate(
    *,
    partners: int = 200,
    orgs: int = 20_000,
    override_share: float = 0.10,
    extra_enabled_share: float = 0.05,
    differ_share: float = 0.05,
    seed: int = 6,
) -> Platform:
    rng = random.Random(seed)
    per = max(1, orgs // partners)
    pids = [f"p{i:03d}" for i in range(partners)]
    secrets = {env_name(k): f"bench-secret-{k}-{rng.getrandbits(64):016x}" for k in range(RELAYS)}
    secrets |= {env_name("CONTROLLER"): f"bench-secret-controller-{rng.getrandbits(64):016x}"}

    # tenants and the base settings (desired == live before the 5% differences)
    tenants: dict[str, Any] = {"partners": {}}
    desired: dict[Address, dict[str, Any] | str] = {}
    desired[CONTROLLER] = _settings(rng, 0, "platform", env_name("CONTROLLER"), "no-reply@platform.example.com")
    org_addrs: list[Address] = []
    overridden: list[Address] = []
    enabled_plain: list[Address] = []
    for i, p in enumerate(pids):
        porgs: dict[str, Any] = {}
        tenants["partners"][p] = {"organizations": porgs}
        desired[Address(p)] = _settings(
            rng, i % RELAYS, f"partner-{p}", env_name(i % RELAYS), f"no-reply@{p}.example.com"
        )
        count = per if i < partners - 1 else orgs - per * (partners - 1)
        for j in range(count):
            o = f"o{i * per + j:05d}"
            a = Address(p, o)
            org_addrs.append(a)
            r = rng.random()
            if r < override_share:
                porgs[o] = {"smtp_enabled": True}
                desired[a] = _settings(
                    rng, rng.randrange(RELAYS), f"org-{o}", env_name(rng.randrange(RELAYS)), f"mail@{o}.example.org"
                )
                overridden.append(a)
            elif r < override_share + extra_enabled_share:
                porgs[o] = {"smtp_enabled": True}
                desired[a] = "inherit"
                enabled_plain.append(a)
            else:
                porgs[o] = {"smtp_enabled": False}
                desired[a] = "inherit"

    live: dict[Address, dict[str, Any]] = {}
    for a, s in desired.items():
        if isinstance(s, dict):
            live[a] = dict(s, password=secrets[s["password"]["env"]])

    # the differences: 5% of all scopes
    total = len(desired)
    n_diff = round(total * differ_share)
    n_field, n_pw = round(n_diff * 0.4), round(n_diff * 0.3)
    n_flip = n_diff - n_field - n_pw
    n_delete = n_flip // 2
    n_create = n_flip - n_delete
    with_records = sorted(live)
    picked = rng.sample(with_records, n_field + n_pw)
    field_changed, pw_changed = picked[:n_field], picked[n_field:]
    taken = set(picked)
    deletable = [a for a in overridden if a not in taken]
    to_delete = rng.sample(deletable, min(n_delete, len(deletable)))
    to_create = rng.sample(enabled_plain, min(n_create, len(enabled_plain)))

    for a in field_changed:
        s = dict(desired[a])
        what = rng.randrange(4)
        if what == 0:
            s["port"] = 2525
        elif what == 1:
            s["host"] = relay_host((int(s["host"][4]) + 1) % RELAYS)
        elif what == 2:
            s["username"] = s["username"] + "-v2"
        else:
            s["sender"] = "changed-" + s.get("sender", "x@example.com")
        desired[a] = s
    for a in pw_changed:
        live[a]["password"] = "rotated-out-" + live[a]["password"]
    for a in to_delete:
        desired[a] = "inherit"
    for a in to_create:
        k = rng.randrange(RELAYS)
        desired[a] = _settings(rng, k, f"org-{a.org}", env_name(k), None)

    expected = {
        "create": len(to_create),
        "update": n_field + n_pw,
        "delete": len(to_delete),
        "no-op": total - len(to_create) - n_field - n_pw - len(to_delete),
        "differing": len(to_create) + n_field + n_pw + len(to_delete),
    }
    return Platform(
        tenants,
        live,
        stack_yaml(desired, partners=pids),
        secrets,
        expected,
        organizations=len(org_addrs),
        partners=partners,
    )


def _settings_yaml(s: dict[str, Any], indent: str) -> list[str]:
    out = [
        f"{indent}host: {s['host']}",
        f"{indent}port: {s['port']}",
        f"{indent}tls: {'true' if s['tls'] else 'false'}",
    ]
    if s.get("tls_mode"):
        out.append(f"{indent}tls_mode: {s['tls_mode']}")
    out.append(f"{indent}username: {s['username']}")
    out.append(f"{indent}password: {{env: {s['password']['env']}}}")
    if s.get("sender"):
        out.append(f"{indent}sender: {s['sender']}")
    return out


def _smtp(s: dict[str, Any] | str, indent: str) -> list[str]:
    if s == "inherit":
        return [f"{indent}smtp: inherit"]
    return [f"{indent}smtp:"] + _settings_yaml(s, indent + "  ")


def stack_yaml(
    desired: dict[Address, dict[str, Any] | str],
    *,
    partners: list[str],
    name: str = STACK_NAME,
    verify: dict[str, Any] | None = None,
) -> str:
    """A block-style stack file, as a person (or ``smtp-iac import``) would write it."""
    lines = ["# yaml-language-server: $schema=../schemas/stack.schema.json", "version: 1", f"name: {name}"]
    if verify:
        lines.append("verify:")
        lines += [f"  {k}: {v}" for k, v in verify.items()]
    if CONTROLLER in desired:
        lines.append("controller:")
        lines += _smtp(desired[CONTROLLER], "  ")
    by_partner: dict[str, list[Address]] = {}
    for a in desired:
        if a.org:
            by_partner.setdefault(a.partner, []).append(a)
    lines.append("partners:")
    for p in partners:
        lines.append(f"  {p}:")
        if Address(p) in desired:
            lines += _smtp(desired[Address(p)], "    ")
        orgs = by_partner.get(p, [])
        if orgs:
            lines.append("    organizations:")
            for a in orgs:
                lines.append(f"      {a.org}:")
                lines += _smtp(desired[a], "        ")
    return "\n".join(lines) + "\n"
