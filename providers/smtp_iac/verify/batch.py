"""Many scopes, few relays: identical settings are checked once and the result shared;
distinct settings are checked concurrently, at most ``concurrency`` at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from ..addresses import Address
from ..models import ResolvedSettings, VerifyOptions
from .check import run_check
from .result import VerifyResult, skipped
from .tlsctx import client_context

DEFAULT_CONCURRENCY = 8


def settings_key(settings: ResolvedSettings) -> tuple[object, ...]:
    """What makes two scopes' checks the same SMTP conversation. The password enters only as a
    digest, so the key can sit in memory or a debugger without showing it."""
    digest = hashlib.sha256(settings.password.get_secret_value().encode("utf-8")).hexdigest()
    return (
        settings.host.strip().lower(),
        settings.port,
        settings.tls,
        settings.effective_tls_mode,
        settings.username,
        digest,
        settings.sender,
    )


def group_by_settings(
    items: Sequence[tuple[Address, ResolvedSettings]],
) -> list[tuple[ResolvedSettings, list[Address]]]:
    """Groups in first-seen order: (settings, addresses sharing them)."""
    groups: dict[tuple[object, ...], tuple[ResolvedSettings, list[Address]]] = {}
    for address, settings in items:
        key = settings_key(settings)
        if key not in groups:
            groups[key] = (settings, [])
        groups[key][1].append(address)
    return list(groups.values())


def verify_many(
    items: Sequence[tuple[Address, ResolvedSettings]],
    options: VerifyOptions,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    base_dir: Path | None = None,
    on_result: Callable[[VerifyResult], None] | None = None,
    destination: Callable[[str], str | None] | None = None,
) -> dict[Address, VerifyResult]:
    """Verify every (address, settings); returns results keyed by address, in input order.

    ``on_result`` is called once per address, in the calling thread, as results come in.
    ``destination``: the relay policy every address a relay resolves to is asked (``run_check``).
    An unreadable ``verify.ca_file`` raises UsageError before any connection is made.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    order = [address for address, _ in items]
    results: dict[Address, VerifyResult] = {}

    def deliver(result: VerifyResult, addresses: list[Address]) -> None:
        for address in addresses:
            shared = result.for_address(address)
            results[address] = shared
            if on_result is not None:
                on_result(shared)

    groups = group_by_settings(items)
    if options.mode == "off":
        for _settings, addresses in groups:
            deliver(skipped(addresses[0]), addresses)
        return {a: results[a] for a in order}

    needs_tls = any(s.effective_tls_mode != "none" for s, _ in groups)
    ctx = client_context(options.ca_file, base_dir) if needs_tls else None

    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(groups))), thread_name_prefix="smtp-iac-verify"
    ) as pool:
        pending: dict[Future[VerifyResult], list[Address]] = {}
        for settings, addresses in groups:
            future = pool.submit(
                run_check,
                settings,
                options,
                address=addresses[0],
                base_dir=base_dir,
                shared_with=addresses,
                tls_context=ctx,
                destination=destination,
            )
            pending[future] = addresses
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    deliver(future.result(), pending.pop(future))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return {a: results[a] for a in order}
