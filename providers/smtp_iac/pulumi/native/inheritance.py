"""``smtp-iac:index:SmtpInheritance`` in the native plugin: the managed ABSENCE of an override.

Creating it removes the override that is there (``removedVersion`` says which version);
a refresh reports one that appeared since (``overridePresent``), and the next update removes
it: the resource's whole intent is "no override here", so the update removes whichever version
is there, still under the ownership rule (another owner's override is refused without
``adopt``). An override that appeared after the last refresh is a conflict that says to refresh.
Deleting the resource changes nothing in the store.
"""

from __future__ import annotations

from typing import Any

from ...addresses import Address
from .. import properties as P
from ..operations import LIVE, Operations
from .values import COMPUTED

INPUTS = ("address",)


def check(news: dict[str, Any]) -> tuple[dict[str, Any], list[P.Failure]]:
    inputs = {k: v for k, v in news.items() if k in INPUTS}
    return inputs, P.check_address(inputs)


def changes(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    changed = ["address"] if P.is_unknown(news.get("address")) or olds.get("address") != news.get("address") else []
    if olds.get("override_present"):
        changed.append("override_present")
    return changed


def preview(inputs: dict[str, Any]) -> dict[str, Any]:
    return {**inputs, "removed_version": COMPUTED, "override_present": False}


def remove(ops: Operations, owner: str, inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create (``olds`` None) or update: remove the override there; the outputs."""
    address = Address.parse(inputs["address"])
    expected = LIVE if olds is None or olds.get("override_present") else None
    removed = ops.remove(address, stack=owner, expected=expected)
    return {"address": str(address), "removed_version": removed.version if removed else None, "override_present": False}


def refresh(ops: Operations, id_: str, state: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``Read``, with state (refresh) or with only an id (import): whether an override is there."""
    state = P.normalize(state)
    address = Address.parse(str(state.get("address") or id_))
    present = ops.get(address) is not None
    outputs = {"address": str(address), "removed_version": state.get("removed_version"), "override_present": present}
    return id_ or str(address), outputs, {"address": str(address)}
