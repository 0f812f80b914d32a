"""Applying a plan: refuse a stale one whole; verify every scope to be created or changed
(deduplicated, concurrent); write each scope that passed by compare-and-swap on the version
it was planned against; leave each scope that failed as it was. Every refused or failed
attempt is audited by the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import SmtpIacError, StalePlan
from .models import ResolvedSettings, SmtpSettings
from .plan import CREATE, DELETE, SETTINGS, UPDATE, ScopePlan
from .plandoc import Plan
from .secrets import resolve_settings
from .validation import validate_settings
from .verify import VerifyResult, verify_many

APPLIED, VERIFY_FAILED, FAILED, REFUSED = "applied", "verify_failed", "failed", "refused"
REFUSAL_KINDS = ("conflict", "ownership", "feature_disabled", "unknown_tenant")


@dataclass(frozen=True)
class ScopeResult:
    address: str
    action: str
    outcome: str  # APPLIED | VERIFY_FAILED | FAILED | REFUSED
    message: str = ""
    hint: str | None = None
    version: int | None = None  # the record's version after the write (None: deleted or not written)
    verify: VerifyResult | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == APPLIED

    def to_dict(self) -> dict:
        d = {
            "address": self.address,
            "action": self.action,
            "outcome": self.outcome,
            "message": self.message,
            "hint": self.hint,
            "version": self.version,
        }
        d["verify"] = self.verify.to_dict() if self.verify else None
        return d


@dataclass
class ApplyReport:
    stack: str
    results: list[ScopeResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        c = {APPLIED: 0, VERIFY_FAILED: 0, FAILED: 0, REFUSED: 0}
        for r in self.results:
            c[r.outcome] += 1
        return c


Event = Callable[[str, str], None]  # (address, what happened) for the progress display


def _settings_of(scope: ScopePlan) -> SmtpSettings:
    """Rebuild the desired settings from the plan; a hand-edited plan is validated again."""
    data = dict(scope.desired.fields) | {"password": dict(scope.desired.password_ref)}
    data = {k: v for k, v in data.items() if v is not None}
    problems = [p for p in validate_settings(data) if p.severity == "error"]
    if problems:
        raise SmtpIacError(
            f"the plan's settings are invalid: {problems[0].message}",
            address=str(scope.address),
            hint="make a new plan; plan files are not meant to be edited",
        )
    return SmtpSettings.model_validate(data)


def resolve_planned(
    plan: Plan, fingerprint: Callable[[str], str], base_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, ResolvedSettings], list[tuple[str, str]]]:
    """Resolve the passwords of every scope to write; a reference that now resolves to another
    secret than the one planned makes the plan stale."""
    resolved: dict[str, ResolvedSettings] = {}
    stale: list[tuple[str, str]] = []
    for scope in plan.diff.changes:
        if scope.desired.kind != SETTINGS:
            continue
        settings = _settings_of(scope)
        r = resolve_settings(settings, base_dir=base_dir, environ=environ, address=str(scope.address))
        if fingerprint(r.password.get_secret_value()) != scope.desired.fingerprint:
            stale.append(
                (
                    str(scope.address),
                    f"password reference {settings.password.describe()} now resolves to another secret",
                )
            )
        resolved[str(scope.address)] = r
    return resolved, stale


def stale_scopes(plan: Plan, live_versions: Mapping[str, int | None]) -> list[tuple[str, str]]:
    """Scopes whose live version moved since the plan was made."""
    out = []
    for scope in plan.diff.changes:
        now = live_versions.get(str(scope.address))
        if now != scope.live_version:
            was = "absent" if scope.live_version is None else f"version {scope.live_version}"
            is_ = "absent" if now is None else f"version {now}"
            out.append((str(scope.address), f"live record moved from {was} to {is_}"))
    return out


def apply_plan(
    plan: Plan,
    store,
    *,
    base_dir: Path,
    concurrency: int = 8,
    environ: Mapping[str, str] | None = None,
    on_event: Event | None = None,
    actor: str | None = None,
) -> ApplyReport:
    """Apply exactly what ``plan`` shows, or nothing if it is stale (``StalePlan``)."""
    emit = on_event or (lambda _a, _w: None)
    if plan.has_errors:
        first = plan.diff.refused[0]
        raise SmtpIacError(
            f"the plan has {len(plan.diff.refused)} refused scope(s); nothing applied",
            address=str(first.address),
            hint=first.refusal.hint,
        )
    if plan.source is not None and not plan.unaltered(store.fingerprint):
        raise SmtpIacError(
            "the saved plan was changed after it was made (its digest does not match); nothing applied",
            hint="make a new plan; plan files are not meant to be edited",
        )
    changes = plan.diff.changes
    snap = store.snapshot()
    versions = {str(a): r.version for a, r in snap.records.items()}
    resolved, stale_secrets = resolve_planned(plan, store.fingerprint, base_dir, environ)
    stale = stale_scopes(plan, versions) + stale_secrets
    if stale:
        raise StalePlan(stale)

    to_verify = [(str(s.address), resolved[str(s.address)]) for s in changes if s.action in (CREATE, UPDATE)]
    for address, _ in to_verify:
        emit(address, "verifying")
    checks = (
        verify_many(
            to_verify,
            plan.verify,
            concurrency=concurrency,
            base_dir=base_dir,
            on_result=lambda r: emit(r.address, "verified" if r.ok else f"verify failed ({r.failure})"),
        )
        if to_verify
        else {}
    )

    results: list[ScopeResult] = []
    for scope in changes:
        address = str(scope.address)
        check = checks.get(address)
        if check is not None and not check.ok:
            store.record_attempt(
                scope.address,
                stack=plan.stack,
                action=scope.action,
                outcome=VERIFY_FAILED,
                detail=f"{check.failure}: {check.detail}",
                actor=actor,
                new_fingerprint=scope.desired.fingerprint,
            )
            results.append(
                ScopeResult(
                    address,
                    scope.action,
                    VERIFY_FAILED,
                    f"verify failed ({check.failure}) at {check.stage}: {check.detail}",
                    check.advice,
                    scope.live_version,
                    check,
                )
            )
            emit(address, "left as it was")
            continue
        try:
            if scope.action == DELETE:
                store.delete(
                    scope.address, expected_version=scope.live_version, stack=plan.stack, actor=actor, adopt=scope.adopt
                )
                version = None
            else:
                rec = store.put(
                    scope.address,
                    resolved[address],
                    expected_version=scope.live_version,
                    stack=plan.stack,
                    actor=actor,
                    adopt=scope.adopt,
                )
                version = rec.version
        except SmtpIacError as err:  # conflict, ownership, feature off, unknown tenant, store down
            outcome = REFUSED if err.kind in REFUSAL_KINDS else FAILED
            results.append(
                ScopeResult(address, scope.action, outcome, err.message, err.hint, scope.live_version, check)
            )
            emit(address, outcome)
            continue
        results.append(ScopeResult(address, scope.action, APPLIED, "", None, version, check))
        emit(address, APPLIED)
    return ApplyReport(plan.stack, results)
