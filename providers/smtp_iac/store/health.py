"""Relay health in the store: each relay's last check and history (``relayhealth``), and the
lease that lets one process at a time run the periodic checks of a store.

- ``relay_health()``: every relay's row, by key.
- ``save_relay_health(healths, whole=...)``: the rows of one run, written in one transaction;
  a run over the whole platform (``whole``) also drops the rows of relays no organization uses
  any more, so reports never show a relay that carries nothing.
- ``take_lease(name, holder, seconds)``: True when ``holder`` holds ``name`` for the next
  ``seconds`` (it was free, expired, or already its own); False when another holder's lease
  runs. One write transaction, serialized per lease name (an advisory lock on PostgreSQL), so
  two instances on one database never both hold it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..relayhealth import Relay, RelayHealth, check_from_dict, check_to_dict, relay_from_dict, relay_to_dict
from .db import Part, reading
from .tenancy import HEALTH_MOVED, count_move


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


class HealthLog(Part):
    @reading
    def relay_health(self) -> dict[str, RelayHealth]:
        with self.db.read() as cur:
            rows = self.db.x(
                cur, "SELECT key, relay, last_check, failing_since, recovered_at FROM relay_health"
            ).fetchall()
        out: dict[str, RelayHealth] = {}
        for key, relay, last, since, recovered in rows:
            r: Relay = relay_from_dict(json.loads(relay))
            out[key] = RelayHealth(
                r,
                check_from_dict(json.loads(last)) if last else None,
                datetime.fromisoformat(since) if since else None,
                datetime.fromisoformat(recovered) if recovered else None,
            )
        return out

    def save_relay_health(self, healths: Sequence[RelayHealth], *, whole: bool) -> None:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.db.write() as cur:
            self.db.serialize(cur, "relay_health")
            count_move(self.db, cur, HEALTH_MOVED)  # a reader's kept report no longer holds
            for h in healths:
                values = (
                    json.dumps(relay_to_dict(h.relay), sort_keys=True),
                    json.dumps(check_to_dict(h.last), sort_keys=True) if h.last is not None else None,
                    _time(h.failing_since),
                    _time(h.recovered_at),
                    _time(h.last.checked_at) if h.last is not None else now,
                )
                done = self.db.x(
                    cur,
                    "UPDATE relay_health SET relay = ?, last_check = ?, failing_since = ?, recovered_at = ?, "
                    "checked_at = ? WHERE key = ?",
                    (*values, h.relay.key),
                )
                if done.rowcount == 0:
                    self.db.x(
                        cur,
                        "INSERT INTO relay_health (relay, last_check, failing_since, recovered_at, checked_at, key) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (*values, h.relay.key),
                    )
            if whole:
                keep = {h.relay.key for h in healths}
                for (key,) in self.db.x(cur, "SELECT key FROM relay_health").fetchall():
                    if key not in keep:
                        self.db.x(cur, "DELETE FROM relay_health WHERE key = ?", (key,))

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        now = datetime.now(UTC)
        until = (now + timedelta(seconds=seconds)).isoformat(timespec="microseconds")
        with self.db.write() as cur:
            self.db.serialize(cur, "lease:" + name)
            row = self.db.x(cur, "SELECT holder, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row is None:
                self.db.x(cur, "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)", (name, holder, until))
                return True
            current, expires = row
            if current != holder and datetime.fromisoformat(expires) > now:
                return False
            self.db.x(cur, "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ?", (holder, until, name))
            return True
