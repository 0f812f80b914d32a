"""Keep the password out of anything a check reports. A server may echo what it got (some
do, in their 535 replies), so every text that leaves the check goes through ``Redactor``.

Rules:

- Mask first, cut after: ``reply_text`` replaces every form of the password before it shortens
  a reply to ``MAX_DETAIL``, so a password that runs across the cut cannot leave half of itself
  in the output (cutting first would leave a prefix that no longer matches the password).
- A reply of several lines is masked across its line breaks too: a relay that wraps a long
  reply may split an echoed password over two lines.

Pure: no I/O here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

MASK = "********"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_DETAIL = 600
"""At most this many characters of one relay reply are kept in a result (after masking)."""


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
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return self.parts([text])[0]

    def parts(self, parts: Sequence[str]) -> list[str]:
        """Each part with every form of the password masked, including a form that starts in
        one part and ends in a later one (the parts are read as if joined with nothing between
        them; each part keeps its own place, with a mask for its share of the password)."""
        joined = "".join(parts)
        hidden = bytearray(len(joined))
        for form in self._forms:
            at = joined.find(form)
            while at != -1:
                hidden[at : at + len(form)] = b"\1" * len(form)
                at = joined.find(form, at + 1)
        if not any(hidden):
            return list(parts)
        out: list[str] = []
        pos = 0
        for part in parts:
            kept: list[str] = []
            for i, ch in enumerate(part, start=pos):
                if not hidden[i]:
                    kept.append(ch)
                elif i == pos or not hidden[i - 1]:
                    kept.append(MASK)  # one mask for each masked run
            out.append("".join(kept))
            pos += len(part)
        return out


def reply_text(raw: bytes | str | None, redact: Redactor | None = None, *, sep: str = " ") -> str:
    """A server reply as one safe line: decoded, the password masked (before anything is cut),
    control characters dropped, lines joined with ``sep``, at most ``MAX_DETAIL`` characters."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if redact is not None:
        raw = redact(raw)  # as sent: a password with spaces at its ends or odd characters in it
    lines = [part.strip() for part in raw.splitlines()]
    if redact is not None:
        lines = redact.parts(lines)  # and split over two lines of the reply
    text = sep.join(line for line in lines if line)
    text = _CONTROL.sub("?", text)
    if len(text) > MAX_DETAIL:
        text = text[: MAX_DETAIL - 3] + "..."
    return text
