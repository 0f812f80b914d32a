"""Service tokens in the store: created, listed, found by id, revoked; each change audited.

The store keeps a token's scope and the SHA-256 of its secret (``smtp_iac.tokens``), never
the secret. Tokens are managed against the store directly (``smtp-iac tokens``, the platform's
administrator CLI): whoever holds the database and its key is already the administrator.
"""

from __future__ import annotations

from typing import Any

from ..actor import actor_of
from ..addresses import Address
from ..errors import UsageError
from ..tokens import NewToken, Role, TokenInfo
from .audit import AuditAction, AuditOutcome, AuditTrail
from .db import Db, Part, now_text, parse_time, reading

_SELECT = "SELECT id, name, role, partner, org, created_at, created_by, expires_at, revoked_at, secret_hash FROM tokens"


class TokenRegistry(Part):
    def __init__(self, db: Db, audit: AuditTrail):
        super().__init__(db)
        self.audit = audit

    def create_token(self, token: NewToken, *, actor: str | None = None) -> TokenInfo:
        actor = actor_of(actor)
        i = token.info
        assert i.created_at is not None
        with self.db.write() as cur:
            self.db.x(
                cur,
                "INSERT INTO tokens (id, name, role, partner, org, secret_hash, created_at, created_by, "
                "expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    i.id,
                    i.name,
                    str(i.role),
                    i.partner,
                    str(i.org) if i.org else "",
                    token.secret_hash,
                    i.created_at.isoformat(timespec="microseconds"),
                    actor,
                    i.expires_at.isoformat(timespec="microseconds") if i.expires_at else None,
                ),
            )
            self.audit.entry(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=AuditAction.TOKEN_CREATE,
                outcome=AuditOutcome.OK,
                detail=f"token {i.id} '{i.name}' ({i.scope_text})",
            )
        return TokenInfo(i.id, i.name, i.role, i.partner, i.org, i.created_at, actor, i.expires_at, None)

    @reading
    def list_tokens(self) -> list[TokenInfo]:
        with self.db.read() as cur:
            rows = self.db.x(cur, _SELECT + " ORDER BY created_at, id").fetchall()
        return [_info(r) for r in rows]

    @reading
    def find_token(self, token_id: str) -> tuple[TokenInfo, str] | None:
        """The token with ``token_id`` and the hash of its secret, or None."""
        with self.db.read() as cur:
            row = self.db.x(cur, _SELECT + " WHERE id = ?", (token_id,)).fetchone()
        return (_info(row), str(row[9])) if row is not None else None

    @reading
    def token_revoked(self, token_id: str) -> bool | None:
        """Whether the token is revoked now, or None when there is no such token: all a request
        needs to read once it knows the token's facts (they never change)."""
        with self.db.read() as cur:
            row = self.db.x(cur, "SELECT revoked_at FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else row[0] is not None

    def revoke_token(self, token_id: str, *, actor: str | None = None) -> TokenInfo:
        """Revoke a token (at once, for every instance of the service). UsageError for an unknown id."""
        actor = actor_of(actor)
        with self.db.write() as cur:
            row = self.db.x(cur, _SELECT + " WHERE id = ?", (token_id,)).fetchone()
            if row is None:
                raise UsageError(f"no token with id {token_id!r}", hint="list them with: smtp-iac tokens list")
            info = _info(row)
            if info.revoked_at is None:
                at = now_text()
                self.db.x(cur, "UPDATE tokens SET revoked_at = ? WHERE id = ?", (at, token_id))
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=None,
                    address=None,
                    action=AuditAction.TOKEN_REVOKE,
                    outcome=AuditOutcome.OK,
                    detail=f"token {info.id} '{info.name}' ({info.scope_text})",
                    at=at,
                )
                info = _info((*row[:8], at, row[9]))
        return info


def _info(row: tuple[Any, ...]) -> TokenInfo:
    token_id, name, role, partner, org, created_at, created_by, expires_at, revoked_at = row[:9]
    return TokenInfo(
        id=token_id,
        name=name,
        role=Role(role),
        partner=partner,
        org=Address.parse(org) if org else None,
        created_at=parse_time(created_at),
        created_by=created_by,
        expires_at=parse_time(expires_at),
        revoked_at=parse_time(revoked_at),
    )
