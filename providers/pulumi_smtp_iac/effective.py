"""``get_effective_settings`` (``smtp-iac:index:getEffectiveSettings``): the SMTP settings in
force for an organization and the tier they come from (never a password), as a plain result
(``get_effective_settings``) or an output (``get_effective_settings_output``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pulumi

from ._names import GET_EFFECTIVE_SETTINGS, to_snake
from ._options import invoke_options, invoke_output_options


@dataclasses.dataclass(frozen=True)
class GetEffectiveSettingsResult:
    """What ``getEffectiveSettings`` returns. Without settings in force (``tier`` ``none``)
    only ``organization``, ``tier`` and ``chain`` are set."""

    organization: str
    """The organization's address."""
    tier: str
    """``organization``, ``partner``, ``controller`` or ``none``."""
    chain: tuple[str, ...]
    """The addresses looked at, in order, ending with the one used."""
    source: str | None = None
    """The address whose record applies; absent: no SMTP settings apply."""
    host: str | None = None
    port: int | None = None
    tls: bool | None = None
    tls_mode: str | None = None
    """``starttls`` or ``implicit``; absent: implicit on port 465, STARTTLS elsewhere."""
    username: str | None = None
    sender: str | None = None
    """The From address mail of this scope is sent with; absent: the platform's."""

    @classmethod
    def from_wire(cls, outputs: Mapping[str, Any]) -> GetEffectiveSettingsResult:
        """The result from the invoke's outputs (camelCase names; numbers may come as floats).
        ``TypeError`` for a name the result does not have, as for a newer provider's output."""
        values = {to_snake(name): value for name, value in outputs.items()}
        port = values.get("port")
        if isinstance(port, float) and port.is_integer():
            values["port"] = int(port)
        values["chain"] = tuple(values.get("chain") or ())
        return cls(**values)


def _args(organization: pulumi.Input[str]) -> dict[str, Any]:
    if organization is None:
        raise TypeError("Missing required argument 'organization'")
    return {"organization": organization}


def get_effective_settings(organization: str, opts: pulumi.InvokeOptions | None = None) -> GetEffectiveSettingsResult:
    """The SMTP settings in force for ``organization`` (``partners/P/organizations/O``,
    ``P/O`` or an organization id unique across partners) and the tier they come from."""
    result = pulumi.runtime.invoke(GET_EFFECTIVE_SETTINGS, _args(organization), invoke_options(opts))
    return GetEffectiveSettingsResult.from_wire(result.value or {})


def get_effective_settings_output(
    organization: pulumi.Input[str],
    opts: pulumi.InvokeOptions | pulumi.InvokeOutputOptions | None = None,
) -> pulumi.Output[GetEffectiveSettingsResult]:
    """``get_effective_settings`` for an organization that may be an output (of another
    resource); the invoke waits for it, and the result is an output."""
    out = pulumi.runtime.invoke_output(GET_EFFECTIVE_SETTINGS, _args(organization), invoke_output_options(opts))
    return out.apply(lambda outputs: GetEffectiveSettingsResult.from_wire(outputs or {}))
