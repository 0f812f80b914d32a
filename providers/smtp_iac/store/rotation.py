"""Key rotation: re-encrypt every stored password under the first key of the key list
(``SMTP_IAC_STORE_KEY=NEW,OLD``), so that the old key can be dropped."""

from __future__ import annotations

from ..actor import clean_actor, current_actor
from .audit import AuditAction, AuditOutcome, AuditTrail
from .keys import KEY_CHECK, KEY_CHECK_PLAIN


class KeyRotation(AuditTrail):
    def rotate_keys(self, *, actor: str | None = None) -> int:
        """Re-encrypt every password (and recompute fingerprints) under the primary key, in one
        transaction. Versions do not move: the settings are the same. Returns the count."""
        actor = clean_actor(actor) if actor else current_actor()
        with self._write_tx() as cur:
            rows = self._x(cur, "SELECT address, password_enc FROM records ORDER BY address").fetchall()
            updates = []
            for addr, token in rows:
                plain = self._keys.decrypt(token, what=f"the password of {addr}")
                updates.append((self._keys.encrypt(plain), self._keys.fingerprint(plain), self._keys.key_id, addr))
            if updates:
                cur.executemany(
                    self.dialect.q(
                        "UPDATE records SET password_enc = ?, password_fp = ?, fp_key_id = ? WHERE address = ?"
                    ),
                    updates,
                )
            self._x(cur, "UPDATE meta SET value = ? WHERE name = ?", (self._keys.encrypt(KEY_CHECK_PLAIN), KEY_CHECK))
            self._audit(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=AuditAction.ROTATE_KEYS,
                outcome=AuditOutcome.OK,
                detail=f"re-encrypted {len(updates)} password(s) under the primary key",
            )
        return len(updates)
