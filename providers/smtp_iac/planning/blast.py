"""Blast radius: which organizations' EFFECTIVE settings a change moves, from which tier to
which, summarized per partner. Pure: it resolves every organization that can move against the
records before and after, by ``resolve``'s rule (``effective_source``); a record is compared
by content (every field and the password's fingerprint), so an update of a partner record
moves all its inheriting orgs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from ..addresses import CONTROLLER, Address
from ..resolve import effective_source


class ImpactKind(StrEnum):
    SOURCE = "source"  # the tier that applies changes
    SETTINGS = "settings"  # the same tier applies, with other settings


class OrgImpact(NamedTuple):
    """One organization whose effective settings move (a named tuple: a plan may hold 20,000)."""

    org: Address
    before: Address | None  # the address whose record applied; None: no SMTP
    after: Address | None
    kind: ImpactKind


def label(source: Address | None) -> str:
    """The tier of ``source`` (a ``Tier``, which is its text), or ``none``."""
    return source.tier if source is not None else "none"


@dataclass
class PartnerImpact:
    partner: str
    organizations: int  # organizations under the partner
    affected: int = 0
    transitions: Counter[tuple[str, str, ImpactKind]] = field(
        default_factory=Counter
    )  # (before tier, after tier, kind) -> count

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "organizations": self.organizations,
            "affected": self.affected,
            "transitions": [
                {"from": f, "to": t, "kind": k, "count": n} for (f, t, k), n in sorted(self.transitions.items())
            ],
        }


@dataclass
class BlastRadius:
    organizations: int
    impacts: list[OrgImpact]
    partners: list[PartnerImpact]  # only partners with affected organizations, most affected first

    @property
    def affected(self) -> int:
        return len(self.impacts)

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "organizations": self.organizations,
            "affected": self.affected,
            "partners": [p.to_dict() for p in self.partners],
        }
        if details:
            d["impacts"] = [
                {
                    "org": str(i.org),
                    "before": str(i.before) if i.before else None,
                    "after": str(i.after) if i.after else None,
                    "kind": i.kind,
                }
                for i in self.impacts
            ]
        return d


class OrgsView(Protocol):
    """What the blast radius needs of the tenants (``store.snapshot.Tenants``)."""

    @property
    def partners(self) -> Mapping[str, Sequence[str]]:
        """Partner id -> the ids of its organizations."""

    def smtp_enabled(self, address: Address) -> bool: ...


def blast_radius(
    tenants: OrgsView, before: Mapping[Address, Hashable], after: Mapping[Address, Hashable]
) -> BlastRadius:
    """``tenants``: every organization, by partner, with its SMTP switch. ``before``/``after``:
    address -> record content (hashable) of the live and the planned store.

    ``resolve`` reads only three records of an organization (its own, its partner's, the
    controller's), so an organization none of whose three changed cannot move: a partner whose
    record did not change, and whose record shields its organizations from the controller's
    (or the controller's did not change either), has only its organizations with a changed
    record of their own looked at; the others are counted, not visited. At 20,000
    organizations this resolves the few thousand that can move, not every one twice."""
    touched = {a for a in before.keys() | after.keys() if before.get(a) != after.get(a)}
    controller_touched = CONTROLLER in touched
    touched_partners = {a.partner for a in touched if a.partner and not a.org}
    touched_orgs: dict[str, list[Address]] = {}
    for a in touched:
        if a.org:  # one the tenants do not know is off (``smtp_enabled``): it cannot move
            touched_orgs.setdefault(a.partner, []).append(a)
    impacts: list[OrgImpact] = []
    per_partner: list[PartnerImpact] = []
    total = 0
    trusted, enabled = Address.trusted, tenants.smtp_enabled
    for partner, names in tenants.partners.items():
        total += len(names)
        shielded = trusted(partner) in before and partner not in touched_partners
        if partner in touched_partners or (controller_touched and not shielded):
            orgs: Iterable[Address] = [trusted(partner, o) for o in names]  # any of them may move
        elif partner in touched_orgs:
            orgs = touched_orgs[partner]  # only those whose own record changed
        else:
            continue
        pi = PartnerImpact(partner, len(names))
        for org in orgs:
            on = enabled(org)
            was = effective_source(org, on, before)
            now = effective_source(org, on, after)
            if was != now:
                kind = ImpactKind.SOURCE
            elif was is not None and before[was] != after[was]:
                kind = ImpactKind.SETTINGS
            else:
                continue
            impacts.append(OrgImpact(org, was, now, kind))
            pi.affected += 1
            pi.transitions[(label(was), label(now), kind)] += 1
        if pi.affected:
            per_partner.append(pi)
    partners = sorted(per_partner, key=lambda p: (-p.affected, p.partner))
    return BlastRadius(total, sorted(impacts, key=lambda i: i.org), partners)
