"""The tenants a service token reaches, as the planner sees them (``store.remote``): the
partners and organizations of its snapshot, and its role's limits. A scope beyond the token's
reach is refused in a plan as ``forbidden`` (with the role's reason), where a database store
would plan it; a scope in reach that the store does not know is still ``unknown_tenant``.
``find_org`` reads an organization reference as ``Store.find_org`` does, in the snapshot."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..access import Act, decide
from ..addresses import Address, valid_id
from ..errors import Forbidden, SmtpIacError, UnknownTenant
from ..models import Organization
from ..tokens import TokenInfo
from .snapshot import ORG_HINT, Tenants, parse_org_ref


@dataclass(frozen=True)
class ReachTenants(Tenants):
    token: TokenInfo | None = None

    def _beyond(self, address: Address, act: Act) -> Forbidden | None:
        if self.token is None:
            return None
        denied = decide(self.token, act, address)
        if denied is None:
            return None
        # said once, with the token's role: the role's whole reason ("manages partners/P and
        # its organizations, not controller") would say it twice, and read as "unmanaged"
        return Forbidden(
            f"{address} is beyond this token's reach ({self.token.scope_text})", address=address, hint=denied.hint
        )

    def check(self, address: Address) -> None:
        if not self.known(address):
            beyond = self._beyond(address, Act.READ)
            if beyond is not None:
                raise beyond
        super().check(address)

    def write_refusal(self, address: Address) -> SmtpIacError | None:
        return self._beyond(address, Act.WRITE)


def tenants_of(doc: dict[str, Any], token: TokenInfo) -> ReachTenants:
    """The snapshot's tenants document (a tenants file's shape) for ``token``."""
    partners: dict[str, list[str]] = {}
    orgs: dict[Address, Organization] = {}
    for p, entry in sorted(doc.get("partners", {}).items()):
        names = sorted(entry.get("organizations", {}))
        partners[p] = names
        for o in names:
            enabled = bool(entry["organizations"][o].get("smtp_enabled"))
            orgs[Address.trusted(p, o)] = Organization.model_construct(partner=p, name=o, smtp_enabled=enabled)
    return ReachTenants(partners, orgs, token)


def find_org(tenants: Tenants, ref: str) -> Organization:
    """An organization by ``partners/p/organizations/o``, ``p/o`` or a unique bare id."""
    parsed = parse_org_ref(ref)
    if isinstance(parsed, Address):
        tenants.check(parsed)
        org = tenants.org(parsed)
        assert org is not None
        return org
    ref = parsed
    if not valid_id(ref):
        raise UnknownTenant(f"{ref!r} is not an organization id", hint=ORG_HINT)
    found = [o for o in tenants.orgs.values() if o.name == ref]
    if len(found) == 1:
        return found[0]
    if found:
        cands = ", ".join(str(o.address) for o in found)
        raise UnknownTenant(
            f"organization id '{ref}' is ambiguous: {cands}", hint="name it with its partner: <partner>/<org>"
        )
    near = difflib.get_close_matches(ref, sorted({o.name for o in tenants.orgs.values()}), n=3)
    raise UnknownTenant(
        f"organization '{ref}' is not known to the store (or beyond this token's reach)",
        hint=(f"did you mean {', '.join(near)}? " if near else "") + "list them with: smtp-iac tenants list",
    )
