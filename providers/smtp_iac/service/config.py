"""What ``smtp-iac serve`` was started with: one frozen value the routes read."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DENY = ("169.254.0.0/16", "fe80::/10")
"""Link-local, where cloud metadata services answer (SPEC ``--deny-relay`` default)."""


TENANTS_MAX_BYTES = 16 * 1024 * 1024
"""The cap on a tenants document (``POST /v1/tenants``), as on a tenants file."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per token: ``burst`` requests at once, refilled at ``per_minute``."""

    per_minute: float = 30.0
    burst: int = 10


@dataclass(frozen=True)
class ServiceConfig:
    store_url: str
    deny_relay: tuple[Network, ...] = field(default_factory=lambda: parse_networks(DEFAULT_DENY))
    max_body_bytes: int = 64 * 1024
    rate_limit: RateLimit = field(default_factory=RateLimit)
    verify_timeout_seconds: int = 15
    allow_unverified: bool = False
    """Whether a PUT may ask for ``verify: {mode: off}`` (benchmarks, relays that refuse logins).
    Off by default: a write through the service is checked first, whoever makes it."""
    ca_file: Path | None = None
    """Extra trusted CA bundle (PEM) for relays with a private CA, on the server."""
    session_key: bytes | None = None
    """The 32-byte key of the console's session cookies; None: derived from the store key."""
    health_interval: float = 0.0
    """Seconds between two background runs of the relay health checks (``service.health``);
    0: none. ``smtp-iac serve --health-interval`` gives 300 unless told otherwise; a value made
    in code (tests, embedding) runs none unless it says so."""


def parse_networks(texts: tuple[str, ...] | list[str]) -> tuple[Network, ...]:
    """CIDRs (``10.0.0.0/8``, ``fd00::/8``, or a single address). ValueError names a bad one."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--deny-relay {text!r} is not an IPv4 or IPv6 network (CIDR)") from None
    return tuple(out)
