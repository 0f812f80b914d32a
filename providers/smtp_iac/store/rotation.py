"""Key rotation: re-encrypt every stored password under the first key of the key list
(``SMTP_IAC_STORE_KEY=NEW,OLD``), so that the old key can be dropped."""

from __future__ import annotations

from ..actor import actor_of
from .audit import AuditAction, AuditOutcome, AuditTrail
from .db import Db, Part
from .keys import KEY_CHECK, KEY_CHECK_PLAIN


class KeyRotation(Part):
    def __init__(self, db: Db, audit: AuditTrail):
        super().__init__(db)
        self.audit = audit

    def rotate_keys(self, *, actor: str | None = None) -> int:
        """Re-encrypt every password (and recompute fingerprints) under the primary key, in one
        transaction. Versions do not move: the settings are the same. Returns the count."""
        actor = actor_of(actor)
        with self.db.write() as cur:
            rows = self.db.x(cur, "SELECT address, password_enc FROM records ORDER BY address").fetchall()
            updates = []
            for addr, token in rows:
                plain = self.db.keys.decrypt(token, what=f"the password of {addr}")
                updates.append(
                    (self.db.keys.encrypt(plain), self.db.keys.fingerprint(plain), self.db.keys.key_id, addr)
                )
            if updates:
                cur.executemany(
                    self.db.dialect.q(
                        "UPDATE records SET password_enc = ?, password_fp = ?, fp_key_id = ? WHERE address = ?"
                    ),
                    updates,
                )
            self.db.x(
                cur, "UPDATE meta SET value = ? WHERE name = ?", (self.db.keys.encrypt(KEY_CHECK_PLAIN), KEY_CHECK)
            )
            self.audit.entry(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=AuditAction.ROTATE_KEYS,
                outcome=AuditOutcome.OK,
                detail=f"re-encrypted {len(updates)} password(s) under the primary key",
            )
        return len(updates)
