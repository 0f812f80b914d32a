"""Property bags of the two dynamic resources, and the pure logic on them.

What the engine hands a dynamic provider, and what this module therefore copes with:

- numbers arrive as floats (``587.0``): ``normalize`` turns whole floats back into ints;
- during preview, values not yet known arrive as the SDK's UNKNOWN sentinel string;
- ``diff`` gets the OLD OUTPUTS and the NEW (checked) INPUTS, so outputs echo every input key
  (under the same name), and computed facts (fingerprint, version, ...) are extra keys;
- a secret input stays secret in the outputs only when echoed under the same key, so the
  password is echoed as ``password`` (never under another name) and is also listed as an
  additional secret output by the resource classes.

Input keys of ``SmtpSettings``: address, stack, stack_file, host, port, tls, [tls_mode], username,
password, [sender], verify. ``SmtpInheritance``: address, stack, stack_file.
Computed output keys: see ``RECORD_KEYS``.

Nothing here does I/O; the password is only ever compared through a fingerprint function
handed in by the caller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN
from pydantic import SecretStr, ValidationError

from ..addresses import Address, valid_id
from ..models import SETTINGS_FIELDS, LiveRecord, ResolvedSettings, VerifyOptions, effective_tls_mode, has_unsafe_chars
from ..reading.validation import validate_settings

# During preview the host deserializes Check's and Diff's properties keeping unknowns: a value
# not known yet arrives as a ``pulumi.output.Unknown`` instance (on the wire: the UNKNOWN string).

REQUIRED_SETTINGS = ("host", "port", "tls", "username", "password")
IDENTITY_KEYS = ("address", "stack", "stack_file")
RECORD_KEYS = ("password_fingerprint", "version", "managed_by", "updated_at", "updated_by")
"""Computed outputs read from the store; never inputs."""

PASSWORD_PLACEHOLDER_REF = {"pulumi_config": "password"}
"""Stands in for the (already resolved) password when the stack-file validation is reused."""


def is_unknown(value: Any) -> bool:
    if isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN):
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False


def _int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def normalize(props: dict[str, Any]) -> dict[str, Any]:
    """A copy with whole floats made ints again (port, verify.timeout_seconds, version)."""
    out = dict(props)
    for key in ("port", "version"):
        if key in out:
            out[key] = _int(out[key])
    verify = out.get("verify")
    if isinstance(verify, dict):
        verify = dict(verify)
        if "timeout_seconds" in verify:
            verify["timeout_seconds"] = _int(verify["timeout_seconds"])
        out["verify"] = verify
    return out


# ----- check ------------------------------------------------------------------------------

Failure = tuple[str, str]  # (property, reason)


def check_address(news: dict[str, Any]) -> list[Failure]:
    address = news.get("address")
    if address is None:
        return [("address", "missing required property")]
    if is_unknown(address):
        return []
    try:
        if not isinstance(address, str):
            raise ValueError("address must be a string")
        Address.parse(address)
    except ValueError as e:
        return [("address", str(e))]
    return []


def check_identity(news: dict[str, Any]) -> list[Failure]:
    failures = check_address(news)
    stack = news.get("stack")
    if stack is None:
        failures.append(("stack", "missing required property"))
    elif not is_unknown(stack) and not (isinstance(stack, str) and valid_id(stack)):
        failures.append(("stack", "stack name must be a valid id (lowercase letters, digits and '-')"))
    stack_file = news.get("stack_file")
    if stack_file is not None and not is_unknown(stack_file) and not isinstance(stack_file, str):
        failures.append(("stack_file", "stack_file must be a path"))
    return failures


def check_settings(news: dict[str, Any]) -> list[Failure]:
    """The stack file's schema and rules, one failure per field, errors only. Unknown values
    (preview) are skipped: a stand-in takes their place so the other fields still get checked."""
    failures: list[Failure] = []
    unknown = {k for k in (*SETTINGS_FIELDS, "password") if k in news and is_unknown(news[k])}
    data: dict[str, Any] = {}
    stand_ins = {"host": "unknown.invalid", "port": 587, "tls": True, "username": "unknown"}
    for key in SETTINGS_FIELDS:
        if key not in news or news[key] is None:
            continue
        if key in unknown:
            if key in stand_ins:
                data[key] = stand_ins[key]
            continue
        data[key] = news[key]
    for key in REQUIRED_SETTINGS:
        if key not in news or news[key] is None:
            failures.append((key, "missing required property"))
            if key in stand_ins:
                data[key] = stand_ins[key]
    reasons: dict[str, list[str]] = {}
    for field, message in _validation_errors(data):
        if field in unknown or field == "password":
            continue
        reasons.setdefault(field, []).append(message)
    for field, messages in reasons.items():
        failures.append((field, "; ".join(messages)))
    password = news.get("password")
    if password is not None and "password" not in unknown:
        if not isinstance(password, str) or not password:
            failures.append(("password", "password must be a non-empty string"))
        elif has_unsafe_chars(password):
            failures.append(("password", "password must not contain CR, LF or NUL characters"))
    verify = news.get("verify")
    if verify is not None and not is_unknown(verify):
        try:
            verify_options(news)
        except (ValidationError, TypeError) as e:
            failures.append(("verify", pydantic_reason(e)))
    return failures


MEMO_SIZE = 256
MEMO_TEXT = 2048
"""The stack file's checks of settings made of plain values (no password: its placeholder
stands in) are remembered, at most ``MEMO_SIZE`` of them of at most ``MEMO_TEXT`` characters
of text each: every resource of a run that uses one relay has the same ones."""
_MEMO: OrderedDict[tuple[Any, ...], tuple[tuple[str, str], ...]] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_PLAIN_TYPES = (str, int, float, bool, type(None))


def _memo_key(data: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key for ``data``'s check (types included: 1, 1.0 and True differ), or None when it
    is not plain or too large to keep."""
    text = 0
    for value in data.values():
        if type(value) not in _PLAIN_TYPES:
            return None
        if type(value) is str:
            text += len(value)
    if text > MEMO_TEXT:
        return None
    return tuple((k, type(v), v) for k, v in sorted(data.items()))


def _validation_errors(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The stack file's schema and rules on ``data`` (settings fields, the password a
    placeholder): (field, message) of each error at a field, in order."""
    key = _memo_key(data)
    if key is not None:
        with _MEMO_LOCK:
            found = _MEMO.get(key)
            if found is not None:
                _MEMO.move_to_end(key)
                return found
    found = tuple(
        (str(problem.path[0]), problem.message)
        for problem in validate_settings({**data, "password": PASSWORD_PLACEHOLDER_REF})
        if problem.severity == "error" and problem.path
    )
    if key is not None:
        with _MEMO_LOCK:
            _MEMO[key] = found
            if len(_MEMO) > MEMO_SIZE:
                _MEMO.popitem(last=False)
    return found


def pydantic_reason(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
    return str(e)


# ----- conversions ------------------------------------------------------------------------


def resolved_settings(props: dict[str, Any]) -> ResolvedSettings:
    return ResolvedSettings(
        host=props["host"],
        port=int(props["port"]),
        tls=bool(props["tls"]),
        tls_mode=props.get("tls_mode"),
        username=props["username"],
        password=SecretStr(props["password"]),
        sender=props.get("sender"),
    )


def verify_options(props: dict[str, Any]) -> VerifyOptions:
    raw = dict(props.get("verify") or {})
    if "timeout_seconds" in raw:
        raw["timeout_seconds"] = _int(raw["timeout_seconds"])
    return VerifyOptions.model_validate(raw)


def record_outputs(record: LiveRecord) -> dict[str, Any]:
    """Live fields and computed facts of a record, as output properties (no None values:
    the SDK drops them anyway)."""
    out: dict[str, Any] = {}
    for key in SETTINGS_FIELDS:
        value = getattr(record, key)
        if value is not None:
            out[key] = value
    out["password_fingerprint"] = record.password_fingerprint
    out["version"] = record.version
    if record.managed_by is not None:
        out["managed_by"] = record.managed_by
    if record.updated_at is not None:
        out["updated_at"] = record.updated_at.isoformat()
    if record.updated_by is not None:
        out["updated_by"] = record.updated_by
    return out


def settings_outputs(inputs: dict[str, Any], record: LiveRecord) -> dict[str, Any]:
    """Outputs after a write or a read: every input key echoed (the password under its own key,
    so that it stays secret), the live fields over them, and the record's computed facts."""
    out = {k: v for k, v in inputs.items() if k not in RECORD_KEYS and k != "__provider"}
    for key in SETTINGS_FIELDS:
        out.pop(key, None)
    out.update(record_outputs(record))
    return out


def read_inputs(old: dict[str, Any], record: LiveRecord) -> dict[str, Any]:
    """Inputs after a refresh: the old identity, verify options and password, with the LIVE
    settings fields, so that the next preview diffs against what is really there."""
    keep = {k: old[k] for k in (*IDENTITY_KEYS, "password", "verify") if k in old}
    for key in SETTINGS_FIELDS:
        value = getattr(record, key)
        if value is not None:
            keep[key] = value
    return keep


def inheritance_outputs(inputs: dict[str, Any], record: LiveRecord | None) -> dict[str, Any]:
    out = {k: inputs[k] for k in IDENTITY_KEYS if k in inputs}
    out["override_present"] = record is not None
    if record is not None:
        out.update(record_outputs(record))
    return out


# ----- diff -------------------------------------------------------------------------------


def _same(old: Any, new: Any) -> bool:
    return bool(_int(old) == _int(new))


def settings_changes(olds: dict[str, Any], news: dict[str, Any], fingerprint: Callable[[str], str]) -> list[str]:
    """Names of the properties that differ between the old OUTPUTS and the new inputs.
    ``fingerprint`` is only called with a known password. ``tls_mode`` is compared by its
    effective value (absent on 587 with TLS == starttls)."""
    changed: list[str] = []
    for key in ("address", "stack", "host", "port", "tls", "username", "sender"):
        new = news.get(key)
        if is_unknown(new) or not _same(olds.get(key), new):
            changed.append(key)
    if any(is_unknown(news.get(k)) for k in ("tls", "tls_mode", "port")):
        changed.append("tls_mode")
    else:
        try:
            old_mode = effective_tls_mode(bool(olds.get("tls")), olds.get("tls_mode"), _int(olds.get("port")))
            new_mode = effective_tls_mode(bool(news.get("tls")), news.get("tls_mode"), _int(news.get("port")))
        except TypeError:
            old_mode, new_mode = str(olds.get("tls_mode")), str(news.get("tls_mode"))
        if old_mode != new_mode:
            changed.append("tls_mode")
    owner = olds.get("managed_by")
    if owner is not None and "stack" not in changed and owner != news.get("stack"):
        changed.append("managed_by")  # another stack took the scope over: the update surfaces it
    password = news.get("password")
    if (
        is_unknown(password)
        or not isinstance(password, str)
        or fingerprint(password) != olds.get("password_fingerprint")
    ):
        changed.append("password")
    return changed


def inheritance_changes(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    changed = [k for k in ("address", "stack") if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
    if olds.get("override_present"):
        changed.append("override_present")
    return changed


def replaces(changed: Iterable[str]) -> list[str]:
    return ["address"] if "address" in changed else []
