"""Audit entries: who did what to which scope, when, and how it ended.

Actions: ``create`` ``update`` ``delete`` (records), ``tenants-load``, ``enable-smtp``,
``disable-smtp`` (tenants), ``rotate-keys``, plus whatever a caller of ``record_attempt`` names
(e.g. ``verify`` before a write). Outcomes: ``ok``, ``conflict`` (compare-and-swap lost),
``refused`` (ownership, feature switched off, unknown tenant), ``verify_failed``, ...
Passwords appear only as keyed fingerprints."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

ACTION_CREATE = "create"
ACTION_UPDATE = "update"
ACTION_DELETE = "delete"
ACTION_TENANTS_LOAD = "tenants-load"
ACTION_ENABLE_SMTP = "enable-smtp"
ACTION_DISABLE_SMTP = "disable-smtp"
ACTION_ROTATE_KEYS = "rotate-keys"

OUTCOME_OK = "ok"
OUTCOME_CONFLICT = "conflict"
OUTCOME_REFUSED = "refused"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # UTC
    actor: str | None
    stack: str | None
    address: str | None
    action: str
    outcome: str
    old_fingerprint: str | None
    new_fingerprint: str | None
    detail: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d
