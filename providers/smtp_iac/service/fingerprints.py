"""Password fingerprints as the service shows them: bound to their scope.

A database store's fingerprint is one keyed HMAC of the password, the same at every scope.
Shown as it is, one answer of a comparison oracle (``POST /v1/fingerprints``) could be matched
against every record a token reads, and two records would tell that they share a password.
So every fingerprint the service answers, in a record, a snapshot, an audit entry or a
comparison, is bound to its scope:

    shown(address, fp) = "hmac-sha256:" + HMAC(key, address NUL fp)[:16 hex]

under a key derived from the store key for this purpose alone (every instance on one store
shows the same). Within a scope it behaves as the stored one (equal passwords, equal shown
fingerprints: plans, drift and a Pulumi refresh compare as before); across scopes it tells
nothing. A candidate is then only comparable at the scope it was asked for, which is what the
comparison budget counts (``budgets``: 20 different candidates per scope and token per hour).

An audit entry shows the fingerprint of a password that was written (``ok``), never that of one
a refused or failed write carried: a stale ``If-Match`` with a guess would otherwise be an
unmetered comparison (the refusal audits the guess's fingerprint beside the stored one).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ..addresses import Address
from ..store import AuditEntry
from ..store.keys import FINGERPRINT_PREFIX

KEY_PURPOSE = "service scope fingerprint v1"


class ScopeFingerprints:
    def __init__(self, key: bytes):
        self._key = key

    def shown(self, address: Address | str, fingerprint: str | None) -> str | None:
        """``fingerprint`` (a store's) as the service shows it at ``address``; None stays None."""
        if not fingerprint:
            return None
        mac = hmac.new(self._key, f"{address}\0{fingerprint}".encode(), hashlib.sha256)
        return FINGERPRINT_PREFIX + mac.hexdigest()[:16]

    def entry(self, e: AuditEntry) -> dict[str, Any]:
        """An audit entry as the service answers it, its fingerprints bound to its address."""
        d = e.to_dict()
        if e.address:
            d["old_fingerprint"] = self.shown(e.address, e.old_fingerprint)
            d["new_fingerprint"] = self.shown(e.address, e.new_fingerprint) if e.outcome == "ok" else None
        else:  # entries without a scope (tokens, tenants) carry no password
            d["old_fingerprint"] = d["new_fingerprint"] = None
        return d
