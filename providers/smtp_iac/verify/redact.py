"""Keep the password out of anything a check reports. A server may echo what it got (some
do, in their 535 replies), so every text that leaves the check goes through ``Redactor``.

Pure: no I/O here.
"""

from __future__ import annotations

import base64
import re

MASK = "********"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_DETAIL = 600


class Redactor:
    """Replaces the password, and the encodings in which an SMTP client sends it
    (AUTH PLAIN blob, AUTH LOGIN base64), with a mask."""

    def __init__(self, username: str, password: str):
        forms: set[str] = set()
        if password:
            forms.add(password)
            pw = password.encode("utf-8")
            forms.add(base64.b64encode(pw).decode("ascii"))
            user = username.encode("utf-8")
            forms.add(base64.b64encode(b"\0" + user + b"\0" + pw).decode("ascii"))
            forms.add(base64.b64encode(user + b"\0" + user + b"\0" + pw).decode("ascii"))
        # Longest first, so that a form containing another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text


def reply_text(raw: bytes | str | None) -> str:
    """A server reply as one safe line: decoded, control characters dropped, bounded."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = " ".join(part.strip() for part in raw.splitlines() if part.strip())
    text = _CONTROL.sub("?", text)
    if len(text) > MAX_DETAIL:
        text = text[: MAX_DETAIL - 3] + "..."
    return text
