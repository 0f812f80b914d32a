"""Keyed digests of a store on a database, all made with its key (``keys.Keyring``): password
fingerprints (the same at every scope here; the settings service binds the ones it shows to
their scope), the seal of a saved plan, and keys derived for other purposes (the console's
session cookies, the service's scope-bound fingerprints)."""

from __future__ import annotations

from collections.abc import Sequence

from ..addresses import Address
from .db import Part


class Digests(Part):
    def fingerprint(self, address: Address, password: str) -> str:
        """Keyed fingerprint of a password, comparable with ``LiveRecord.password_fingerprint``."""
        return self.db.keys.fingerprint(password)

    def fingerprints(self, items: Sequence[tuple[Address, str]]) -> list[str]:
        done: dict[str, str] = {}  # thousands of scopes share a handful of secrets
        fp = self.db.keys.fingerprint
        return [done.get(s) or done.setdefault(s, fp(s)) for _, s in items]

    def seal(self, digest: str) -> str:
        return self.db.keys.seal(digest)

    def derived_key(self, purpose: str) -> bytes:
        return self.db.keys.derive(purpose)
