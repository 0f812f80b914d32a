"""Rules of SPEC's stack-file section that a JSON Schema cannot say (cross-field, host
syntax, invisible characters, warnings). They read plain data and are defensive about types:
the schema reports type errors; a rule skips a value of the wrong type.

Hosts (``check_host``): a DNS name or an IP literal. A name that is not all ASCII is an IDNA 2008
name (the ``idna`` package, UTS 46 mapping, non-transitional: ``faß.de`` is ``xn--fa-hia.de``, not
IDNA 2003's ``fass.de``) and must already be written in its mapped form (but for letter case):
UTS 46 would silently turn fullwidth ``smtp`` and a fullwidth full stop into ASCII and drop a ZERO WIDTH SPACE, so
what a reviewer reads would not be the host that is used. ``host_ascii`` gives the A-label form
that is used (``verify`` should connect to it). An ``xn--`` label must be a valid A-label.

Invisible characters (``invisible_problems``): no string of a stack file, key or value, may hold
a character that is not shown or that changes how the text around it is shown: what a reviewer
reads in a pull request must be what is used. Refused (``INVISIBLE``): every format character
(Unicode category Cf: soft hyphen, zero-width space and joiners, left-to-right/right-to-left
marks, bidi embeddings, overrides and isolates, word joiner, invisible operators, byte order
mark, interlinear annotation, tag characters, ...), every other Default_Ignorable_Code_Point
(combining grapheme joiner, Hangul fillers, Khmer inherent vowels, variation selectors, ...),
the line and paragraph separators (Zl, Zp), and the control characters (Cc) but TAB (shown as
space) and CR, LF and NUL (refused by their own rule, with its own message). Comments are not
read: they are not data. Spaces (Zs) are visible; where they are wrong (hosts, addresses), the
schema refuses them. The check names the first such character of a string by code point and
name (``U+200B ZERO WIDTH SPACE``) and stands at the value, or at the key.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import idna

from .schema import JsonPath, Problem

OWN_ENV_PREFIX = "SMTP_IAC_"
MAX_IDN_HOSTS = 10_000
"""Different internationalized (not ASCII) host names checked in one document. An IDNA 2008
check costs about 20 us; a platform of 20,000 organizations uses a few relays. A stack file
from a pull request must not make validate slow with 60,000 different ones."""
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_INET_ATON = re.compile(r"^(?:0[xX][0-9A-Fa-f]*|[0-9]+)(?:\.(?:0[xX][0-9A-Fa-f]*|[0-9]+)){0,3}$")
"""What the C resolver's ``inet_aton`` reads as an IPv4 address: one to four parts, each decimal,
octal (leading 0) or hex (0x): ``0x7f000001``, ``127.1`` and ``2130706433`` all reach 127.0.0.1,
so a host written so is refused unless it is a plain dotted quad."""

INVISIBLE = re.compile(
    "["
    "\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but NUL, TAB, LF, CR
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "]"
)
"""Cf, Zl, Zp, Cc (but NUL, TAB, LF, CR) and Default_Ignorable_Code_Point, Unicode 15.1 (a test
checks it against the running Python's ``unicodedata``)."""
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def describe_char(c: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character by code point and name."""
    name = unicodedata.name(c, "") or ("" if unicodedata.category(c) == "Cc" else "(unassigned)")
    return f"U+{ord(c):04X} {name}".rstrip()


def invisible_char(text: str) -> str | None:
    """Why ``text`` may not be shown as it is (its first invisible, direction-changing or
    control character, described), or None."""
    m = INVISIBLE.search(text)
    if m is None:
        return None
    c = m.group()
    category = unicodedata.category(c)
    kind = (
        "a bidirectional control character, which reorders how the text around it is shown"
        if c in _BIDI
        else "a control character"
        if category == "Cc"
        else "a line or paragraph separator"
        if category in ("Zl", "Zp")
        else "an invisible character"
    )
    return f"{describe_char(c)}, {kind}: what a reviewer reads is not what is used; remove it"


def none_invisible(text: str) -> bool:
    """Whether no string read from the YAML ``text`` can hold an INVISIBLE character: the text
    has none, nor any backslash (an escape of a double-quoted scalar, ``"\\u200b"``, is the
    only way to write one without it; YAML's own line breaks NEL, LS and PS are INVISIBLE).
    One search of the text instead of one per string: 20,000 organizations have 100,000."""
    if "\\" in text:
        return False
    if text.isascii():  # then only the ASCII controls can be there: deleting the rest is C speed
        return not text.encode("ascii").translate(None, _SHOWN_ASCII)
    return INVISIBLE.search(text) is None


_SHOWN_ASCII = bytes([0, 9, 10, 13, *range(0x20, 0x7F)])  # ASCII but INVISIBLE's (NUL has its own rule)


def invisible_problems(parts: Iterable[tuple[JsonPath, Any, bool]], limit: int) -> tuple[list[Problem], int]:
    """The first ``limit`` problems (in the order given, each part's strings in document order)
    of every string in ``parts`` (path, value, whether path[-1] is a key to check too), and
    the number of the rest."""
    found: list[tuple[JsonPath, str, bool]] = []  # path, the text, at the key
    search = INVISIBLE.search
    for path, value, with_key in parts:
        if with_key and type(path[-1]) is str and search(path[-1]):
            found.append((path, path[-1], True))
        if type(value) is str:
            if search(value):
                found.append((path, value, False))
        elif value is not None:
            _scan(path, value, found)
    problems = [_invisible(path, text, at_key) for path, text, at_key in found[:limit]]
    return problems, max(0, len(found) - limit)


def _scan(path: JsonPath, value: Any, found: list[tuple[JsonPath, str, bool]]) -> None:
    """Every string of ``value`` with an INVISIBLE character, keys too, into ``found``."""
    search = INVISIBLE.search
    items: Iterable[tuple[str | int, Any]]
    if type(value) is dict:
        found += [(path + (k,), k, True) for k in value if type(k) is str and search(k)]
        items = value.items()
    elif type(value) is list:
        items = enumerate(value)
    else:
        return
    for k, v in items:
        t = type(v)
        if t is str:
            if search(v):
                found.append((path + (k,), v, False))
        elif t is dict or t is list:
            _scan(path + (k,), v, found)


def _invisible(path: JsonPath, text: str, at_key: bool) -> Problem:
    why = invisible_char(text)
    if at_key:
        return Problem(path, f"key '{shown(text)}' contains {why}", at_key=True)
    named = [p for p in path if isinstance(p, str)]
    return Problem(path, f"{shown(named[-1]) if named else 'document'} contains {why}")


def shown(text: str) -> str:
    """At most 80 characters of ``text`` on one line, as a reviewer should see them: invisible,
    control and other unprintable characters escaped (``\\u200b``), the rest as they are."""
    return "".join(
        c if c.isprintable() and not INVISIBLE.match(c) else c.encode("unicode_escape").decode("ascii")
        for c in text[:80]
    )


class HostError(ValueError):
    """Why a host is not a DNS name (IDNA allowed) or an IP literal."""


@lru_cache(maxsize=4096)
def check_host(host: str) -> str | None:
    """Why ``host`` is not a DNS name (IDNA allowed) or an IP literal, or None if it is."""
    try:
        host_ascii(host)
    except HostError as e:
        return str(e)
    return None


def host_ascii(host: str) -> str:
    """The host as it is used on the network: an IP literal as written, a name in its ASCII
    (A-label, IDNA 2008) form. Raises ``HostError`` for a host ``check_host`` refuses."""
    if host.startswith("[") and host.endswith("]"):
        raise HostError("write an IPv6 address without brackets (e.g. ::1)")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise HostError(
                "host is neither a DNS name nor a valid IPv6 address (a port goes in port:, not in host)"
            ) from None
        return host
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if _INET_ATON.match(name) or all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            raise HostError(
                "host looks like an IPv4 address but is not a valid one: write an IPv4 address as four "
                "decimal numbers a.b.c.d (resolvers read 0x7f000001 or 127.1 as 127.0.0.1)"
            ) from None
        return host
    ascii_labels = [_ascii_label(label) if label.isascii() else _alabel(label) for label in labels]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > 253:
        raise HostError("host is longer than 253 characters")
    return ascii_name + ("." if host.endswith(".") else "")


def _ascii_label(label: str) -> str:
    """A label written in ASCII: a DNS label, and if it says ``xn--``, a valid IDNA A-label."""
    if not _LABEL.match(label):
        raise HostError(
            f"host label '{shown(label)}' is not a valid DNS label (letters, digits, '-', 1 to 63 characters)"
        )
    if label[:4].lower() == "xn--":
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            raise HostError(f"host label '{label}' is not a valid IDNA A-label (xn--...)") from None
    return label


@lru_cache(maxsize=4096)
def _alabel(label: str) -> str:
    """IDNA 2008 with the UTS 46 mapping; refused when the mapping would change more than letter case."""
    try:
        mapped = idna.uts46_remap(label, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError) as e:
        raise HostError(f"host is not a valid internationalized DNS name ({_idna_reason(e)})") from None
    if mapped != label.lower():
        if unicodedata.normalize("NFC", label).lower() == mapped:
            raise HostError(
                f"host is not in Unicode normal form NFC: '{shown(label)}' is used as '{shown(mapped)}'; write it so"
            )
        raise HostError(
            f"host is not written as it would be used: IDNA maps '{shown(label)}' to '{shown(mapped)}'; "
            "write that instead"
        )
    try:
        return idna.alabel(mapped).decode("ascii")
    except (idna.IDNAError, UnicodeError) as e:
        raise HostError(f"host is not a valid internationalized DNS name ({_idna_reason(e)})") from None


def _idna_reason(e: Exception) -> str:
    return "IDNA 2008: " + shown(str(e) or type(e).__name__)


def check_settings(s: Any, path: JsonPath = (), skip: frozenset[JsonPath] = frozenset()) -> list[Problem]:
    """Rules for one settings mapping at ``path``. ``skip``: paths the schema already flagged."""
    if not isinstance(s, dict):
        return []
    out: list[Problem] = []
    host, port, tls, mode = s.get("host"), s.get("port"), s.get("tls"), s.get("tls_mode")
    port_ok = isinstance(port, int) and not isinstance(port, bool) and path + ("port",) not in skip
    tls_ok = isinstance(tls, bool) and path + ("tls",) not in skip
    if isinstance(host, str) and host and path + ("host",) not in skip and not INVISIBLE.search(host):
        why = check_host(host)
        if why:
            out.append(Problem(path + ("host",), why))
    ref = s.get("password")
    env = ref.get("env") if isinstance(ref, dict) else None
    if isinstance(env, str) and env.upper().startswith(OWN_ENV_PREFIX) and path + ("password", "env") not in skip:
        # Verify logs in to the stack's host with this value: a stack file in a pull request
        # must not be able to send smtp-iac's own store URL or key to a host it chooses.
        out.append(
            Problem(
                path + ("password", "env"),
                f"env {env} is one of smtp-iac's own settings ({OWN_ENV_PREFIX}*), not an SMTP password",
            )
        )
    out.extend(_header_problems(s, path, ("sender",), skip))
    if port_ok and tls_ok and port == 465 and tls is False:
        out.append(Problem(path + ("port",), "port 465 is implicit TLS: set tls: true (or use 587 with STARTTLS)"))
    if tls_ok and tls is False:
        if isinstance(mode, str):
            out.append(Problem(path + ("tls_mode",), "tls_mode is only allowed with tls: true"))
        out.append(
            Problem(path + ("tls",), "tls: false sends the SMTP password in clear text; enable TLS", severity="warning")
        )
    if port_ok and port == 25:
        out.append(
            Problem(
                path + ("port",), "port 25 is not recommended and often blocked by ISPs; use 587", severity="warning"
            )
        )
    if port_ok and tls_ok and tls and isinstance(mode, str):
        if mode == "implicit" and port == 587:
            out.append(
                Problem(
                    path + ("tls_mode",),
                    "tls_mode implicit on port 587, which normally speaks STARTTLS",
                    severity="warning",
                )
            )
        if mode == "starttls" and port == 465:
            out.append(
                Problem(
                    path + ("tls_mode",),
                    "tls_mode starttls on port 465, which normally speaks implicit TLS",
                    severity="warning",
                )
            )
    return out


def _header_problems(
    data: dict[str, Any], path: JsonPath, keys: tuple[str, ...], skip: frozenset[JsonPath]
) -> list[Problem]:
    """Mail addresses that would become header fields (``sender``, ``verify.to``/``from``): an
    RFC 2047 encoded word that decodes to a line break would write header lines of its own
    (``verify.message.header_problem``; the email package is imported only for such a value)."""
    out: list[Problem] = []
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and "=?" in value and path + (key,) not in skip:
            from ..verify.message import header_problem

            why = header_problem(value, "to")
            if why is not None:
                out.append(Problem(path + (key,), f"{key} {why}"))
    return out


def iter_settings(data: Any) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """Every ``smtp:`` settings mapping of a stack document, with its path."""
    if not isinstance(data, dict):
        return
    ctrl = data.get("controller")
    if isinstance(ctrl, dict) and isinstance(ctrl.get("smtp"), dict):
        yield ("controller", "smtp"), ctrl["smtp"]
    partners = data.get("partners")
    if not isinstance(partners, dict):
        return
    for p, pentry in partners.items():
        if not isinstance(pentry, dict):
            continue
        if isinstance(pentry.get("smtp"), dict):
            yield ("partners", p, "smtp"), pentry["smtp"]
        orgs = pentry.get("organizations")
        if isinstance(orgs, dict):
            for o, oentry in orgs.items():
                if isinstance(oentry, dict) and isinstance(oentry.get("smtp"), dict):
                    yield ("partners", p, "organizations", o, "smtp"), oentry["smtp"]


def check_document(
    data: Any, skip: frozenset[JsonPath] = frozenset(), exclude: frozenset[JsonPath] = frozenset()
) -> list[Problem]:
    """Rules of every settings mapping but those at ``exclude``, and of ``verify``. At most
    ``MAX_IDN_HOSTS`` different internationalized host names are checked (past it, an error)."""
    out: list[Problem] = []
    idn: set[str] = set()
    for path, settings in iter_settings(data):
        if path in exclude:
            continue
        host = settings.get("host")
        if isinstance(host, str) and not host.isascii() and host not in idn:
            if len(idn) == MAX_IDN_HOSTS:  # one error, at the first one past the limit; no more are checked
                out.append(
                    Problem(
                        path + ("host",),
                        f"more than {MAX_IDN_HOSTS:,} different internationalized host names in one stack "
                        "(each costs an IDNA 2008 check); split the stack",
                    )
                )
            if len(idn) >= MAX_IDN_HOSTS:
                settings = {k: v for k, v in settings.items() if k != "host"}
            idn.add(host)
        out.extend(check_settings(settings, path, skip))
    verify = data.get("verify") if isinstance(data, dict) else None
    if isinstance(verify, dict):
        out.extend(_header_problems(verify, ("verify",), ("to", "from"), skip))
    if isinstance(verify, dict) and verify.get("mode") == "off":
        out.append(
            Problem(
                ("verify", "mode"), "verify mode off: changes are written without an SMTP check", severity="warning"
            )
        )
    return out
