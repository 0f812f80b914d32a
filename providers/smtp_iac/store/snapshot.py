"""What a read of the whole platform returns: every record and every tenant, taken in one
consistent read (a constant number of queries, whatever the number of organizations), and
the effective settings computed from it in memory by ``smtp_iac.resolve``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..addresses import Address
from ..errors import SmtpIacError, UnknownTenant
from ..models import LiveRecord, Organization
from ..resolve import Resolution, resolve, resolve_all


@dataclass(frozen=True)
class Tenants:
    """Partners and their organizations. ``partners`` maps partner id -> sorted org ids;
    ``orgs`` is in address order (partner, then org)."""

    partners: dict[str, list[str]] = field(default_factory=dict)
    orgs: dict[Address, Organization] = field(default_factory=dict)

    def has_partner(self, partner: str) -> bool:
        return partner in self.partners

    def org(self, address: Address) -> Organization | None:
        return self.orgs.get(address)

    def smtp_enabled(self, address: Address) -> bool:
        o = self.orgs.get(address)
        return bool(o and o.smtp_enabled)

    def known(self, address: Address) -> bool:
        """Whether a scope exists: the controller always; a partner or org if loaded."""
        if address.org:
            return address in self.orgs
        if address.partner:
            return address.partner in self.partners
        return True

    def unknown_among(self, addresses: set[Address]) -> set[Address]:
        """Those of ``addresses`` that are not ``known``, in bulk: a set difference with the
        organizations, then ``known`` for the few left (partners, the controller, unknown ones)."""
        return {a for a in addresses.difference(self.orgs) if not self.known(a)}

    def check(self, address: Address) -> None:
        """Raise ``UnknownTenant`` (with a hint) unless ``address`` names a known scope."""
        if self.known(address):
            return
        raise unknown_tenant(
            address, self.partners.keys(), [o.partner for o in self.orgs.values() if o.name == address.org]
        )

    def write_refusal(self, address: Address) -> SmtpIacError | None:
        """Nothing beyond the tenants refuses a write here (``remote_tenants`` for a service token)."""
        return None

    def to_doc(self) -> dict[str, Any]:
        """The same shape as a tenants file (``tenants list --format json`` prints this)."""
        return {
            "partners": {
                p: {"organizations": {o: {"smtp_enabled": self.orgs[Address(p, o)].smtp_enabled} for o in orgs}}
                for p, orgs in sorted(self.partners.items())
            }
        }


def unknown_tenant(address: Address, known: Iterable[str], partners_having_org: list[str]) -> UnknownTenant:
    """The one wording of "the store does not know this scope", shared by store and snapshot."""
    partners = list(known)
    if address.partner not in partners:
        near = difflib.get_close_matches(address.partner, partners, n=3)
        hint = (f"did you mean {', '.join(near)}? " if near else "") + "load it first: smtp-iac tenants load FILE"
        return UnknownTenant(f"partner '{address.partner}' is not known to the store", address=address, hint=hint)
    if partners_having_org:
        where = ", ".join(f"partners/{p}" for p in sorted(partners_having_org))
        return UnknownTenant(
            f"organization '{address.org}' is not under partner '{address.partner}'",
            address=address,
            hint=f"it belongs to {where}",
        )
    return UnknownTenant(
        f"organization '{address.org}' is not known to the store",
        address=address,
        hint="load it first: smtp-iac tenants load FILE",
    )


ORG_HINT = "give partners/<p>/organizations/<o>, <p>/<o> or <o>"


def parse_org_ref(ref: str) -> Address | str:
    """An organization reference (``Store.find_org``): the address of ``partners/p/organizations/o``
    or ``p/o``, or a bare organization id (its text) to be looked up. UnknownTenant when it is
    none of those, or names a partner."""
    ref = (ref or "").strip()
    if not (ref.startswith("partners/") or ref.count("/") == 1):
        return ref
    try:
        address = Address.parse(ref) if ref.startswith("partners/") else Address(*ref.split("/"))
    except ValueError as e:
        raise UnknownTenant(str(e), hint=ORG_HINT) from None
    if not address.org:
        raise UnknownTenant(f"{address} is a partner, not an organization", address=address, hint=ORG_HINT)
    return address


@dataclass(frozen=True)
class Snapshot:
    records: dict[Address, LiveRecord]
    tenants: Tenants

    def effective(self, org: Address) -> Resolution[LiveRecord]:
        """Effective settings of one known organization (UnknownTenant otherwise)."""
        if not org.org:
            raise UnknownTenant(
                f"{org} is not an organization address",
                address=org,
                hint="use partners/<partner>/organizations/<org>",
            )
        self.tenants.check(org)
        return resolve(org, self.tenants.smtp_enabled(org), self.records)

    def effective_all(self) -> dict[Address, Resolution[LiveRecord]]:
        """Effective settings of every known organization, in address order (``Store`` builds
        ``tenants.orgs`` in that order already)."""
        return resolve_all(((a, o.smtp_enabled) for a, o in self.tenants.orgs.items()), self.records)


@dataclass(frozen=True)
class TenantsChange:
    """What ``load_tenants`` did."""

    partners_added: list[str] = field(default_factory=list)
    orgs_added: list[Address] = field(default_factory=list)
    enabled: list[Address] = field(default_factory=list)  # existing orgs switched on
    disabled: list[Address] = field(default_factory=list)  # existing orgs switched off
    unchanged: int = 0  # partners + orgs already known and left as they were

    @property
    def changed(self) -> bool:
        return bool(self.partners_added or self.orgs_added or self.enabled or self.disabled)

    def summary(self) -> str:
        return (
            f"{len(self.partners_added)} partner(s) added, {len(self.orgs_added)} organization(s) added, "
            f"smtp enabled on {len(self.enabled)}, disabled on {len(self.disabled)}, "
            f"{self.unchanged} unchanged"
        )
