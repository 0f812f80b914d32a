"""The plan document: what ``plan --format json`` prints and ``plan --out`` saves, documented
by ``schemas/plan.schema.json``. A saved plan holds everything apply needs to write exactly
what was shown (fields, password REFERENCES and the fingerprints they resolved to, the live
version each scope was planned against), and no password."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..addresses import Address
from ..errors import ErrorKind
from ..models import VerifyOptions
from .blast import BlastRadius, ImpactKind, OrgImpact, PartnerImpact
from .diff import Action, DesiredKind, DesiredScope, Diff, FieldChange, Refusal, ScopePlan

FORMAT = "smtp-iac/plan"
FORMAT_VERSION = 1

KeyedDigest = Callable[[str], str]
"""The store's keyed seal of a text (``Store.seal``)."""


@dataclass
class Plan:
    stack: str
    stack_file: str
    store: str  # display form: a password in the URL is masked
    verify: VerifyOptions
    diff: Diff
    blast: BlastRadius | None
    adopt: bool = False
    targets: list[str] | None = None  # --target, as given (sorted); None: the whole stack
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    created_by: str = ""
    digest: str | None = None  # keyed digest of the document (``seal``); checked by apply
    source: dict[str, Any] | None = field(default=None, repr=False)  # the document as read from a file

    def seal(self, keyed_digest: KeyedDigest) -> None:
        """Sign the document with the store's keyed seal, so that a plan edited after it was
        made (fields, versions, fingerprints) is refused by apply, and one cannot be forged
        without the store key. The HMAC is over the document's SHA-256 (collision-resistant, so
        as binding as the document), so that sealing through the settings service sends 64
        characters, not megabytes."""
        self.digest = keyed_digest(_sha256(canonical(self.to_dict())))

    def unaltered(self, keyed_digest: KeyedDigest) -> bool:
        """Whether a plan read from a file is exactly what ``plan`` wrote."""
        return self.source is not None and self.digest == keyed_digest(_sha256(canonical(self.source)))

    @property
    def has_changes(self) -> bool:
        return bool(self.diff.changes)

    @property
    def has_errors(self) -> bool:
        return bool(self.diff.refused)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "stack": self.stack,
            "stack_file": self.stack_file,
            "store": self.store,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "adopt": self.adopt,
            "targets": self.targets,
            "verify": self.verify.model_dump(by_alias=True, exclude_none=True),
            "summary": self.diff.counts() | {"affected_organizations": self.blast.affected if self.blast else 0},
            "scopes": [_scope_dict(s) for s in self.diff.scopes],
            "unmanaged": [str(a) for a in self.diff.unmanaged],
            "blast_radius": self.blast.to_dict() if self.blast else None,
        } | ({"digest": self.digest} if self.digest else {})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(doc: dict[str, Any]) -> str:
    """The document without its digest, in one canonical JSON spelling."""
    return json.dumps(
        {k: v for k, v in doc.items() if k != "digest"}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def _blast_from(d: dict[str, Any] | None) -> BlastRadius | None:
    if d is None:
        return None
    partners = [
        PartnerImpact(
            p["partner"],
            p["organizations"],
            p["affected"],
            Counter({(t["from"], t["to"], ImpactKind(t["kind"])): t["count"] for t in p["transitions"]}),
        )
        for p in d["partners"]
    ]
    impacts = [
        OrgImpact(
            Address.parse(i["org"]),
            Address.parse(i["before"]) if i["before"] else None,
            Address.parse(i["after"]) if i["after"] else None,
            ImpactKind(i["kind"]),
        )
        for i in d.get("impacts", [])
    ]
    return BlastRadius(d["organizations"], impacts, partners)


def _scope_dict(s: ScopePlan) -> dict[str, Any]:
    d = s.desired
    return {
        "address": str(d.address),
        "tier": d.address.tier.value,
        "action": s.action,
        "desired": d.kind,
        "fields": dict(d.fields) if d.fields is not None else None,
        "password_ref": dict(d.password_ref) if d.password_ref is not None else None,
        "password_fingerprint": d.fingerprint,
        "live_version": s.live_version,
        "live_owner": s.live_owner,
        "adopt": s.adopt,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in s.changes],
        "refusal": (
            {"kind": s.refusal.kind, "message": s.refusal.message, "hint": s.refusal.hint} if s.refusal else None
        ),
        "notes": list(s.notes),
    }


def plan_from_dict(doc: dict[str, Any]) -> Plan:
    """The plan a document describes. ``doc`` has passed ``schemas/plan.schema.json``
    (``planfile.read_plan``); an address the schema lets through but ``Address`` refuses
    raises ValueError, invalid verify options pydantic's ValidationError."""
    scopes = []
    for s in doc["scopes"]:
        desired = DesiredScope(
            Address.parse(s["address"]),
            DesiredKind(s["desired"]),
            fields=s["fields"],
            password_ref=s["password_ref"],
            fingerprint=s["password_fingerprint"],
        )
        r = s["refusal"]
        refusal = Refusal(ErrorKind(r["kind"]), r["message"], r["hint"]) if r else None
        changes = tuple(FieldChange(c["field"], c["old"], c["new"]) for c in s["changes"])
        scopes.append(
            ScopePlan(
                desired,
                Action(s["action"]),
                s["live_version"],
                s["live_owner"],
                changes,
                refusal,
                adopt=s["adopt"],
                notes=tuple(s["notes"]),
            )
        )
    diff = Diff(scopes, [Address.parse(a) for a in doc["unmanaged"]])
    return Plan(
        doc["stack"],
        doc["stack_file"],
        doc["store"],
        VerifyOptions.model_validate(doc["verify"]),
        diff,
        _blast_from(doc["blast_radius"]),
        adopt=doc["adopt"],
        targets=doc.get("targets"),
        created_at=doc["created_at"],
        created_by=doc["created_by"],
        digest=doc["digest"],
        source=doc,
    )
