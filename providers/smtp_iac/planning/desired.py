"""A loaded stack's managed scopes as ``plan.DesiredScope``s: passwords resolved once and
reduced at once to the store's keyed fingerprint at each scope (the plain text goes to the
store alone: a database store's key makes the fingerprint here, the settings service makes it
on its side)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import SecretStr

from ..addresses import Address
from ..errors import SecretUnavailable
from ..models import SmtpSettings, public_fields
from ..reading.secrets import resolve_password
from ..reading.stackfile import LoadedStack
from .diff import DesiredKind, DesiredScope, DesiredScopes


def desired_scopes(
    loaded: LoadedStack,
    fingerprints: Callable[[Sequence[tuple[Address, str]]], list[str]],
    *,
    environ: Mapping[str, str] | None = None,
    store_files: Iterable[Path] = (),
) -> DesiredScopes:
    """Every managed scope, in address order (``DesiredScopes``: the ``inherit`` ones as bare
    addresses). All unresolvable password references are
    reported together (one error naming each reference and the scopes using it).

    Each distinct password reference is resolved once (a 20,000-org stack has thousands of
    scopes and a handful of references), and every scope's is fingerprinted in one call
    (``Store.fingerprints``: one request to the settings service); the public fields are the
    stack's own, already validated by the model. ``store_files``: the open store's own files,
    which no ``{file:}`` reference may read."""
    files = loaded.files.forbidding(store_files)
    missing: dict[str, list[str]] = {}
    hints: dict[str, str | None] = {}
    secrets: dict[str, SecretStr] = {}
    failed: dict[str, SecretUnavailable] = {}
    refs: dict[str, dict[str, str]] = {}  # each reference's ``password_ref``, made once
    settings, inherit = loaded.stack.split_scopes()
    pending: list[tuple[Address, SmtpSettings, str]] = []
    for addr, want in settings.items():
        ref = want.password.describe()
        if ref not in secrets and ref not in failed:
            refs[ref] = want.password.model_dump()
            try:
                secrets[ref] = resolve_password(want.password, files=files, environ=environ, address=addr)
            except SecretUnavailable as e:
                failed[ref] = e
        pending.append((addr, want, ref))
    ready = [p for p in pending if p[2] in secrets]
    fps = fingerprints([(addr, secrets[ref].get_secret_value()) for addr, _, ref in ready]) if ready else []
    kind = DesiredKind.SETTINGS
    out = [
        DesiredScope(addr, kind, fields=public_fields(want), password_ref=refs[ref], fingerprint=fp)
        for (addr, want, ref), fp in zip(ready, fps, strict=True)
    ]
    for addr, _, ref in pending:
        err = failed.get(ref)
        if err is not None:
            missing.setdefault(err.message, []).append(str(addr))
            hints[err.message] = err.hint
    if missing:
        lines = [f"{msg} (used by {', '.join(a[:3])}{' and more' if len(a) > 3 else ''})" for msg, a in missing.items()]
        hint = next((h for h in hints.values() if h), None)
        raise SecretUnavailable("; ".join(lines), hint=hint)
    return DesiredScopes(out, inherit)
