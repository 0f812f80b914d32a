"""The platform's override table as a pure function.

Effective settings of organization O under partner P: O's own record if O has one AND O's
SMTP feature is enabled; else P's record if P has one; else the controller's; else none.
A record overrides whole, never field by field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from .addresses import CONTROLLER, Address

T = TypeVar("T")


class StepOutcome(StrEnum):
    """What the resolution found at one tier."""

    USED = "used"
    NO_RECORD = "no record"
    SMTP_DISABLED = "record ignored: organization SMTP feature disabled"


@dataclass(frozen=True)
class Step:
    address: Address
    outcome: StepOutcome


@dataclass(frozen=True)
class Resolution(Generic[T]):
    org: Address
    source: Address | None  # the address whose record applies; None: no SMTP at all
    record: T | None
    chain: tuple[Step, ...]  # the tiers looked at, most specific first, ending with the one used
    smtp_enabled: bool = False  # the organization's SMTP switch, as the rule read it

    @property
    def tier(self) -> str:
        return self.source.tier.value if self.source is not None else "none"


def resolve(org: Address, smtp_enabled: bool, records: Mapping[Address, T]) -> Resolution[T]:
    """Effective settings of one organization. ``records`` maps address -> record (any type)."""
    if org.org == "":
        raise ValueError(f"{org} is not an organization address")
    chain: list[Step] = []
    own = records.get(org)
    if own is not None and smtp_enabled:
        return Resolution(org, org, own, (Step(org, StepOutcome.USED),), smtp_enabled)
    chain.append(Step(org, StepOutcome.SMTP_DISABLED if own is not None else StepOutcome.NO_RECORD))
    for tier in (Address(org.partner), CONTROLLER):
        rec = records.get(tier)
        if rec is not None:
            chain.append(Step(tier, StepOutcome.USED))
            return Resolution(org, tier, rec, tuple(chain), smtp_enabled)
        chain.append(Step(tier, StepOutcome.NO_RECORD))
    return Resolution(org, None, None, tuple(chain), smtp_enabled)


def effective_source(org: Address, smtp_enabled: bool, records: Mapping[Address, object]) -> Address | None:
    """``resolve(...).source`` without the chain that explains it: the same rule, for callers
    that resolve thousands of organizations and keep only where each one's settings come from
    (the blast radius). ``tests/test_resolve_properties.py`` holds the two to the same table."""
    if org.org == "":
        raise ValueError(f"{org} is not an organization address")
    get = records.get
    if smtp_enabled and get(org) is not None:
        return org
    partner = Address.trusted(org.partner)  # the id of a valid organization address
    if get(partner) is not None:
        return partner
    return CONTROLLER if get(CONTROLLER) is not None else None


def resolve_all(orgs: Iterable[tuple[Address, bool]], records: Mapping[Address, T]) -> dict[Address, Resolution[T]]:
    """Effective settings of many organizations against one snapshot of records."""
    return {org: resolve(org, enabled, records) for org, enabled in orgs}
