"""Applying a plan: refuse a stale one whole; verify every scope to be created or changed
(deduplicated, concurrent); then write each scope through ``write.ScopeWriter`` (the one
write path): compare-and-swap on the version it was planned against, a scope whose check
failed left as it was. Every refused or failed attempt is audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..addresses import Address
from ..errors import ErrorKind, SmtpIacError, StalePlan
from ..models import ResolvedSettings, SmtpSettings
from ..reading.filerefs import FileScope
from ..reading.secrets import resolve_settings
from ..reading.validation import validate_settings
from ..store import AuditOutcome, Store
from .diff import DesiredKind, ScopePlan
from .plan import Plan
from .write import Outcome, ScopeResult, ScopeWrite, ScopeWriter


class Step(StrEnum):
    """What the progress display hears about a scope."""

    VERIFYING = "verifying"
    VERIFIED = "verified"
    VERIFY_FAILED = "verify failed"
    LEFT = "left as it was"
    APPLIED = Outcome.APPLIED.value
    REFUSED = Outcome.REFUSED.value
    FAILED = Outcome.FAILED.value


_DONE = frozenset({Step.LEFT, Step.APPLIED, Step.REFUSED, Step.FAILED})


@dataclass(frozen=True)
class ApplyEvent:
    address: Address
    step: Step
    detail: str = ""  # the failure class of a failed check

    @property
    def done(self) -> bool:
        """The scope's last event."""
        return self.step in _DONE

    def __str__(self) -> str:
        return f"{self.step} ({self.detail})" if self.detail else str(self.step)


OnEvent = Callable[[ApplyEvent], None]


@dataclass
class ApplyReport:
    stack: str
    results: list[ScopeResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {str(o): 0 for o in Outcome}  # plain text keys, as in JSON
        for r in self.results:
            c[r.outcome] += 1
        return c


def _settings_of(scope: ScopePlan) -> SmtpSettings:
    """Rebuild the desired settings from the plan; a hand-edited plan is validated again."""
    data = dict(scope.desired.fields or {}) | {"password": dict(scope.desired.password_ref or {})}
    data = {k: v for k, v in data.items() if v is not None}
    problems = [p for p in validate_settings(data) if p.severity == "error"]
    if problems:
        raise SmtpIacError(
            f"the plan's settings are invalid: {problems[0].message}",
            address=scope.address,
            hint="make a new plan; plan files are not meant to be edited",
        )
    return SmtpSettings.model_validate(data)


def resolve_planned(
    plan: Plan, fingerprint: Callable[[Address, str], str], files: FileScope, environ: Mapping[str, str] | None = None
) -> tuple[dict[Address, ResolvedSettings], list[tuple[Address, str]]]:
    """Resolve the passwords of every scope to write; a reference that now resolves to another
    secret than the one planned makes the plan stale."""
    resolved: dict[Address, ResolvedSettings] = {}
    stale: list[tuple[Address, str]] = []
    for scope in plan.diff.changes:
        if scope.desired.kind is not DesiredKind.SETTINGS:
            continue
        settings = _settings_of(scope)
        r = resolve_settings(settings, files=files, environ=environ, address=scope.address)
        if fingerprint(scope.address, r.password.get_secret_value()) != scope.desired.fingerprint:
            why = f"password reference {settings.password.describe()} now resolves to another secret"
            stale.append((scope.address, why))
        resolved[scope.address] = r
    return resolved, stale


def stale_scopes(plan: Plan, live_versions: Mapping[Address, int]) -> list[tuple[Address, str]]:
    """Scopes whose live version moved since the plan was made."""
    out = []
    for scope in plan.diff.changes:
        now = live_versions.get(scope.address)
        if now != scope.live_version:
            was = "absent" if scope.live_version is None else f"version {scope.live_version}"
            is_ = "absent" if now is None else f"version {now}"
            out.append((scope.address, f"live record moved from {was} to {is_}"))
    return out


def apply_plan(
    plan: Plan,
    store: Store,
    *,
    files: FileScope,
    concurrency: int = 8,
    environ: Mapping[str, str] | None = None,
    on_event: OnEvent | None = None,
    actor: str | None = None,
) -> ApplyReport:
    """Apply exactly what ``plan`` shows, or nothing if it is stale (``StalePlan``). ``files``:
    where the stack's ``{file:}`` references may reach (the store's own files are added here)."""
    emit: OnEvent = on_event or (lambda _e: None)
    if plan.has_errors:
        first = plan.diff.refused[0]
        raise SmtpIacError(
            f"the plan has {len(plan.diff.refused)} refused scope(s); nothing applied",
            address=first.address,
            hint=first.refusal.hint if first.refusal else None,
        )
    if plan.source is not None and not plan.unaltered(store.seal):
        raise SmtpIacError(
            "the saved plan was changed after it was made (its digest does not match); nothing applied",
            hint="make a new plan; plan files are not meant to be edited",
        )
    changes = plan.diff.changes
    snap = store.snapshot()
    versions = {a: r.version for a, r in snap.records.items()}
    files = files.forbidding(store.local_files)
    resolved, stale_secrets = resolve_planned(plan, store.fingerprint, files, environ)
    moved = stale_scopes(plan, versions)
    writer = ScopeWriter(store, actor=actor)
    if moved or stale_secrets:
        _audit_stale(writer, plan, resolved, moved, stale_secrets)
        raise StalePlan(moved + stale_secrets, saved=plan.source is not None)

    # A store that checks writes itself (the settings service) runs each check on its side.
    here = not store.verifies_writes
    to_verify = [(s.address, resolved[s.address]) for s in changes if s.address in resolved and here]
    for address, _ in to_verify:
        emit(ApplyEvent(address, Step.VERIFYING))

    from ..verify import verify_many  # smtplib, ssl and email: only for an apply that checks

    checks = (
        verify_many(
            to_verify,
            plan.verify,
            concurrency=concurrency,
            base_dir=files.base_dir,
            on_result=lambda r: emit(
                ApplyEvent(r.address, Step.VERIFIED)
                if r.ok
                else ApplyEvent(r.address, Step.VERIFY_FAILED, str(r.failure))
            ),
        )
        if to_verify
        else {}
    )

    results: list[ScopeResult] = []
    for scope in changes:
        w = ScopeWrite(
            scope.address,
            scope.action,
            resolved.get(scope.address),
            scope.live_version,
            plan.stack,
            scope.adopt,
            None if here else plan.verify,
        )
        if not here and w.settings is not None:
            emit(ApplyEvent(scope.address, Step.VERIFYING))
        result = writer.commit(w, checks.get(scope.address))
        if not here and result.verify is not None:
            ok = result.verify.ok
            emit(
                ApplyEvent(scope.address, Step.VERIFIED if ok else Step.VERIFY_FAILED, str(result.verify.failure or ""))
            )
        results.append(result)
        emit(ApplyEvent(scope.address, Step.LEFT if result.outcome is Outcome.VERIFY_FAILED else Step(result.outcome)))
    return ApplyReport(plan.stack, results)


def _audit_stale(
    writer: ScopeWriter,
    plan: Plan,
    resolved: Mapping[Address, ResolvedSettings],
    moved: list[tuple[Address, str]],
    secrets: list[tuple[Address, str]],
) -> None:
    """Every stale scope is a refused attempt (SPEC: every refused attempt is audited): a moved
    version as ``conflict``, a secret that changed under the plan as ``refused``."""
    scopes = {s.address: s for s in plan.diff.changes}
    what = "saved plan is stale" if plan.source is not None else "the store changed while apply was planning"
    for outcome, stale in ((AuditOutcome.CONFLICT, moved), (AuditOutcome.REFUSED, secrets)):
        for address, why in stale:
            s = scopes[address]
            w = ScopeWrite(address, s.action, resolved.get(address), s.live_version, plan.stack, s.adopt)
            writer.audit_refused(w, outcome, f"{ErrorKind.STALE_PLAN}: {what}, nothing applied: {why}")
