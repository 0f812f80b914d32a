"""The console's session: a sealed cookie holding the signed-in token, and the CSRF values of
its forms.

- The cookie is a Fernet token (AES-CBC + HMAC, with its time) under a key derived from the
  store key (``Store.session_key``): every instance of the service on one store opens it, no
  one without the key reads or forges it, and it ends after ``SESSION_SECONDS``. It holds the
  token's secret, so it is HttpOnly (no script reads it), SameSite=Strict (no other site sends
  it), Secure over HTTPS, and never written anywhere else. The token is checked again by the
  API on every request, so a revoked token ends its sessions at once.
- Every form carries the session's CSRF value (random per session, compared in constant time);
  the sign-in form, before there is a session, a value bound to a random ``LOGIN_COOKIE``
  (double submit under the same key). On top, a POST whose ``Origin`` is another site's is
  refused (``same_origin``).
- Every session has a random id in its cookie. Sign-out deletes the cookie and lists the id in
  the store as ended until the cookie would have expired (``Store.end_session``); every
  instance refuses a copy of it from then on (``web.session_of``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken

from ..addresses import Address
from ..tokens import Role, TokenInfo

SESSION_COOKIE = "smtp_iac_session"
LOGIN_COOKIE = "smtp_iac_login"
SESSION_SECONDS = 8 * 3600
MAX_COOKIE = 4096


@dataclass(frozen=True)
class Session:
    token: str  # the bearer token itself: sent to the API, never shown
    csrf: str
    who: TokenInfo  # id, name, role and reach, as the API said at sign-in (a token's never change)
    id: str = ""  # random, for ending it on the server (sign-out)
    expires_at: datetime | None = None


class SessionCodec:
    """Seals and opens session cookies, and makes and checks CSRF values, under one key."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("a session key is 32 bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._mac = hashlib.sha256(b"smtp-iac console csrf\x00" + key).digest()

    def seal(self, token: str, who: TokenInfo) -> tuple[str, Session]:
        session = Session(token, secrets.token_urlsafe(24), who, secrets.token_urlsafe(18))
        doc = {
            "s": session.id,
            "t": token,
            "c": session.csrf,
            "i": who.id,
            "n": who.name,
            "r": str(who.role),
            "p": who.partner,
            "o": str(who.org) if who.org else "",
        }
        return self._fernet.encrypt(json.dumps(doc).encode()).decode("ascii"), session

    def open(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None when there is none, it was forged or altered, or it expired."""
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        try:
            raw = cookie.encode("ascii")
            doc = json.loads(self._fernet.decrypt(raw, ttl=SESSION_SECONDS))
            org = Address.parse(doc["o"]) if doc["o"] else None
            who = TokenInfo(doc["i"], doc["n"], Role(doc["r"]), doc["p"], org)
            expires = datetime.fromtimestamp(self._fernet.extract_timestamp(raw) + SESSION_SECONDS, UTC)
            return Session(doc["t"], doc["c"], who, str(doc["s"]), expires)
        except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
            return None

    def login_nonce(self) -> str:
        return secrets.token_urlsafe(24)

    def login_csrf(self, nonce: str) -> str:
        return hmac.new(self._mac, nonce.encode(), hashlib.sha256).hexdigest()

    def login_ok(self, nonce: str | None, value: str | None) -> bool:
        return bool(nonce and value) and hmac.compare_digest(self.login_csrf(nonce or ""), value or "")


def csrf_ok(session: Session, value: str | None) -> bool:
    return value is not None and hmac.compare_digest(session.csrf.encode(), value.encode("utf-8", "replace"))


def same_origin(origin: str | None, fetch_site: str | None, own: str) -> bool:
    """False for a request another site made (its ``Origin``, or ``Sec-Fetch-Site: cross-site``)."""
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    return origin is None or origin == own
