"""Tenants in the store: partners, their organizations and each organization's SMTP switch
(SPEC "Store"). Loading is an idempotent upsert that never removes a tenant; every switch
that moves is audited.

The tier in force below the controller (``organizations.in_force``: ``tiermap.in_force``'s
value) and each partner's counts of it (``partners.n_<value>``) are kept here for every write
that can move them, in the write's own transaction. A write at a partner or an organization
begins with ``moving`` (one more on the partner's ``moved`` counter, which on PostgreSQL also
locks the partner's row until COMMIT, so that the writes that move one partner's tiers run one
after another, each reading what the last one committed); a record created or deleted, or a
switch moved, ends with ``moved`` (the organizations it changes, and the counts). A tenants
load locks the partners it names first (``_hold``, in one order), then reads what they hold
and writes each new or switched organization with its value. A write at the controller moves
no row (``in_force`` says 'inherited': the controller's record decides when read) and adds one
to ``moved:controller`` in ``meta``.
"""

from __future__ import annotations

import difflib
from collections import Counter

from ..actor import actor_of
from ..addresses import ID_PATTERN, Address, valid_id
from ..diagnostics import Diagnostic, json_path
from ..errors import TenantsInvalid, UnknownTenant
from ..models import Organization
from ..tiermap import IN_FORCE, in_force
from .audit import AuditAction, AuditOutcome, AuditTrail
from .db import Cursor, Db, Part, now_text, reading
from .rows import trusted_address, trusted_organization
from .snapshot import ORG_HINT, Tenants, TenantsChange, parse_org_ref, unknown_tenant
from .tenants_doc import check_tenants_doc

CONTROLLER_MOVED = "moved:controller"
HEALTH_MOVED = "moved:health"


def count_move(db: Db, cur: Cursor, name: str) -> None:
    """One more on the counter ``name`` in ``meta``, in the open write (serialized on its row)."""
    db.x(
        cur,
        "INSERT INTO meta (name, value) VALUES (?, '1') ON CONFLICT (name) "
        "DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)",
        (name,),
    )


def recount(db: Db, cur: Cursor, partner: str, delta: Counter[str], *, moved: int = 0) -> None:
    """Add ``delta`` (kept value -> organizations gained or lost) to the partner's counts."""
    if any(delta.values()) or moved:
        db.x(
            cur,
            f"UPDATE partners SET moved = moved + ?, {', '.join(f'n_{k} = n_{k} + ?' for k in IN_FORCE)} WHERE id = ?",
            (moved, *(delta[k] for k in IN_FORCE), partner),
        )


class Tenancy(Part):
    """Partners and organizations, and each organization's SMTP switch."""

    def __init__(self, db: Db, audit: AuditTrail):
        super().__init__(db)
        self.audit = audit

    # ----- the tier in force, kept ---------------------------------------------------------

    def moving(self, cur: Cursor, address: Address) -> None:
        """The first statement of a write that may move tiers or settings at ``address``."""
        if address.partner:
            self.db.x(cur, "UPDATE partners SET moved = moved + 1 WHERE id = ?", (address.partner,))
        else:
            count_move(self.db, cur, CONTROLLER_MOVED)

    def moved(self, cur: Cursor, address: Address) -> None:
        """After a record at ``address`` was created or deleted, or an organization's switch
        moved (``moving`` began the write): the ``in_force`` of the organizations it moves,
        and their partner's counts."""
        if address.org:
            row = self.db.x(
                cur,
                "SELECT smtp_enabled, in_force FROM organizations WHERE partner = ? AND id = ?",
                (address.partner, address.org),
            ).fetchone()
            if row is None:
                return
            sql = "SELECT org FROM records WHERE partner = ? AND org IN ('', ?)"
            present = {r[0] for r in self.db.x(cur, sql, (address.partner, address.org)).fetchall()}
            new = in_force(bool(row[0]), address.org in present, "" in present)
            if new != row[1]:
                self.db.x(
                    cur,
                    "UPDATE organizations SET in_force = ? WHERE partner = ? AND id = ?",
                    (new, address.partner, address.org),
                )
                recount(self.db, cur, address.partner, Counter({new: 1, row[1]: -1}))
        elif address.partner:
            sql = "SELECT 1 FROM records WHERE partner = ? AND org = ''"
            has = self.db.x(cur, sql, (address.partner,)).fetchone() is not None
            new, old = ("partner", "inherited") if has else ("inherited", "partner")
            n = self.db.x(
                cur,
                "UPDATE organizations SET in_force = ? WHERE in_force = ? AND partner = ?",
                (new, old, address.partner),
            ).rowcount
            recount(self.db, cur, address.partner, Counter({new: n, old: -n}))

    def _hold(self, cur: Cursor, partners: list[str]) -> None:
        """Lock these partners' rows until COMMIT, all in one order (PostgreSQL: two loads that
        share partners take them one after the other; SQLite's writers are serialized already)."""
        if partners and self.db.dialect.name == "postgresql":
            self.db.x(cur, "SELECT id FROM partners WHERE id = ANY(?) ORDER BY id FOR NO KEY UPDATE", (partners,))

    def unknown(self, cur: Cursor, address: Address) -> UnknownTenant:
        partners = [r[0] for r in self.db.x(cur, "SELECT id FROM partners").fetchall()]
        having = (
            [r[0] for r in self.db.x(cur, "SELECT partner FROM organizations WHERE id = ?", (address.org,)).fetchall()]
            if address.org
            else []
        )
        return unknown_tenant(address, partners, having)

    def tenants_in(self, cur: Cursor) -> Tenants:
        partners: dict[str, list[str]] = {r[0]: [] for r in self.db.x(cur, "SELECT id FROM partners").fetchall()}
        orgs: dict[Address, Organization] = {}
        rows = self.db.x(cur, "SELECT partner, id, smtp_enabled FROM organizations").fetchall()
        rows.sort()  # in Python: code-point order on both backends (a PostgreSQL collation may differ)
        make_org, make_address = trusted_organization, trusted_address
        for p, o, enabled in rows:
            partners[p].append(o)
            orgs[make_address(p, o)] = make_org(p, o, bool(enabled))
        return Tenants(dict(sorted(partners.items())), orgs)

    @reading
    def tenants(self) -> Tenants:
        with self.db.read() as cur:
            return self.tenants_in(cur)

    def load_tenants(self, doc: object, *, actor: str | None = None) -> TenantsChange:
        """Upsert partners, organizations and SMTP switches from a tenants document. Idempotent;
        never removes a tenant. An org given without ``smtp_enabled`` keeps its switch (new: off)."""
        wanted, problems, _more = check_tenants_doc(doc)
        if problems:
            raise TenantsInvalid(
                [Diagnostic("<tenants>", 1, 1, p.severity, p.message, json_path(p.path)) for p in problems]
            )
        actor = actor_of(actor)
        at = now_text()
        with self.db.write() as cur:
            have_p = {r[0] for r in self.db.x(cur, "SELECT id FROM partners").fetchall()}
            new_p = sorted(p for p in wanted if p not in have_p)
            if new_p:
                # ON CONFLICT: a concurrent load of the same tenants is not an error
                cur.executemany(
                    self.db.dialect.q(
                        "INSERT INTO partners (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
                    ),
                    [(p, at) for p in new_p],
                )
            self._hold(cur, sorted(p for p in wanted if wanted[p]))  # then read what they hold
            have_o = {
                (p, o): (bool(e), kept)
                for p, o, e, kept in self.db.x(
                    cur, "SELECT partner, id, smtp_enabled, in_force FROM organizations"
                ).fetchall()
            }
            present = {(p, o) for p, o in self.db.x(cur, "SELECT partner, org FROM records WHERE partner <> ''")}
            new_o, flips, unchanged = [], [], len(wanted) - len(new_p)
            deltas: dict[str, Counter[str]] = {}
            for p in sorted(wanted):
                for o, enabled in sorted(wanted[p].items()):
                    have = have_o.get((p, o))
                    if have is not None and (enabled is None or enabled == have[0]):
                        unchanged += 1
                        continue
                    kept = in_force(bool(enabled), (p, o) in present, (p, "") in present)
                    delta = deltas.setdefault(p, Counter())
                    delta[kept] += 1
                    if have is None:
                        new_o.append((p, o, int(bool(enabled)), at, at, kept))
                    else:
                        flips.append((int(bool(enabled)), at, kept, p, o))
                        delta[have[1]] -= 1
            if new_o:
                cur.executemany(
                    self.db.dialect.q(
                        "INSERT INTO organizations (partner, id, smtp_enabled, created_at, updated_at, in_force) "
                        "VALUES (?, ?, ?, ?, ?, ?)"
                    ),
                    new_o,
                )
            if flips:
                cur.executemany(
                    self.db.dialect.q(
                        "UPDATE organizations SET smtp_enabled = ?, updated_at = ?, in_force = ? "
                        "WHERE partner = ? AND id = ?"
                    ),
                    flips,
                )
            for p, delta in sorted(deltas.items()):
                recount(self.db, cur, p, delta, moved=1)
            change = TenantsChange(
                partners_added=new_p,
                orgs_added=[Address(p, o) for p, o, *_ in new_o],
                enabled=[Address(p, o) for e, _, _k, p, o in flips if e],
                disabled=[Address(p, o) for e, _, _k, p, o in flips if not e],
                unchanged=unchanged,
            )
            for e, _, _k, p, o in flips:
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=None,
                    address=Address(p, o),
                    action=AuditAction.ENABLE_SMTP if e else AuditAction.DISABLE_SMTP,
                    outcome=AuditOutcome.OK,
                    detail="by tenants load",
                    at=at,
                )
            self.audit.entry(
                cur,
                actor=actor,
                stack=None,
                address=None,
                action=AuditAction.TENANTS_LOAD,
                outcome=AuditOutcome.OK,
                detail=change.summary(),
                at=at,
            )
        return change

    @reading
    def find_org(self, ref: str) -> Organization:
        """An organization by ``partners/p/organizations/o``, ``p/o`` or a bare org id (if unique)."""
        parsed = parse_org_ref(ref)
        with self.db.read() as cur:
            if isinstance(parsed, Address):
                address = parsed
                row = self.db.x(
                    cur,
                    "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?",
                    (address.partner, address.org),
                ).fetchone()
                if row is None:
                    raise self.unknown(cur, address)
                return Organization(partner=address.partner, name=address.org, smtp_enabled=bool(row[0]))
            ref = parsed
            if not valid_id(ref):
                raise UnknownTenant(
                    f"{ref!r} is not an organization id (ids match {ID_PATTERN})",
                    hint=ORG_HINT,
                )
            rows = self.db.x(
                cur, "SELECT partner, smtp_enabled FROM organizations WHERE id = ? ORDER BY partner", (ref,)
            ).fetchall()
            if len(rows) == 1:
                return Organization(partner=rows[0][0], name=ref, smtp_enabled=bool(rows[0][1]))
            if rows:
                cands = ", ".join(str(Address(p, ref)) for p, _ in rows)
                raise UnknownTenant(
                    f"organization id '{ref}' is ambiguous: {cands}", hint="name it with its partner: <partner>/<org>"
                )
            ids = [r[0] for r in self.db.x(cur, "SELECT DISTINCT id FROM organizations").fetchall()]
        near = difflib.get_close_matches(ref, ids, n=3)
        raise UnknownTenant(
            f"organization '{ref}' is not known to the store",
            hint=(f"did you mean {', '.join(near)}? " if near else "") + "list them with: smtp-iac tenants list",
        )

    def set_smtp_enabled(self, org: Address, enabled: bool, *, actor: str | None = None) -> None:
        """Switch organization-level SMTP on or off (audited)."""
        actor = actor_of(actor)
        action = AuditAction.ENABLE_SMTP if enabled else AuditAction.DISABLE_SMTP
        if not org.org:
            raise UnknownTenant(f"{org} is not an organization", address=org)
        err: UnknownTenant | None = None
        with self.db.write() as cur:
            self.moving(cur, org)
            row = self.db.x(
                cur, "SELECT smtp_enabled FROM organizations WHERE partner = ? AND id = ?", (org.partner, org.org)
            ).fetchone()
            if row is None:
                err = self.unknown(cur, org)
            else:
                self.db.x(
                    cur,
                    "UPDATE organizations SET smtp_enabled = ?, updated_at = ? WHERE partner = ? AND id = ?",
                    (int(enabled), now_text(), org.partner, org.org),
                )
                self.moved(cur, org)
                detail = (
                    "unchanged (already " + ("enabled)" if enabled else "disabled)")
                    if bool(row[0]) == enabled
                    else ("enabled" if enabled else "disabled")
                )
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=None,
                    address=org,
                    action=action,
                    outcome=AuditOutcome.OK,
                    detail=detail,
                )
        if err is not None:
            with self.db.write() as cur:
                self.audit.entry(
                    cur,
                    actor=actor,
                    stack=None,
                    address=org,
                    action=action,
                    outcome=AuditOutcome.REFUSED,
                    detail=f"{err.kind}: {err.message}",
                )
            raise err
