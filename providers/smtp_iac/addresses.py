"""Scope addresses: ``controller``, ``partners/<p>``, ``partners/<p>/organizations/<o>``."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

ID_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_ID = re.compile(ID_PATTERN)


class Tier(StrEnum):
    CONTROLLER = "controller"
    PARTNER = "partner"
    ORGANIZATION = "organization"


@lru_cache(maxsize=65536)
def _valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def valid_id(value: str) -> bool:
    """Every Address checks its ids; a 20,000-org plan builds each address several times."""
    return isinstance(value, str) and _valid_id(value)


class _Ids(NamedTuple):
    partner: str = ""
    org: str = ""


class Address(_Ids):
    """A scope. Ordering puts the controller first, then each partner before its orgs.

    A tuple of its two ids (``""`` where absent), so that hashing, equality and ordering (the
    ids in turn, as a ``dataclass(order=True)`` would) are the interpreter's own: a
    20,000-organization plan hashes and compares addresses hundreds of thousands of times."""

    __slots__ = ()

    def __new__(cls, partner: str = "", org: str = "") -> Address:
        if org and not partner:
            raise ValueError("an organization address needs its partner")
        for part in (partner, org):
            if part and not valid_id(part):
                raise ValueError(f"invalid id {part!r}: must match {ID_PATTERN}")
        return tuple.__new__(cls, (partner, org))

    @property
    def tier(self) -> Tier:
        if self.org:
            return Tier.ORGANIZATION
        if self.partner:
            return Tier.PARTNER
        return Tier.CONTROLLER

    @property
    def parent(self) -> Address | None:
        if self.org:
            return Address(self.partner)
        if self.partner:
            return CONTROLLER
        return None

    def __str__(self) -> str:
        if self.org:
            return f"partners/{self.partner}/organizations/{self.org}"
        if self.partner:
            return f"partners/{self.partner}"
        return "controller"

    @classmethod
    def trusted(cls, partner: str, org: str = "") -> Address:
        """An address from ids that were already checked (a validated model, a store row),
        without checking them again: a 20,000-organization plan builds tens of thousands."""
        return tuple.__new__(cls, (partner, org))

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse an address. Raises ValueError with a message fit for the user."""
        parts = text.strip().strip("/").split("/")
        if parts == ["controller"]:
            return CONTROLLER
        if len(parts) == 2 and parts[0] == "partners":
            return cls(parts[1])
        if len(parts) == 4 and parts[0] == "partners" and parts[2] == "organizations":
            return cls(parts[1], parts[3])
        raise ValueError(
            f"invalid address {text!r}: expected controller, partners/<partner> "
            "or partners/<partner>/organizations/<org>"
        )


CONTROLLER = Address()
