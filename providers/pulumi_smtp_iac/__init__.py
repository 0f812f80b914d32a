"""The Python SDK of ``smtp-iac``'s native Pulumi provider (``pulumi-resource-smtp-iac``),
written by hand after the package schema (``schemas/pulumi-schema.json``), in the shape of
Pulumi's generated SDKs.

``settings`` (``SmtpSettings``), ``inheritance`` (``SmtpInheritance``), ``provider``
(``Provider``, ``VerifyOptionsArgs``), ``effective`` (``get_effective_settings`` and
``get_effective_settings_output``); ``_names`` (tokens, version, camelCase <-> snake_case),
``_options`` (the version every resource and invoke asks for), ``_base`` (what the resources
share). Attributes and arguments are snake_case; the engine sees the schema's camelCase names.
"""

from ._names import VERSION as __version__
from .effective import GetEffectiveSettingsResult, get_effective_settings, get_effective_settings_output
from .inheritance import SmtpInheritance
from .provider import Provider, VerifyOptionsArgs
from .settings import SmtpSettings

__all__ = [
    "GetEffectiveSettingsResult",
    "Provider",
    "SmtpInheritance",
    "SmtpSettings",
    "VerifyOptionsArgs",
    "__version__",
    "get_effective_settings",
    "get_effective_settings_output",
]
