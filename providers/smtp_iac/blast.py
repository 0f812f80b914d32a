"""Blast radius: which organizations' EFFECTIVE settings a change moves, from which tier to
which, summarized per partner. Pure: it resolves every organization against the records
before and after, with ``resolve``; a record is compared by content (every field and the
password's fingerprint), so an update of a partner record moves all its inheriting orgs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .addresses import CONTROLLER, Address
from .resolve import resolve


class ImpactKind(StrEnum):
    SOURCE = "source"  # the tier that applies changes
    SETTINGS = "settings"  # the same tier applies, with other settings


@dataclass(frozen=True)
class OrgImpact:
    org: Address
    before: Address | None  # the address whose record applied; None: no SMTP
    after: Address | None
    kind: ImpactKind


def label(source: Address | None) -> str:
    return source.tier.value if source is not None else "none"


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


def blast_radius(
    orgs: Iterable[tuple[Address, bool]], before: Mapping[Address, Hashable], after: Mapping[Address, Hashable]
) -> BlastRadius:
    """``orgs``: every organization with its SMTP switch. ``before``/``after``: address ->
    record content (hashable) of the live and the planned store.

    ``resolve`` reads only three records of an organization (its own, its partner's, the
    controller's), so an organization none of whose three changed is skipped unresolved; and
    while the controller's record changes, an organization whose partner keeps the same record
    before and after never reaches the controller. At 20,000 organizations this resolves the
    few thousand that can move instead of every one twice."""
    touched = {a for a in set(before) | set(after) if before.get(a) != after.get(a)}
    impacts: list[OrgImpact] = []
    per_partner: dict[str, PartnerImpact] = {}
    total = 0
    controller_touched = CONTROLLER in touched
    touched_partner_records = {a.partner for a in touched if a.partner and not a.org}
    touched_orgs = {a for a in touched if a.org}
    # partners whose own record is present (and the same) before and after: their orgs stop there
    partner_shields: dict[str, bool] = {}
    for org, enabled in orgs:
        total += 1
        pi = per_partner.get(org.partner)
        if pi is None:
            pi = per_partner[org.partner] = PartnerImpact(org.partner, 0)
            partner_shields[org.partner] = Address(org.partner) in before and org.partner not in touched_partner_records
        pi.organizations += 1
        if (
            org not in touched_orgs
            and org.partner not in touched_partner_records
            and (not controller_touched or partner_shields[org.partner])
        ):
            continue  # none of the records this org resolves through changed
        b = resolve(org, enabled, before)
        a = resolve(org, enabled, after)
        if b.source != a.source:
            kind = ImpactKind.SOURCE
        elif b.record != a.record:
            kind = ImpactKind.SETTINGS
        else:
            continue
        impacts.append(OrgImpact(org, b.source, a.source, kind))
        pi.affected += 1
        pi.transitions[(label(b.source), label(a.source), kind)] += 1
    partners = sorted((p for p in per_partner.values() if p.affected), key=lambda p: (-p.affected, p.partner))
    return BlastRadius(total, sorted(impacts, key=lambda i: i.org), partners)
