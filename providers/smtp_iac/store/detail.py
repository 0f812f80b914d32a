"""What the audit log says of a record write, and who may be named as its stack.

A write comes from a stack (``smtp-iac apply``, the Pulumi provider, a pipeline through the
service: ``stack`` is its name, and it takes ownership) or from out of band (``stack=None``:
a person in the console, an API client that is no stack). An out-of-band write keeps
``managed_by`` as it was, so the stack that manages the scope sees the change as drift.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..models import SETTINGS_FIELDS, has_unsafe_chars


def check_stack(stack: str | None) -> None:
    """A stack name is a non-empty single line (None: an out-of-band write)."""
    if stack is None:
        return
    if not isinstance(stack, str) or not stack.strip() or has_unsafe_chars(stack):
        raise StoreError(f"invalid stack name {stack!r}", hint="a stack name is a non-empty single line")


def change_detail(
    old: dict[str, Any], owner: str | None, fields: dict[str, Any], password_changed: bool, stack: str | None
) -> str:
    """``changed: host, password; adopted from stack 'prod'`` for an update of ``old`` (whose
    stack was ``owner``) to ``fields`` by ``stack``."""
    changed = [f for f in SETTINGS_FIELDS if old.get(f) != fields.get(f)]
    if password_changed:
        changed.append("password")
    text = "changed: " + (", ".join(changed) if changed else "nothing (rewritten)")
    if stack is None:
        text += "; out of band" + (f" (the scope stays managed by stack '{owner}')" if owner else "")
    elif owner and owner != stack:
        text += f"; adopted from stack '{owner}'"
    elif not owner:
        text += "; now managed"
    return text
