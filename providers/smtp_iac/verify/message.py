"""The test message of ``send`` mode and the mailer's system e-mail, built with the email
package so that no field can inject a header.

A field is refused (``UnsafeField``) when it holds a control character or line break, or an
RFC 2047 encoded word (``=?utf-8?q?a=0D=0AFrom:...?=``) that decodes to one: the email package
decodes encoded words when a header is set and, on Python 3.11 and 3.12, writes what they
decode to as it is, CR LF included. So each field is judged by what the running Python's email
package makes of it (``header_problem``), not by a guess at its rules; and a message is
checked once built: its serialized header block must hold exactly the header lines that were
set (``_same_structure``), whatever a future email package does.

Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid

import idna

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters and line breaks: the email package takes \x1c-\x1e, \x85, U+2028 and
U+2029 for line breaks too (``str.splitlines``), so any of them could split a header."""
_ADDR = re.compile(r"^[^\s@\x00<>\"(),;:\[\]\\]+@[^\s@\x00<>\"(),;:\[\]\\]+$")
ADDRESS_HEADER = "X-Smtp-Iac-Verify"


class UnsafeField(ValueError):
    """A field would change the message's structure (CR/LF/NUL) or is not a bare address."""

    def __init__(self, field: str, why: str):
        super().__init__(f"{field} refused: {why}")
        self.field = field


_DECODINGS = 4
"""Encoded words inside encoded words are decoded this many times over, at most."""


def header_problem(value: str, header: str = "subject") -> str | None:
    """Why ``value`` cannot be the text of a ``header`` field (``subject``, or an address header
    such as ``to``): a control character or line break in it, or in what the email package
    decodes its encoded words to, however many times over (a reader that decodes again must not
    find one either). An address may hold no encoded word at all (RFC 2047 section 5: never in
    an addr-spec; the email package decodes one anyway, into other addresses). None when safe."""
    if _FORBIDDEN.search(value):
        return "contains a control character or line break"
    if "=?" not in value:
        return None
    if header != "subject":
        return "holds an RFC 2047 encoded word (=?...?=), which a mail address may not"
    why = "holds an RFC 2047 encoded word (=?...?=) that decodes to a control character or line break"
    text = value
    for _ in range(_DECODINGS):
        try:
            decoded = str(SMTPUTF8.header_factory(header, text))
        except (HeaderParseError, ValueError, IndexError, TypeError):  # e.g. "address parts cannot contain CR or LF"
            return why
        if _FORBIDDEN.search(decoded):
            return why
        if decoded == text or "=?" not in decoded:
            return None
        text = decoded
    return "holds RFC 2047 encoded words nested too deep to judge"


def check_address(field: str, value: str) -> str:
    if _FORBIDDEN.search(value):
        raise UnsafeField(field, "contains a control character or line break")
    if not _ADDR.match(value):
        raise UnsafeField(field, f"{value!r} is not a bare mail address (local@domain)")
    why = header_problem(value, "to")
    if why is not None:
        raise UnsafeField(field, why)
    return value


def looks_like_address(value: str | None) -> bool:
    return value is not None and not _FORBIDDEN.search(value) and bool(_ADDR.match(value))


def from_address(given: str | None, sender: str | None, username: str) -> str | None:
    """The From of a message sent with a record's settings (SPEC): the address ``given`` for
    this message (``verify.from``), else the record's ``sender``, else its username when that
    is a mail address; None when there is none."""
    return given or sender or (username if looks_like_address(username) else None)


def needs_smtputf8(*addresses: str) -> bool:
    return not all(a.isascii() for a in addresses)


def build_test_message(
    *,
    address: str,
    from_addr: str,
    to_addr: str,
    host: str,
    port: int,
    tls_mode: str,
    shared_with: Sequence[str] = (),
    now: datetime | None = None,
) -> EmailMessage:
    """The test email naming the scope being verified (and any scopes that share its settings)."""
    now = now or datetime.now(UTC)
    fields = (("address", address), ("host", host), *(("shared_with", s) for s in shared_with))
    msg = _new_message(from_addr, to_addr, fields)
    msg["Subject"] = f"smtp-iac test email for {address}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_msgid_domain(from_addr))
    msg[ADDRESS_HEADER] = address
    lines = [
        'This is a test email from smtp-iac (the "Send Test Email" check).',
        "",
        f"It verifies the SMTP settings of: {address}",
    ]
    others = [s for s in shared_with if s != address]
    if others:
        lines.append(
            f"The same settings are used by {len(others)} more scope(s): "
            + ", ".join(others[:20])
            + (" ..." if len(others) > 20 else "")
        )
    lines += [
        f"Relay: {host} port {port} (TLS: {tls_mode})",
        f"Sent at: {now.isoformat(timespec='seconds')}",
        "",
        "No action is needed. If you did not expect this message,",
        "ask your platform team.",
    ]
    msg.set_content("\n".join(lines) + "\n")
    return _same_structure(msg)


def _new_message(from_addr: str, to_addr: str, fields: Iterable[tuple[str, str]]) -> EmailMessage:
    """A message From and To the two bare addresses, once they and ``fields`` are checked."""
    check_address("from", from_addr)
    check_address("to", to_addr)
    for name, value in fields:
        why = header_problem(value)
        if why is not None:
            raise UnsafeField(name, why)
    msg = EmailMessage(policy=SMTPUTF8 if needs_smtputf8(from_addr, to_addr) else SMTP)
    msg["From"] = _mail_address("from", from_addr)
    msg["To"] = _mail_address("to", to_addr)
    return msg


def _msgid_domain(from_addr: str) -> str:
    try:
        return idna.encode(from_addr.rpartition("@")[2], uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        return "smtp-iac.invalid"


def _mail_address(field: str, addr: str) -> MailAddress:
    local, _, domain = addr.rpartition("@")
    try:
        return MailAddress(username=local, domain=domain)
    except ValueError:  # the email package refuses what it cannot write as an address
        raise UnsafeField(field, f"{addr!r} is not a usable mail address") from None


KIND_HEADER = "X-Smtp-Iac-Kind"


def build_system_message(
    *, kind: str, from_addr: str, to_addr: str, subject: str, text: str, now: datetime | None = None
) -> EmailMessage:
    """A system e-mail of the platform (the service's mailer): the caller's subject and text,
    marked ``Auto-Submitted: auto-generated`` (RFC 3834, so that auto-responders stay quiet)
    and with its kind in ``X-Smtp-Iac-Kind``. Addresses and subject holding CR, LF or NUL, or
    an address that is not bare, raise ``UnsafeField``."""
    now = now or datetime.now(UTC)
    msg = _new_message(from_addr, to_addr, (("subject", subject), ("kind", kind)))
    try:
        msg["Subject"] = subject
    except ValueError:  # the email package's own refusal of what would change the header's structure
        raise UnsafeField("subject", "is not a usable header value") from None
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_msgid_domain(from_addr))
    msg["Auto-Submitted"] = "auto-generated"
    msg[KIND_HEADER] = kind
    msg.set_content(text if text.endswith("\n") else text + "\n")
    return _same_structure(msg)


def _same_structure(msg: EmailMessage) -> EmailMessage:
    """``msg`` when its serialized header block holds exactly the header fields that were set,
    in order; else ``UnsafeField`` (a field's text became header lines of its own)."""
    for name in ("From", "To"):
        if len(msg[name].addresses) != 1:
            raise UnsafeField(name.lower(), "would name more than one address")
    head = msg.as_bytes().split(b"\r\n\r\n" if msg.policy.linesep == "\r\n" else b"\n\n", 1)[0]
    written = [
        line.split(b":", 1)[0].decode("ascii", "replace").lower()
        for line in head.splitlines()
        if line[:1] not in (b" ", b"\t")
    ]
    if written != [k.lower() for k in msg]:
        raise UnsafeField("message", "a field would write header lines of its own")
    return msg
