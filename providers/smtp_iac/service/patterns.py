"""What the service accepts, as JSON Schema patterns (ECMA 262) for its OpenAPI document.

The server checks a request in more than one place (pydantic's field patterns, then
``rules.check_settings``, ``Address.parse``, ``verify.message.check_address``); clients are
generated from the document, so each pattern here says in one expression what those checks
together accept (``tests/service/test_document_patterns.py`` holds them to it):

- ``ADDRESS``/``ORG_ADDRESS``: what ``Address.parse`` takes (surrounding blanks and slashes
  are ignored, as for a path written ``/v1/scopes/partners/acme/``).
- ``HOST``: a DNS name in ASCII (an internationalized one in its A-label form, ``xn--``), an
  IPv4 address as four decimal numbers, or an IPv6 address (with a zone). What the rules refuse
  is left out: a name that resolvers would read as an IPv4 address (``127.1``, ``0x7f000001``,
  ``1.2.3.4.5``...). The server also takes an internationalized name written in Unicode
  (IDNA 2008, already in its mapped form), which no pattern can state; and refuses an
  ``xn--`` label that is not a valid A-label.
- ``SENDER``: a record's sender; ``MAILBOX``: an address a message is sent from or to (no
  character that cannot stand bare in an address header). An RFC 2047 encoded word that decodes
  to a line break is refused too; no pattern can state that.
- ``TEXT``: a username, no line break, NUL or invisible character (``rules.INVISIBLE``).
"""

from __future__ import annotations

from ..models import EMAIL_PATTERN
from ..reading.rules import INVISIBLE

ID = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

_SPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
_WS = "".join(f"\\u{ord(c):04x}" for c in _SPACE)
"""What ``str.strip()`` removes (every character ``str.isspace`` calls blank)."""


def _lenient(core: str) -> str:
    return rf"^[{_WS}]*/*(?:{core})/*[{_WS}]*$"


ADDRESS = _lenient(rf"controller|partners/{ID}(?:/organizations/{ID})?")
ORG_ADDRESS = _lenient(rf"partners/{ID}/organizations/{ID}")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"


def _ipv6() -> str:
    """Every text form ``ipaddress.IPv6Address`` reads: eight groups, or ``::`` standing for at
    least one, the last two groups possibly written as an IPv4 address."""
    forms = [rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{6}}{IPV4}"]
    for left in range(8):
        right = 7 - left  # groups left for after "::"
        head = "" if left == 0 else rf"(?:{_H}:){{{left - 1}}}{_H}"
        tails = []
        if right >= 1:
            tails.append(rf"(?:{_H}:){{0,{right - 1}}}{_H}")
        if right >= 2:
            tails.append(rf"(?:{_H}:){{0,{right - 2}}}{IPV4}")
        tail = f"(?:{'|'.join(tails)})?" if tails else ""
        forms.append(f"{head}::{tail}")
    return "(?:" + "|".join(forms) + ")"


IPV6 = _ipv6()
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATON_PART = r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)"
_NAME = (
    r"(?![0-9]+(?:\.[0-9]+)*\.?$)"  # every label a number: an IPv4 address or nothing
    rf"(?!{_ATON_PART}(?:\.{_ATON_PART}){{0,3}}\.?$)"  # what inet_aton reads as one
    rf"{_LABEL}(?:\.{_LABEL})*\.?"
)
HOST = rf"^(?:{IPV4}\.?|{IPV6}(?:%[0-9A-Za-z:.]+)?|{_NAME})$"

_INVISIBLE = INVISIBLE.pattern[1:-1]  # the character class's contents
TEXT = rf"^[^\r\n\x00{_INVISIBLE}]*$"
PASSWORD = r"^[^\r\n\x00]*$"

_EMAIL_CLASS = '@<>"]'
assert EMAIL_PATTERN.count(_EMAIL_CLASS) == 2, "models.EMAIL_PATTERN changed: update service.patterns"
SENDER = EMAIL_PATTERN.replace(_EMAIL_CLASS, f'@<>"{_INVISIBLE}]')
MAILBOX = EMAIL_PATTERN.replace(_EMAIL_CLASS, r'@<>"\x80-\x9f(),;:\[\]\\' + "]")
