"""The tier map in SQL: a page of organizations with the tier in force for each, a page of
partners, and a scope's blast radius, each in a few queries in one read transaction however
many organizations there are (``tiermap``).

The tier is ``resolve``'s rule, kept in ``organizations.in_force`` by every write that moves
it (``tenancy``): 'organization', 'partner', or 'inherited', which is the controller's tier
when it has a record and 'none' when it has not (read with the page, so a controller write
moves no row). A tier filter is then an equality on the first column of the index
``organizations_by_tier (in_force, partner, id)``: its page is read from that index in the
page's order. Totals are not counted over organizations: each partner keeps how many of its
organizations have each value (``partners.n_organization``, ``n_partner``, ``n_inherited``,
kept in the same transactions), so a total, filtered or not, is a sum over partners (one row
with a partner filter); only a search counts the ids it reads, in the tier's index range when
filtered. The order is the primary key's, (partner, id): code-point order on SQLite and on
PostgreSQL under a C collation; under another collation PostgreSQL orders by it (``-`` may sort
differently), the same on every page and in both indexes. Ids are ``[a-z0-9-]``
(``addresses``), so a search is a plain ``LIKE`` with no character that needs escaping.

``moves``: the counters of what moved (``tenancy``), so that a reader that keeps an answer
(``monitor.run.last_report``) can tell it still holds.
"""

from __future__ import annotations

from typing import Any

from ..addresses import CONTROLLER, Address, Tier
from ..relayhealth import Scope, Tally
from ..tiermap import IN_FORCE, OrgQuery, OrgRow, Page, PartnerRow, kept_tiers, reaches_through, shown_tier
from .db import Cursor, Db, Part, reading
from .tenancy import CONTROLLER_MOVED, HEALTH_MOVED, Tenancy

_ORGS = """SELECT o.partner, o.id, o.smtp_enabled, ro.address, ro.managed_by, o.in_force
  FROM organizations o LEFT JOIN records ro ON ro.partner = o.partner AND ro.org = o.id"""

_PARTNERS = """SELECT p.id, p.n_organization + p.n_partner + p.n_inherited, r.address, r.managed_by, r.host, r.port
  FROM partners p LEFT JOIN records r ON r.partner = p.id AND r.org = ''"""


class TierMapQueries(Part):
    def __init__(self, db: Db, tenancy: Tenancy):
        super().__init__(db)
        self.tenancy = tenancy

    @reading
    def org_page(self, query: OrgQuery) -> Page[OrgRow]:
        """One page of organizations in (partner, id) order, with the total that matched."""
        with self.db.read() as cur:
            controller = _controller(self.db, cur)
            kept = kept_tiers((query.tier,), controller) if query.tier is not None else None
            if kept == ():  # 'controller' without its record, 'none' with it: nothing matches
                return Page((), 0, query.offset, query.limit)
            where, params = _org_where(query.partner, query.org, query.search, kept)
            if query.org is None and not query.search:
                total = self._counted(cur, query.partner, kept)
            else:  # a search reads the ids (of the tier's index range), as it does without a tier
                total = self.db.x(cur, f"SELECT COUNT(*) FROM organizations o{where}", params).fetchone()[0]
            rows = self.db.x(
                cur, f"{_ORGS}{where} ORDER BY o.partner, o.id LIMIT ? OFFSET ?", [*params, query.limit, query.offset]
            ).fetchall()
        items = tuple(
            OrgRow(Address.trusted(p, o), bool(on), shown_tier(in_force, controller), own is not None, managed)
            for p, o, on, own, managed, in_force in rows
        )
        return Page(items, int(total), query.offset, query.limit)

    @reading
    def partner_page(
        self, search: str = "", offset: int = 0, limit: int = 50, *, partner: str | None = None
    ) -> Page[PartnerRow]:
        """One page of partners in id order (``partner``: that one only), each with its number
        of organizations and its record's relay, if any (the same join: no query per row)."""
        OrgQuery(search=search, offset=offset, limit=limit)  # the same checks
        where_sql, params = _where((("p.id", partner),), ("p.id", search))
        with self.db.read() as cur:
            total = self.db.x(cur, f"SELECT COUNT(*) FROM partners p{where_sql}", params).fetchone()[0]
            sql = f"{_PARTNERS}{where_sql} ORDER BY p.id LIMIT ? OFFSET ?"
            rows = self.db.x(cur, sql, [*params, limit, offset]).fetchall()
        items = tuple(
            PartnerRow(p, int(n), rec is not None, managed, host, None if port is None else int(port))
            for p, n, rec, managed, host, port in rows
        )
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
            kept = kept_tiers(reaches_through(address), _controller(self.db, cur))
            return self._counted(cur, address.partner or None, kept)

    @reading
    def source_tally(self, scope: Scope) -> Tally:
        """Organizations in ``scope`` per effective source and partner (``relayhealth.tally``'s
        answer, counted by the database: per partner and kept value, from the partners' counts
        when the scope names no organization, else grouped; and a row per organization in force
        on its own record)."""
        conditions: list[str] = []
        params: list[Any] = []
        if scope.partners:
            conditions.append(f"o.partner IN ({', '.join('?' for _ in scope.partners)})")
            params += sorted(scope.partners)
        for org in sorted(scope.orgs, key=str):
            conditions.append("(o.partner = ? AND o.id = ?)")
            params += [org.partner, org.org]
        where = " WHERE (" + " OR ".join(conditions) + ")" if conditions else ""
        with self.db.read() as cur:
            controller = _controller(self.db, cur)
            if scope.orgs:
                sql = (
                    f"SELECT o.partner, o.in_force, COUNT(*) FROM organizations o{where} GROUP BY o.partner, o.in_force"
                )
                grouped = self.db.x(cur, sql, params).fetchall()
            else:  # the partners' counts, kept with them
                marks = ", ".join("?" for _ in scope.partners)
                sql = "SELECT id, n_partner, n_inherited FROM partners" + (f" WHERE id IN ({marks})" if marks else "")
                grouped = [
                    (p, kept, n)
                    for p, n_partner, n_inherited in self.db.x(cur, sql, sorted(scope.partners)).fetchall()
                    for kept, n in (("partner", n_partner), ("inherited", n_inherited))
                    if n
                ]
            own = self.db.x(
                cur,
                f"SELECT o.partner, o.id FROM organizations o{where}{' AND' if where else ' WHERE'} "
                "o.in_force = 'organization'",
                params,
            ).fetchall()
        tally: Tally = {}
        for partner, in_force, n in grouped:
            if in_force == "organization":
                continue  # each one its own source, below
            source = Address.trusted(partner) if in_force == "partner" else CONTROLLER if controller else None
            counts = tally.setdefault(source, {})
            counts[partner] = counts.get(partner, 0) + int(n)
        for partner, org in own:
            tally.setdefault(Address.trusted(partner, org), {})[partner] = 1
        return tally

    @reading
    def moves(self) -> tuple[int, int, int]:
        """The counters of what moved: every partner's (summed), the controller's, relay
        health's. Each only grows, in the transaction of the write that moved something, so
        the same three numbers mean nothing moved since they were read."""
        with self.db.read() as cur:
            row = self.db.x(
                cur,
                "SELECT (SELECT COALESCE(SUM(moved), 0) FROM partners), "
                "(SELECT value FROM meta WHERE name = ?), (SELECT value FROM meta WHERE name = ?)",
                (CONTROLLER_MOVED, HEALTH_MOVED),
            ).fetchone()
        return int(row[0]), int(row[1] or 0), int(row[2] or 0)

    def _counted(self, cur: Cursor, partner: str | None, kept: tuple[str, ...] | None) -> int:
        """How many organizations (of ``partner``, or all) have one of the ``kept`` values (None:
        any), from the counts each partner keeps (``tenancy.recount``): a sum over partners."""
        columns = " + ".join(f"p.n_{k}" for k in (kept if kept is not None else IN_FORCE))
        where, params = (" WHERE p.id = ?", [partner]) if partner is not None else ("", [])
        sql = f"SELECT COALESCE(SUM({columns}), 0) FROM partners p{where}"
        return int(self.db.x(cur, sql, params).fetchone()[0])

    def _known(self, cur: Cursor, address: Address) -> None:
        if address.org:
            sql = "SELECT 1 FROM organizations WHERE partner = ? AND id = ?"
            params: tuple[str, ...] = (address.partner, address.org)
        else:
            sql, params = "SELECT 1 FROM partners WHERE id = ?", (address.partner,)
        if self.db.x(cur, sql, params).fetchone() is None:
            raise self.tenancy.unknown(cur, address)


def _controller(db: Db, cur: Cursor) -> bool:
    return db.x(cur, "SELECT 1 FROM records WHERE partner = '' AND org = ''").fetchone() is not None


def _org_where(
    partner: str | None, org: str | None, search: str, kept: tuple[str, ...] | None = None
) -> tuple[str, list[Any]]:
    """The WHERE clause over ``organizations o`` of a query's partner, org, search and the
    ``in_force`` values it takes (None: any)."""
    where, params = _where((("o.partner", partner), ("o.id", org)), ("o.id", search))
    if kept is None:
        return where, params
    test = "o.in_force = ?" if len(kept) == 1 else f"o.in_force IN ({', '.join('?' for _ in kept)})"
    return (f"{where} AND {test}" if where else f" WHERE {test}"), [*params, *kept]


def _where(equal: tuple[tuple[str, str | None], ...], like: tuple[str, str]) -> tuple[str, list[Any]]:
    """``WHERE`` each column of ``equal`` with a value is that value and, with a search, the
    column of ``like`` holds it; and the parameters. Columns are this module's own names."""
    where = [f"{column} = ?" for column, value in equal if value is not None]
    params: list[Any] = [value for _, value in equal if value is not None]
    if like[1]:
        where.append(f"{like[0]} LIKE ?")
        params.append(f"%{like[1]}%")
    return (" WHERE " + " AND ".join(where) if where else ""), params
