"""The tier map in SQL: a page of organizations with the tier in force for each, a page of
partners, and a scope's blast radius, each in three queries in one read transaction however
many organizations there are (``tiermap``).

The tier is ``resolve``'s rule on presence alone, computed by the database with two
left-joins on ``records_by_partner`` (the organization's own record, its partner's record)
and the controller's presence as a parameter: the page never loads the other organizations,
and filtering by tier counts them in the database (without a tier filter the total counts the
organizations alone). The order is the primary key's, (partner, id), so a page is read from
the index: code-point order on SQLite and on PostgreSQL under a C collation; under another
collation PostgreSQL orders by it (``-`` may sort differently), the same on every page. Ids
are ``[a-z0-9-]`` (``addresses``), so a search is a plain ``LIKE`` with no character that
needs escaping.
"""

from __future__ import annotations

from typing import Any

from ..addresses import CONTROLLER, Address, Tier
from ..relayhealth import Scope, Tally
from ..tiermap import OrgQuery, OrgRow, Page, PartnerRow, reaches_through
from .db import Cursor, Db, Part, reading
from .tenancy import Tenancy

_TIER = """CASE WHEN ro.address IS NOT NULL AND o.smtp_enabled = 1 THEN 'organization'
         WHEN rp.address IS NOT NULL THEN 'partner'
         WHEN ? = 1 THEN 'controller' ELSE 'none' END"""
_JOINS = """LEFT JOIN records ro ON ro.partner = o.partner AND ro.org = o.id
  LEFT JOIN records rp ON rp.partner = o.partner AND rp.org = ''"""
_ORGS = f"""SELECT o.partner, o.id, o.smtp_enabled, ro.address, ro.managed_by,
    {_TIER} AS tier
  FROM organizations o
  {_JOINS}"""

_PARTNERS = """SELECT p.id, (SELECT COUNT(*) FROM organizations o WHERE o.partner = p.id), r.address, r.managed_by
  FROM partners p LEFT JOIN records r ON r.partner = p.id AND r.org = ''"""


class TierMapQueries(Part):
    def __init__(self, db: Db, tenancy: Tenancy):
        super().__init__(db)
        self.tenancy = tenancy

    @reading
    def org_page(self, query: OrgQuery) -> Page[OrgRow]:
        """One page of organizations in (partner, id) order, with the total that matched."""
        with self.db.read() as cur:
            inner, params = self._org_select(cur, query.partner, query.org, query.search)
            if query.tier is None:  # each organization joins one record at most per tier: count them alone
                where, count_params = _org_where(query.partner, query.org, query.search)
                total = self.db.x(cur, f"SELECT COUNT(*) FROM organizations o{where}", count_params).fetchone()[0]
                outer = ""
            else:
                outer = " WHERE t.tier = ?"
                params.append(query.tier)
                total = self.db.x(cur, f"SELECT COUNT(*) FROM ({inner}) t{outer}", params).fetchone()[0]
            rows = self.db.x(
                cur,
                f"SELECT * FROM ({inner}) t{outer} ORDER BY t.partner, t.id LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        items = tuple(
            OrgRow(Address.trusted(p, o), bool(on), tier, own is not None, managed)
            for p, o, on, own, managed, tier in rows
        )
        return Page(items, int(total), query.offset, query.limit)

    @reading
    def partner_page(
        self, search: str = "", offset: int = 0, limit: int = 50, *, partner: str | None = None
    ) -> Page[PartnerRow]:
        """One page of partners in id order (``partner``: that one only), each with its number
        of organizations and whether it has a record."""
        OrgQuery(search=search, offset=offset, limit=limit)  # the same checks
        where_sql, params = _where((("p.id", partner),), ("p.id", search))
        with self.db.read() as cur:
            total = self.db.x(cur, f"SELECT COUNT(*) FROM partners p{where_sql}", params).fetchone()[0]
            sql = f"{_PARTNERS}{where_sql} ORDER BY p.id LIMIT ? OFFSET ?"
            rows = self.db.x(cur, sql, [*params, limit, offset]).fetchall()
        items = tuple(PartnerRow(p, int(n), rec is not None, managed) for p, n, rec, managed in rows)
        return Page(items, int(total), offset, limit)

    @reading
    def blast_radius(self, address: Address) -> int:
        """How many organizations' mail a record at ``address`` carries, once written: those
        below it with nothing more specific in force (an organization: itself, while its SMTP
        switch is on). UnknownTenant for a partner or organization the store does not know."""
        with self.db.read() as cur:
            if address.tier is not Tier.CONTROLLER:
                self._known(cur, address)
            if address.tier is Tier.ORGANIZATION:
                row = self.db.x(
                    cur,
                    "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?",
                    (address.partner, address.org),
                ).fetchone()
                return int(bool(row[0]))
            inner, params = self._org_select(cur, address.partner or None, None, "")
            tiers = reaches_through(address)
            marks = ", ".join("?" for _ in tiers)
            sql = f"SELECT COUNT(*) FROM ({inner}) t WHERE t.tier IN ({marks})"
            return int(self.db.x(cur, sql, [*params, *tiers]).fetchone()[0])

    @reading
    def source_tally(self, scope: Scope) -> Tally:
        """Organizations in ``scope`` per effective source and partner (``relayhealth.tally``'s
        answer, counted by the database: one grouped query over ``_ORGS``, a row per partner and
        tier, and one per organization in force on its own record)."""
        conditions: list[str] = []
        params: list[Any] = []
        if scope.partners:
            conditions.append(f"o.partner IN ({', '.join('?' for _ in scope.partners)})")
            params += sorted(scope.partners)
        for org in sorted(scope.orgs, key=str):
            conditions.append("(o.partner = ? AND o.id = ?)")
            params += [org.partner, org.org]
        where = " WHERE " + " OR ".join(conditions) if conditions else ""
        with self.db.read() as cur:
            controller = self.db.x(cur, "SELECT 1 FROM records WHERE partner = '' AND org = ''").fetchone()
            sql = (
                f"SELECT t.partner, t.own, t.tier, COUNT(*) FROM (SELECT o.partner, "
                f"CASE WHEN ro.address IS NOT NULL AND o.smtp_enabled = 1 THEN o.id ELSE '' END AS own, "
                f"{_TIER} AS tier FROM organizations o {_JOINS}{where}) t GROUP BY t.partner, t.own, t.tier"
            )
            rows = self.db.x(cur, sql, [int(controller is not None), *params]).fetchall()
        tally: Tally = {}
        for partner, own, tier, n in rows:
            source = {
                "organization": Address.trusted(partner, own) if own else None,
                "partner": Address.trusted(partner),
                "controller": CONTROLLER,
            }.get(tier)
            counts = tally.setdefault(source, {})
            counts[partner] = counts.get(partner, 0) + int(n)
        return tally

    def _org_select(self, cur: Cursor, partner: str | None, org: str | None, search: str) -> tuple[str, list[Any]]:
        controller = self.db.x(cur, "SELECT 1 FROM records WHERE partner = '' AND org = ''").fetchone() is not None
        where, params = _org_where(partner, org, search)
        return _ORGS + where, [int(controller), *params]

    def _known(self, cur: Cursor, address: Address) -> None:
        if address.org:
            sql = "SELECT 1 FROM organizations WHERE partner = ? AND id = ?"
            params: tuple[str, ...] = (address.partner, address.org)
        else:
            sql, params = "SELECT 1 FROM partners WHERE id = ?", (address.partner,)
        if self.db.x(cur, sql, params).fetchone() is None:
            raise self.tenancy.unknown(cur, address)


def _org_where(partner: str | None, org: str | None, search: str) -> tuple[str, list[Any]]:
    """The WHERE clause over ``organizations o`` of a query's partner, org and search."""
    return _where((("o.partner", partner), ("o.id", org)), ("o.id", search))


def _where(equal: tuple[tuple[str, str | None], ...], like: tuple[str, str]) -> tuple[str, list[Any]]:
    """``WHERE`` each column of ``equal`` with a value is that value and, with a search, the
    column of ``like`` holds it; and the parameters. Columns are this module's own names."""
    where = [f"{column} = ?" for column, value in equal if value is not None]
    params: list[Any] = [value for _, value in equal if value is not None]
    if like[1]:
        where.append(f"{like[0]} LIKE ?")
        params.append(f"%{like[1]}%")
    return (" WHERE " + " AND ".join(where) if where else ""), params
