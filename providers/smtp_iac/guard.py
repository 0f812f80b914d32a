"""When a write of a scope is refused, as a pure rule shared by the two places that apply it:
``write.ScopeWriter`` (before any SMTP connection, on the record the caller read) and the
store (atomically, on the row inside the write's transaction).

A write decided against version ``expected`` (None: the scope was seen without a record) is
refused with ``ConflictError`` unless the live version is still ``expected``, and with
``OwnershipError`` when another stack manages the scope and adopting was not asked for. A
write out of band (``stack=None``: a person in the console) takes no ownership, so no
ownership check applies to it.
"""

from __future__ import annotations

import re
from typing import Final

from .addresses import Address
from .errors import ConflictError, OwnershipError

OWNER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"
"""Who may own (manage) a scope: a stack file's name (an id) or the native Pulumi provider's
owner name (``pulumi/<project>/<stack>``; Pulumi project and stack names take letters, digits,
``-``, ``_`` and ``.``)."""
_OWNER = re.compile(OWNER_PATTERN)


def valid_owner(name: object) -> bool:
    return isinstance(name, str) and _OWNER.fullmatch(name) is not None


def write_refusal(
    address: Address,
    *,
    expected: int | None,
    actual: int | None,
    owner: str | None,
    stack: str | None,
    adopt: bool,
    last_writer: str | None = None,
    last_written: str | None = None,
) -> ConflictError | OwnershipError | None:
    if actual != expected:
        return ConflictError(address, expected, actual, last_writer, last_written)
    if stack is not None and owner is not None and owner != stack and not adopt:
        return OwnershipError(address, owner, stack)
    return None
