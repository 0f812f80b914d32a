"""The tier map: organizations a page at a time, each with the tier in force for it (the rule
of ``resolve``), and how many organizations a scope's record reaches (its blast radius).

What a console needs at 20,000 organizations without shipping them all: the store answers a
``OrgQuery`` with one ``Page`` of ``OrgRow`` and the total that matched, in a constant number
of queries (``store/tiermap.py``). Pure values here: the query (checked), the rows, and which
tiers a record at an address reaches through (``reaches_through``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from .addresses import Address, Tier

PAGE_MAX = 100
"""The most rows a page carries (a console shows 50)."""

TIERS = ("organization", "partner", "controller", "none")
"""The tier an organization's effective settings come from (``Resolution.tier``)."""

_SEARCH = re.compile(r"^[a-z0-9-]{0,63}$")

T = TypeVar("T")


@dataclass(frozen=True)
class OrgQuery:
    """Which organizations, and which page of them (code-point order of partner, then id).

    ``partner``: one partner's organizations; ``org``: exactly one (an org admin's reach);
    ``search``: a part of the organization's id; ``tier``: only those whose settings come from
    that tier. ValueError names a bad value."""

    partner: str | None = None
    org: str | None = None
    search: str = ""
    tier: str | None = None
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if not _SEARCH.fullmatch(self.search):
            raise ValueError("search: lower-case letters, digits and '-' only (a part of an organization id)")
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(f"tier: one of {', '.join(TIERS)}")
        if self.org is not None and self.partner is None:
            raise ValueError("org: needs its partner")
        if not 0 <= self.offset <= 10**9:
            raise ValueError("offset: 0 or more")
        if not 1 <= self.limit <= PAGE_MAX:
            raise ValueError(f"limit: 1 to {PAGE_MAX}")


@dataclass(frozen=True)
class OrgRow:
    address: Address
    smtp_enabled: bool
    tier: str  # where its settings come from: organization, partner, controller or none
    own_record: bool  # it has a record of its own (used only while smtp_enabled)
    managed_by: str | None  # the stack that manages its own record; None: the console (or no record)


@dataclass(frozen=True)
class PartnerRow:
    partner: str
    organizations: int
    has_record: bool
    managed_by: str | None
    host: str | None = None  # its record's relay (None: no record, its organizations inherit)
    port: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int  # how many matched, over every page
    offset: int
    limit: int


IN_FORCE = ("organization", "partner", "inherited")
"""What the store keeps of an organization's tier (``organizations.in_force``): 'inherited' is
the controller's tier while it has a record, else 'none'."""


def in_force(smtp_enabled: bool, own_record: bool, partner_record: bool) -> str:
    """The kept value of ``resolve``'s rule: the organization's own record counts only while its
    switch is on; then its partner's; anything else inherits (the controller's, or none)."""
    if own_record and smtp_enabled:
        return "organization"
    return "partner" if partner_record else "inherited"


def shown_tier(kept: str, controller_record: bool) -> str:
    """The tier (``TIERS``) of a kept value, given whether the controller has a record."""
    if kept == "inherited":
        return "controller" if controller_record else "none"
    return kept


def kept_tiers(tiers: tuple[str, ...], controller_record: bool) -> tuple[str, ...]:
    """The kept values whose tier is one of ``tiers`` (empty: no organization can match)."""
    return tuple(k for k in IN_FORCE if shown_tier(k, controller_record) in tiers)


def reaches_through(address: Address) -> tuple[str, ...]:
    """The effective tiers of the organizations under ``address`` whose mail a record there
    carries (or would carry, once written): every organization below it that has nothing more
    specific in force. The count of those is the blast radius of saving the record."""
    if address.tier is Tier.CONTROLLER:
        return ("controller", "none")
    if address.tier is Tier.PARTNER:
        return ("partner", "controller", "none")
    return TIERS  # the organization itself, while its switch is on (the store checks that)
