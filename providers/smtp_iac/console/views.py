"""What the pages say, decided apart from HTTP: what a role is offered (``Offers``, from the
same ``access.decide`` the API enforces, so a page never offers what the API would refuse),
how a chain and a tier read in words, the platform's troubleshooting list, and page navigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..access import Act, Denied, decide, lists_partners, own_reach
from ..addresses import CONTROLLER, Address
from ..errors import FeatureDisabled
from ..tokens import Role, TokenInfo

TROUBLESHOOTING = (
    "Verify the SMTP hostname, port, and credentials are correct.",
    "Confirm the TLS setting matches your SMTP provider's requirements (587: STARTTLS, 465: SSL/TLS, "
    "25: not recommended).",
    "Ensure your network allows outbound connections on the configured SMTP port.",
    "If the issue persists, contact your system administrator.",
)
"""The platform's troubleshooting section, shown with every failed check."""

SWITCH_OFF_ADVICE = (
    "The SMTP Configuration feature is not enabled for this organization. "
    f"To use your own SMTP server, {FeatureDisabled.ADVICE}."
)

TIER_WORDS = {
    "organization": "its own settings",
    "partner": "the partner's settings",
    "controller": "the controller default",
    "none": "no SMTP settings (no tier has a record)",
}

STEP_WORDS = {
    "used": "used",
    "no record": "no record here, so the next tier is looked at",
    "record ignored: organization SMTP feature disabled": "has a record, ignored while the SMTP switch is off",
}


@dataclass(frozen=True)
class Offers:
    """What a token is offered at one address."""

    read: bool
    write: bool  # and so Send Test Email (``access``: TEST goes with WRITE)
    switch: bool
    audit: bool


def offers(who: TokenInfo, address: Address, smtp_enabled: bool = True) -> Offers:
    def may(act: Act) -> bool:
        return decide(who, act, address, smtp_enabled=smtp_enabled) is None

    return Offers(
        read=may(Act.READ),
        write=may(Act.WRITE),
        switch=bool(address.org) and may(Act.SWITCH),
        audit=may(Act.AUDIT),
    )


def home(who: TokenInfo) -> str:
    """Where a token lands after sign-in: an org admin on its organization, others on the tier map."""
    if who.role is Role.ORG_ADMIN and who.org is not None:
        return f"/organizations/{who.org}"
    return "/"


def sees_controller(who: TokenInfo) -> bool:
    return decide(who, Act.READ, CONTROLLER) is None


def sees_partners(who: TokenInfo) -> bool:
    """Whether the token reads a list of partners (``access.lists_partners``, as the API's tier map)."""
    return not isinstance(lists_partners(who, None), Denied)


def sees_health(who: TokenInfo) -> bool:
    """Whether the token reads relay health within its own reach (``GET /v1/health``, judged by
    the API's ``access.decide``; the mailer does not): a page does not ask what would be refused."""
    partners, orgs = own_reach(who)
    address = next(iter(orgs), None) or (Address(next(iter(partners))) if partners else CONTROLLER)
    return decide(who, Act.HEALTH, address) is None


@dataclass(frozen=True)
class Pager:
    """Previous and next links of a paged table (``offset``/``limit`` over ``total`` rows)."""

    total: int
    offset: int
    limit: int
    base: dict[str, Any]
    param: str = "offset"

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    def link(self, offset: int) -> str:
        query = {k: v for k, v in self.base.items() if v not in (None, "", 0)} | {self.param: offset}
        return "/?" + urlencode(query)

    @property
    def previous(self) -> str | None:
        return self.link(max(0, self.offset - self.limit)) if self.offset > 0 else None

    @property
    def next(self) -> str | None:
        return self.link(self.offset + self.limit) if self.offset + self.limit < self.total else None


def inherits_words(controller: Mapping[str, Any] | None, known: bool) -> str:
    """What the tier map says of a partner's relay when the partner has no record: its
    organizations inherit the controller default (named when the reader sees it; ``known``:
    the page knows whether there is one)."""
    if controller:
        return f"inherits controller ({controller['host']}:{controller['port']})"
    if known:
        return "inherits controller: none set, so no relay"
    return "inherits controller"


def scope_label(address: Address) -> str:
    """How a scope is named on a page (the platform's consoles: Ops Console for partners, Web Console for orgs)."""
    if address == CONTROLLER:
        return "Controller default"
    if not address.org:
        return f"Partner {address.partner}"
    return f"Organization {address.org} (partner {address.partner})"


def console_name(address: Address) -> str:
    if address == CONTROLLER:
        return "Administrator"
    return "Ops Console" if not address.org else "Web Console"


def blast_words(address: Address, count: int | None, smtp_enabled: bool) -> str | None:
    """What saving moves, in words (None: the count could not be had)."""
    if count is None:
        return None
    if address.org:
        if not smtp_enabled:
            return "The SMTP switch is off: a record saved here is kept, and used once the switch is on."
        return "Saving changes the mail of this organization (1 organization)."
    noun = "organization" if count == 1 else "organizations"
    return f"Saving changes the mail of {count:,} {noun}: every one below this scope without settings of its own."
