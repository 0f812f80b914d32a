"""What the text of a stack (or tenants) file must be before the YAML reader sees it: at most
``MAX_BYTES`` bytes, UTF-8, and free of the line breaks that only YAML 1.1 knows.

NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029) are line breaks to
PyYAML and libyaml (YAML 1.1), characters of the line to YAML 1.2, editors and code review. Raw
in a file, one inside quotes is folded into a space, and one in a comment ends the comment, so
the data after it is read though a reviewer sees a comment: they are refused anywhere in the
text, located. Written as escapes of a double-quoted scalar they are characters of a value,
refused there as invisible (``rules.INVISIBLE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 16 * 1024 * 1024  # a 20,000-organization stack is about 1.1 MiB

Path = tuple[Any, ...]


@dataclass
class Problem:
    """A problem found before or while reading: message at a 1-based line and column."""

    line: int
    column: int
    message: str
    path: Path = ()  # where in the document, when the problem is in a value or key


def decode(raw: bytes) -> tuple[str | None, Problem | None]:
    """UTF-8 (with or without BOM). A bad byte is reported at its line and column."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        line, col = raw.count(b"\n", 0, e.start) + 1, e.start - raw.rfind(b"\n", 0, e.start)
        return None, Problem(line, col, f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})")


_YAML_ONLY_BREAK = re.compile("[\x85\u2028\u2029]")
_BREAK_NAMES = {
    "\x85": "U+0085 NEXT LINE (NEL)",
    "\u2028": "U+2028 LINE SEPARATOR",
    "\u2029": "U+2029 PARAGRAPH SEPARATOR",
}


def refuse_text(text: str) -> Problem | None:
    """The first raw YAML-1.1-only line break of ``text``, as a located problem, or None."""
    m = None if text.isascii() else _YAML_ONLY_BREAK.search(text)
    if m is None:
        return None
    line, col = line_col(text, m.start())
    return Problem(
        line,
        col,
        f"raw {_BREAK_NAMES[m.group()]}: the YAML reader takes it for a line break (inside quotes "
        "it is folded into a space; in a comment the comment ends there), editors and code review "
        "do not; what a reviewer reads is not what is used; remove it",
    )


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of ``pos``, lines ending at LF as editors count them."""
    return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)
