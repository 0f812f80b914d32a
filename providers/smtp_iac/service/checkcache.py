"""Checks of writes that the service has just run, so that identical settings written to many
scopes in one rollout make one SMTP conversation, as ``smtp-iac apply`` checks each distinct
relay and credentials once (a partner's 3,000 organizations on one relay are one login, not
3,000).

A check is kept keyed by everything that makes the conversation (``verify.settings_key``:
host, port, TLS, username, sender and a digest of the password; and the check's mode,
recipient, sender and timeout): a passed one for ``TTL_SECONDS``, a failed one for
``FAILED_TTL_SECONDS``. Failures are kept too because a rollout of many scopes on one relay
with a wrong password would otherwise try that password once per scope, which is how a
provider's lockout of an account is triggered; ten seconds later the next write tries again
(a person who fixes the relay and saves again is rarely quicker), and a failure served from
here says so.
Writes that arrive together with the same settings (the Pulumi engine creates resources in
parallel) wait for the one check in flight instead of each starting their own. Send Test Email
never uses it (a person asked for a conversation). Bounded: at most ``MAX_ENTRIES``, oldest
dropped first.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..addresses import Address
from ..models import ResolvedSettings, VerifyOptions
from ..verify import VerifyResult, settings_key

TTL_SECONDS = 120.0
FAILED_TTL_SECONDS = 10.0
MAX_ENTRIES = 10_000


class CheckCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[object, ...], tuple[float, VerifyResult]] = OrderedDict()
        self._flights: dict[tuple[object, ...], threading.Lock] = {}

    def check(
        self,
        address: Address,
        settings: ResolvedSettings,
        options: VerifyOptions,
        run: Callable[[], VerifyResult],
    ) -> VerifyResult:
        key = (*settings_key(settings), options.mode, options.to, options.from_, options.timeout_seconds)
        hit = self._hit(key)
        if hit is not None:
            return _reused(hit, address)
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:  # one check per key at a time; the others then find its result
            hit = self._hit(key)
            if hit is not None:
                return _reused(hit, address)
            try:
                result = run()
                with self._lock:
                    if not result.skipped:
                        self._kept[key] = (self._clock(), result)
                        self._kept.move_to_end(key)
                        while len(self._kept) > MAX_ENTRIES:
                            self._kept.popitem(last=False)
            finally:
                with self._lock:
                    self._flights.pop(key, None)
        return result

    def _hit(self, key: tuple[object, ...]) -> VerifyResult | None:
        now = self._clock()
        with self._lock:
            hit = self._kept.get(key)
        if hit is not None and now - hit[0] < (TTL_SECONDS if hit[1].ok else FAILED_TTL_SECONDS):
            return hit[1]
        return None


def _reused(result: VerifyResult, address: Address) -> VerifyResult:
    if result.ok:
        return result.for_address(address)
    detail = f"{result.detail} (the same settings failed a check moments ago; not tried again yet)"
    return dataclasses.replace(result, address=address, detail=detail)
