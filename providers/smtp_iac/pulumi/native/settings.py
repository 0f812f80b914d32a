"""``smtp-iac:index:SmtpSettings`` in the native plugin: an override at one scope.

The same behaviour as the dynamic provider's ``SmtpSettingsProvider``, on the same pure logic
(``..properties``) and the same operations (``..operations``); what differs is the shape the
engine sees: no ``stack`` input (the owner comes from provider config ``owner``, default
``pulumi/<project>/<stack>`` from the URN), camelCase names, and the calls a native provider
gets that a dynamic one never does:

- ``Create``/``Update`` with ``preview``: the checked inputs and ``COMPUTED`` record facts, with
  no store and no SMTP connection;
- ``Read`` with only an id (``pulumi import``): the record's inputs without a password and its
  outputs; an address with no record is an error (an empty answer would read as "exists");
- ``Read`` with state (refresh): the live record, the password by fingerprint; an empty id for
  a record that is gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...addresses import Address
from ...errors import UsageError
from ...models import SETTINGS_FIELDS, LiveRecord
from .. import properties as P
from ..operations import LIVE, Expected, Operations
from .schema import RECORD_OUTPUTS, SETTINGS_INPUTS
from .values import COMPUTED, domain_name

INPUTS = tuple(domain_name(k) for k in SETTINGS_INPUTS)
OUTPUTS = tuple(domain_name(k) for k in RECORD_OUTPUTS)


def check(news: dict[str, Any]) -> tuple[dict[str, Any], list[P.Failure]]:
    inputs = P.normalize({k: v for k, v in news.items() if k in INPUTS})
    return inputs, P.check_address(inputs) + P.check_settings(inputs)


def changes(ops: Operations, owner: str, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The properties that differ between the state (``olds``: outputs) and the new inputs.
    Both carry the owner as ``stack``: the state's ``managedBy`` is compared with it (another
    owner took the scope over: the update surfaces it)."""
    olds = {**P.normalize(olds), "stack": owner}
    news = {**P.normalize(news), "stack": owner}
    address = Address.parse(str(olds.get("address") or news["address"]))

    def fingerprint(password: str) -> str:
        return ops.fingerprint(address, password)

    return P.settings_changes(olds, news, fingerprint)


def record_facts(record: LiveRecord) -> dict[str, Any]:
    return {"address": str(record.address), **P.record_outputs(record)}


def outputs(inputs: dict[str, Any], record: LiveRecord) -> dict[str, Any]:
    """Outputs after a write or a refresh: the inputs (the password among them, marked secret on
    the way out), the live fields over them, the record's facts."""
    kept = {k: v for k, v in inputs.items() if k in ("address", "password")}
    return {**kept, **record_facts(record)}


def preview(inputs: dict[str, Any], owner: str, olds: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a preview of a create or update shows: the inputs, the facts only a write can tell
    as computed, and the owner the record will have."""
    out = {**(olds or {}), **inputs}
    out.update({k: COMPUTED for k in OUTPUTS})
    out["managed_by"] = owner
    return out


def write(ops: Operations, owner: str, inputs: dict[str, Any], *, expected: Expected = LIVE) -> dict[str, Any]:
    """Verify, then write (the one write path); the outputs. A create replaces whatever version
    is there (``LIVE``, under the ownership rule); an update names the version it replaces."""
    inputs = P.normalize(inputs)
    options = P.verify_options(inputs)
    record = ops.put(
        Address.parse(inputs["address"]),
        P.resolved_settings(inputs),
        stack=owner,
        options=options,
        base_dir=Path.cwd(),
        expected=expected,
    )
    return outputs(inputs, record)


def refresh(ops: Operations, id_: str, state: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``Read`` with state: (id, outputs, inputs); an empty id when the record is gone."""
    state = P.normalize(state)
    record = ops.get(Address.parse(str(state.get("address") or id_)))
    if record is None:
        return "", {}, {}
    inputs: dict[str, Any] = {k: state[k] for k in ("address", "password") if k in state}
    inputs.update({k: v for k in SETTINGS_FIELDS if (v := getattr(record, k)) is not None})
    return id_ or str(record.address), outputs(state, record), inputs


def adopt(ops: Operations, id_: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``Read`` with only an id (import): the record's inputs, no password, and its outputs."""
    address = Address.parse(id_)
    record = ops.get(address)
    if record is None:
        raise UsageError(
            "no SMTP settings at this address: nothing to import",
            address=address,
            hint="import an address that has its own record (`smtp-iac import` prints every record there is)",
        )
    inputs = {"address": str(address), **{k: v for k in SETTINGS_FIELDS if (v := getattr(record, k)) is not None}}
    return str(address), record_facts(record), inputs


def delete(ops: Operations, owner: str, state: dict[str, Any]) -> None:
    """Removes this owner's override only (``Operations.release``)."""
    state = P.normalize(state)
    ops.release(Address.parse(state["address"]), stack=owner, version=state.get("version"))
