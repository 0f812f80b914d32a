"""Records and settings as the service shows and takes them: a ``LiveRecord`` as ``RecordOut``
(the fingerprint only where the caller may see it), a request's settings checked by the same
rules as a stack file's (``rules.check_settings``: errors refuse with 422 per field, warnings
ride along), and the ETag preconditions of writes."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import SecretStr

from ..access import Act, decide, shows_fingerprint
from ..addresses import Address
from ..models import LiveRecord, ResolvedSettings, has_unsafe_chars
from ..reading.rules import INVISIBLE, check_settings, describe_char
from ..tokens import TokenInfo
from .bodies import RecordOut, SettingsIn
from .fingerprints import ScopeFingerprints
from .problems import Problem

_ETAG = re.compile(r'"([0-9]{1,18})"')


def record_out(record: LiveRecord, token: TokenInfo, fingerprints: ScopeFingerprints) -> RecordOut:
    """``record`` as the caller sees it; built without validation, since every field comes typed
    from the store's own ``LiveRecord`` (the answer is serialized once, by pydantic)."""
    visible = decide(token, Act.READ, record.address) is None and shows_fingerprint(token, record.address)
    return RecordOut.model_construct(
        address=str(record.address),
        **record.public_fields(),
        password_fingerprint=fingerprints.shown(record.address, record.password_fingerprint) if visible else None,
        version=record.version,
        managed_by=record.managed_by,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
    )


def etag(version: int) -> str:
    return f'"{version}"'


RELAY_FIELDS = ("host", "port", "tls", "tls_mode", "username")
"""Where, how and as whom a password is sent: a stored password is kept only while these stay
the same (a username and its password are one credential)."""


def checked_settings(
    body: SettingsIn,
    prefix: str = "",
    live: LiveRecord | None = None,
    reveal: Callable[[], SecretStr] | None = None,
) -> tuple[ResolvedSettings, list[dict[str, str]]]:
    """The body's settings, or 422 with every problem located by field; and the warnings.

    A body without a password keeps the stored one (that of ``live``, read with ``reveal``)
    only while the relay and account stay the same (``RELAY_FIELDS``): whoever may write a scope
    may not send its stored password to another relay, to the same one without TLS, or try it
    as another user."""
    fields = body.fields()
    errors: list[dict[str, str]] = []
    for name, value in fields.items():
        if isinstance(value, str) and (char := INVISIBLE.search(value)):
            errors.append(
                {"field": prefix + name, "message": f"holds an invisible character ({describe_char(char.group())})"}
            )
    if body.password is None:
        why = _kept_password_refusal(fields, live)
        if why is not None:
            errors.append({"field": prefix + "password", "message": why})
    elif has_unsafe_chars(body.password.get_secret_value()):
        errors.append({"field": prefix + "password", "message": "holds CR, LF or NUL"})
    warnings: list[dict[str, str]] = []
    for p in check_settings(fields):
        problem = {"field": prefix + ".".join(str(x) for x in p.path), "message": p.message}
        (errors if p.severity == "error" else warnings).append(problem)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(422, f"the settings are not valid: {detail}", errors=errors)
    password = body.password
    if password is None:
        assert reveal is not None, "a caller that passes live passes reveal"
        password = reveal()
    return ResolvedSettings(**fields, password=password), warnings


def _kept_password_refusal(fields: dict[str, object], live: LiveRecord | None) -> str | None:
    if live is None:
        return "required: the scope has no stored password to keep"
    stored = live.public_fields()
    if any(not _same(fields.get(f), stored.get(f)) for f in RELAY_FIELDS):
        return (
            "required when host, port, TLS or username change: a stored password is only sent to the relay "
            "and account it was saved for"
        )
    return None


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def precondition(if_match: str | None, if_none_match: str | None, address: Address) -> int | None:
    """The version a write expects (None: the scope must have no record), from ``If-Match:
    "<version>"`` or ``If-None-Match: *``; 428 without either. A tag that is not one of ours
    matches no version: 412. If-None-Match takes ``*`` only (400 for anything else)."""
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise Problem(
                400,
                "If-None-Match takes only *: create the record, the scope must have none",
                address=address,
                hint='send If-Match: "<version>" (from GET\'s ETag) to replace',
            )
        if if_match is not None:
            raise Problem(400, "send If-Match or If-None-Match: *, not both", address=address)
        return None
    if if_match is None:
        raise Problem(
            428,
            "a write needs a precondition",
            address=address,
            hint='send If-Match: "<version>" (from GET\'s ETag) to replace, If-None-Match: * to create',
        )
    tag = if_match.strip()
    ours = _ETAG.fullmatch(tag)  # ASCII digits only: str.isdigit() would take "²", which int() refuses
    if ours is not None:
        return int(ours.group(1))
    raise Problem(412, f"If-Match {tag[:40]!r} is not a version of this record", address=address, kind="conflict")
