"""``/v1/tiermap``: the tier map a page at a time (organizations with the tier in force for
each, partners with their organizations), and ``/v1/blast-radius/{address}``: how many
organizations' mail a record at a scope carries, which the console shows before Save.

Each answer is limited to the caller's reach before anything is looked up (``access.listing``,
``access.lists_partners``, judged through ``permits.Allow``): a partner admin's pages hold its
partner only, an org admin's its organization only; asking for another partner is 403 whether
it exists or not.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ..access import Act, listing, lists_partners
from ..addresses import ID_PATTERN, Address
from ..tiermap import PAGE_MAX, OrgQuery, OrgRow
from .bodies import BlastOut, OrgPageOut, OrgRowOut, PartnerPageOut, PartnerRowOut
from .context import AddressPath, Context, parse_address
from .permits import Allow, Caller
from .problems import Problem
from .responses import errors

router = APIRouter(tags=["tier map"])

Id = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=63)]
Search = Annotated[str, Query(pattern=r"^[a-z0-9-]{0,63}$", description="a part of the id")]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]


@router.get("/v1/tiermap/organizations", response_model=OrgPageOut, responses=errors(401, 403, 422, 503))
def organizations(
    caller: Caller,
    ctx: Context,
    allow: Allow,
    partner: Id = None,
    org: Id = None,
    q: Search = "",
    tier: Literal["organization", "partner", "controller", "none"] | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> OrgPageOut:
    """A page of organizations (partner, then id) with the tier whose settings each gets;
    ``org`` (with ``partner``): that one only."""
    if org is not None and partner is None:
        raise Problem(422, "org needs its partner", hint="?partner=P&org=O")
    partner, org = listing(caller, partner, org)
    allow(Act.EFFECTIVE, Address.trusted(partner, org or "") if partner else _ANY_ORG)
    page = ctx.store.org_page(OrgQuery(partner, org, q, tier, offset, limit))
    items = [_org_row(r, reads=allow.may(Act.READ, r.address)) for r in page.items]
    return OrgPageOut(total=page.total, offset=page.offset, limit=page.limit, items=items)


def _org_row(r: OrgRow, *, reads: bool) -> OrgRowOut:
    """A row of the page. Of a record the caller does not read (a mailer reads effective
    settings, not records), nothing it does not use: not whether the organization has one that
    is ignored, nor who manages it."""
    return OrgRowOut(
        organization=str(r.address),
        smtp_enabled=r.smtp_enabled,
        tier=r.tier,
        own_record=r.own_record if reads else r.tier == "organization",
        managed_by=r.managed_by if reads else None,
    )


@router.get("/v1/tiermap/partners", response_model=PartnerPageOut, responses=errors(401, 403, 422, 503))
def partners(
    caller: Caller,
    ctx: Context,
    allow: Allow,
    partner: Id = None,
    q: Search = "",
    offset: Offset = 0,
    limit: Limit = 50,
) -> PartnerPageOut:
    """A page of partners (id order), each with its number of organizations and whether it
    has a record (and its relay's host and port); ``partner``: that one only."""
    partner = allow.granted(lists_partners(caller, partner))
    page = ctx.store.partner_page(q, offset, limit, partner=partner)
    items = [
        PartnerRowOut(
            partner=r.partner,
            organizations=r.organizations,
            has_record=r.has_record,
            managed_by=r.managed_by,
            host=r.host,
            port=r.port,
        )
        for r in page.items
    ]
    return PartnerPageOut(total=page.total, offset=page.offset, limit=page.limit, items=items)


@router.get("/v1/blast-radius/{address:path}", response_model=BlastOut, responses=errors(401, 403, 404, 503))
def blast_radius(address: AddressPath, ctx: Context, allow: Allow) -> BlastOut:
    """How many organizations' mail a record at ``address`` carries once saved (for those who may write it)."""
    addr = parse_address(address)
    allow(Act.WRITE, addr)  # as a write: an org admin's switch counts
    return BlastOut(address=str(addr), organizations=ctx.store.blast_radius(addr))


_ANY_ORG = Address.trusted("any-partner", "any-org")
"""Where a page of every partner's organizations is judged: only roles that reach them all get
there (a partner or org admin's reach is put in the query above)."""
