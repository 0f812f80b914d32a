"""What the settings service keeps in the store so that every instance on one database holds
the same line: budgets of what each token may do per scope, and console sessions that ended.

- Budgets (SPEC "Hostile callers"). A budget is named (the service uses one per token and
  purpose: ``<token id>:compare``, ``<token id>:attempts``) and holds, per scope, the entries of
  the last ``window``: at most ``limit`` different ones per scope, and ``total`` in all (which
  bounds what one token can make the table hold). An entry seen again costs nothing. The
  service keeps there the keyed digests of the passwords a token compared with a scope's (never
  the text: at most 20 different ones per scope and hour are answered, and re-planning with the
  same secret is never limited), and one random entry per refused or failed attempt it audits
  (at most 20 per scope and hour, so that no token can bury a scope's history or fill the
  database). The check and the record are one write transaction (serialized per budget on
  PostgreSQL with an advisory lock), so two instances cannot both admit the 21st.
- Ended sessions: a console session signed out before its cookie expires is listed until then,
  so that a copy of the cookie is refused by every instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ..addresses import Address
from .db import Part, reading

_MAX_PARAMS = 500
"""Addresses per ``IN (...)`` list (well under SQLite's limit of bound parameters)."""


class ServiceGuards(Part):
    def admit(
        self, budget: str, entries: Mapping[Address, set[str]], *, limit: int, window: timedelta, total: int
    ) -> Address | None:
        """Record each scope's ``entries`` in ``budget``. None when every scope stays within
        ``limit`` different entries in ``window`` and the budget within ``total`` in all; else
        the first scope that would go over, and nothing is recorded."""
        now = datetime.now(UTC)
        at, cutoff = now.isoformat(timespec="microseconds"), (now - window).isoformat(timespec="microseconds")
        wanted = {str(a): (a, e) for a, e in entries.items() if e}
        with self.db.write() as cur:
            self.db.serialize(cur, "budget:" + budget)
            # this budget's old rows only: its transactions are serialized, so two never lock the same rows
            self.db.x(cur, "DELETE FROM budget_entries WHERE budget = ? AND at < ?", (budget, cutoff))
            seen: dict[str, set[str]] = {}
            keys = list(wanted)
            for i in range(0, len(keys), _MAX_PARAMS):
                part = keys[i : i + _MAX_PARAMS]
                sql = "SELECT address, entry FROM budget_entries WHERE budget = ? AND address IN ("
                for address, entry in self.db.x(cur, sql + ", ".join("?" * len(part)) + ")", (budget, *part)):
                    seen.setdefault(address, set()).add(entry)
            new: list[tuple[str, str, str, str]] = []
            for key, (address, want) in wanted.items():
                known = seen.get(key, set())
                fresh = want - known
                if len(known) + len(fresh) > limit:
                    return address
                new += [(budget, key, e, at) for e in sorted(fresh)]
            if new:
                held = self.db.x(cur, "SELECT count(*) FROM budget_entries WHERE budget = ?", (budget,)).fetchone()[0]
                if int(held) + len(new) > total:
                    return Address.parse(new[0][1])
                cur.executemany(
                    self.db.dialect.q("INSERT INTO budget_entries (budget, address, entry, at) VALUES (?, ?, ?, ?)"),
                    new,
                )
        return None

    def end_session(self, session_id: str, expires_at: datetime) -> None:
        """List a console session as ended until its cookie would expire (idempotent)."""
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.db.write() as cur:
            self.db.x(cur, "DELETE FROM ended_sessions WHERE expires_at < ?", (now,))
            if not self.db.x(cur, "SELECT 1 FROM ended_sessions WHERE id = ?", (session_id,)).fetchone():
                self.db.x(
                    cur,
                    "INSERT INTO ended_sessions (id, expires_at) VALUES (?, ?)",
                    (session_id, expires_at.isoformat(timespec="microseconds")),
                )

    @reading
    def session_ended(self, session_id: str) -> bool:
        with self.db.read() as cur:
            return self.db.x(cur, "SELECT 1 FROM ended_sessions WHERE id = ?", (session_id,)).fetchone() is not None
