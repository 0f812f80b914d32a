"""Names of the ``smtp-iac`` Pulumi package: the package, its tokens, the plugin version the SDK
asks for, and the translation between the wire's camelCase property names (``tlsMode``) and the
SDK's snake_case attribute names (``tls_mode``).

The translation is a rule, not a table, so a property the schema adds translates without a
change here; ``tests/pulumi/test_sdk.py`` checks the rule against every name in
``schemas/pulumi-schema.json``.
"""

from __future__ import annotations

import re
from typing import Final

from smtp_iac import __version__

PACKAGE: Final = "smtp-iac"
VERSION: Final = __version__
"""The provider plugin version this SDK is released with (the engine loads exactly this one)."""

SETTINGS: Final = "smtp-iac:index:SmtpSettings"
INHERITANCE: Final = "smtp-iac:index:SmtpInheritance"
GET_EFFECTIVE_SETTINGS: Final = "smtp-iac:index:getEffectiveSettings"
PROVIDER: Final = f"pulumi:providers:{PACKAGE}"

_UPPER = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]*)*")


def to_snake(wire_name: str) -> str:
    """``tlsMode`` -> ``tls_mode``; names without capitals (``host``, ``id``) stay as they are."""
    return _UPPER.sub("_", wire_name).lower()


def to_camel(python_name: str) -> str:
    """``tls_mode`` -> ``tlsMode``; ``from_`` (a Python keyword's spelling) -> ``from``. Names
    that are not snake_case (``tlsMode`` itself, the engine's ``__provider``) stay as they are."""
    if not _SNAKE.fullmatch(python_name):
        return python_name
    head, *rest = python_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
