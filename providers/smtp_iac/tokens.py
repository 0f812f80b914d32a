"""Service tokens: who a request is, as data. Pure: no I/O here (the store keeps them,
``store.tokens``; the service checks them, ``service.auth``).

A token is ``smtpiac_<id>_<secret>``: ``id`` (12 hex digits) names the row, ``secret`` (32
random bytes, URL-safe base64) proves it. Only ``sha256(secret)`` is stored. A slow password
hash (bcrypt, scrypt) would add nothing: the secret is 256 random bits, not a password a
person chose, so no guess list exists to slow down; and every request checks a token. The
stored hash is compared in constant time (``hmac.compare_digest``) after the row is found by
its id, so neither the lookup nor the comparison tells an attacker how close a guess was.
The prefix lets secret scanners (and people) recognise a leaked token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .addresses import Address

PREFIX = "smtpiac_"
_TOKEN = re.compile(r"^smtpiac_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MAX_EXPIRY_DAYS = 3650
NAME_MAX = 100
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


class Role(StrEnum):
    """SPEC's roles (the platform's people, plus the platform's mail sender and read-only viewers)."""

    SYSADMIN = "sysadmin"
    PARTNER_ADMIN = "partner-admin"
    ORG_ADMIN = "org-admin"
    MAILER = "mailer"
    VIEWER = "viewer"


@dataclass(frozen=True)
class TokenInfo:
    """A token as the store keeps it, without its secret. ``partner`` is set for a partner admin,
    ``org`` (an organization address) for an organization admin."""

    id: str
    name: str
    role: Role
    partner: str = ""
    org: Address | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def actor(self) -> str:
        """The audit actor of requests made with this token: its name and role."""
        return f"{self.name} ({self.scope_text})"

    @property
    def scope_text(self) -> str:
        if self.role is Role.PARTNER_ADMIN:
            return f"{self.role} of partners/{self.partner}"
        if self.role is Role.ORG_ADMIN:
            return f"{self.role} of {self.org}"
        return str(self.role)

    def usable(self, now: datetime) -> str | None:
        """Why the token cannot be used at ``now`` (revoked, expired), or None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": str(self.role),
            "partner": self.partner or None,
            "org": str(self.org) if self.org else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    text: str  # shown once, never stored
    secret_hash: str


def check_scope(role: Role, partner: str | None, org: str | None) -> tuple[str, Address | None]:
    """The (partner, org) a token of ``role`` is limited to; ValueError when they do not fit the role."""
    if role is Role.PARTNER_ADMIN:
        if not partner or org:
            raise ValueError("a partner-admin token needs --partner P (and no --org)")
        return Address(partner).partner, None
    if role is Role.ORG_ADMIN:
        if not org:
            raise ValueError("an org-admin token needs --org partners/P/organizations/O")
        address = Address.parse(org)
        if not address.org:
            raise ValueError(f"--org must be an organization address, not {address}")
        if partner and partner != address.partner:
            raise ValueError(f"--partner {partner} does not match --org {address}")
        return "", address
    if partner or org:
        raise ValueError(f"a {role} token is not limited to a partner or organization; drop --partner/--org")
    return "", None


def new_token(
    *,
    name: str,
    role: Role,
    partner: str | None = None,
    org: str | None = None,
    now: datetime,
    expires_in_days: int | None = None,
    created_by: str | None = None,
) -> NewToken:
    """A fresh token. ValueError for a name, scope or expiry that does not fit."""
    if not _NAME.match(name):
        raise ValueError(f"a token name is 1 to {NAME_MAX} printable characters on one line")
    p, o = check_scope(role, partner, org)
    expires = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise ValueError(f"--expires-in is 1 to {MAX_EXPIRY_DAYS} days")
        expires = now + timedelta(days=expires_in_days)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    info = TokenInfo(token_id, name, role, p, o, now, created_by, expires, None)
    return NewToken(info, f"{PREFIX}{token_id}_{secret}", hash_secret(secret))


def parse_token(text: str) -> tuple[str, str] | None:
    """(id, secret) of a token's text, or None when it is not one."""
    m = _TOKEN.match(text)
    return (m.group(1), m.group(2)) if m else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
