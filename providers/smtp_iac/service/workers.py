"""``smtp-iac serve --workers N``: N processes serving one listening socket (uvicorn's own
supervisor), for machines with more cores than one event loop can use.

Each worker is started fresh (``spawn``), imports the application through ``app`` and opens
the store itself, with the configuration the command was started with (``to_environment``:
one JSON value in ``SMTP_IAC_SERVE_WORKER``, never a secret: the store's key reaches each worker
as it reached the command, through the environment it inherits or the key file it names).
Workers share nothing in memory: each keeps its own token facts and its own metrics (``/metrics``
answers for the worker that took the request), and they meet only in the store, which is what
makes a revocation, a write or a health run hold for all of them at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ..store.limits import POOLED
from .config import RateLimit, ServiceConfig, parse_networks

ENV = "SMTP_IAC_SERVE_WORKER"


def to_environment(config: ServiceConfig, pool_size: int) -> str:
    """``config`` as the workers read it (``app``)."""
    if config.session_key is not None:
        raise ValueError("workers derive the console's session key from the store key; none may be given")
    return json.dumps(
        {
            "store_url": config.store_url,
            "deny_relay": [str(n) for n in config.deny_relay],
            "max_body_bytes": config.max_body_bytes,
            "rate_limit": [config.rate_limit.per_minute, config.rate_limit.burst],
            "verify_timeout_seconds": config.verify_timeout_seconds,
            "allow_unverified": config.allow_unverified,
            "ca_file": str(config.ca_file) if config.ca_file else None,
            "health_interval": config.health_interval,
            "pool_size": pool_size,
        }
    )


def from_environment(text: str) -> tuple[ServiceConfig, int]:
    d: dict[str, Any] = json.loads(text)
    per_minute, burst = d["rate_limit"]
    config = ServiceConfig(
        store_url=d["store_url"],
        deny_relay=parse_networks(d["deny_relay"]),
        max_body_bytes=int(d["max_body_bytes"]),
        rate_limit=RateLimit(per_minute=float(per_minute), burst=int(burst)),
        verify_timeout_seconds=int(d["verify_timeout_seconds"]),
        allow_unverified=bool(d["allow_unverified"]),
        ca_file=Path(d["ca_file"]) if d["ca_file"] else None,
        health_interval=float(d["health_interval"]),
    )
    return config, int(d["pool_size"])


def app() -> FastAPI:
    """The application of one worker (uvicorn calls it in the worker: ``factory=True``)."""
    from .app import create_app
    from .server import log_to_stderr

    log_to_stderr()
    config, pool_size = from_environment(os.environ[ENV])
    return create_app(config, limits=POOLED.with_pool_size(pool_size))
