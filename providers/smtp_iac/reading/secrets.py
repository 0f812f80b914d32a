"""Resolving password references ({env}, {file}) to ``SecretStr``. A {pulumi_config} reference
is Pulumi's to resolve (``pulumi.program`` hands it over as a Pulumi secret); here, for the CLI,
it is always unavailable.

Errors name the reference (``env:SENDGRID_API_KEY``), never a value."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from ..addresses import Address
from ..errors import FileRefused, SecretUnavailable
from ..models import EnvRef, FileRef, PulumiConfigRef, ResolvedSettings, SecretRef, SmtpSettings, has_unsafe_chars
from .filerefs import MAX_SECRET_FILE, FileScope


def resolve_password(
    ref: SecretRef,
    *,
    files: FileScope,
    environ: Mapping[str, str] | None = None,
    address: Address | None = None,
) -> SecretStr:
    """The secret a reference names. SecretUnavailable when it cannot be had (a ``{file:}`` the
    stack may not read: see ``filerefs``), or when it holds CR, LF or NUL (it would break the
    SMTP conversation that sends it), or when it is a ``{pulumi_config:}`` (module docstring)."""
    secret = _lookup(ref, files=files, environ=environ, address=address)
    if has_unsafe_chars(secret.get_secret_value()):
        raise SecretUnavailable(f"password from {ref.describe()} contains CR, LF or NUL", address=address)
    return secret


def _lookup(
    ref: SecretRef,
    *,
    files: FileScope,
    environ: Mapping[str, str] | None,
    address: Address | None,
) -> SecretStr:
    env = os.environ if environ is None else environ
    if isinstance(ref, EnvRef):
        value = env.get(ref.env)
        if value is None or value == "":
            raise SecretUnavailable(
                f"password reference env:{ref.env}: the variable is not set",
                address=address,
                hint=f"export {ref.env}=... before running",
            )
        return SecretStr(value)
    if isinstance(ref, FileRef):
        try:
            raw = files.read(ref.file, what=f"password reference file:{ref.file}", limit=MAX_SECRET_FILE)
        except FileRefused as e:
            raise SecretUnavailable(e.message, address=address) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretUnavailable(f"password reference file:{ref.file}: not UTF-8", address=address) from None
        text = text[:-1] if text.endswith("\n") else text
        text = text[:-1] if text.endswith("\r") else text
        if not text:
            raise SecretUnavailable(f"password reference file:{ref.file}: file is empty", address=address)
        return SecretStr(text)
    if isinstance(ref, PulumiConfigRef):
        raise SecretUnavailable(
            f"password reference pulumi_config:{ref.pulumi_config}: not available",
            address=address,
            hint="pulumi_config references resolve only under Pulumi; use {env: NAME} for smtp-iac plan/apply",
        )
    raise SecretUnavailable(f"unsupported password reference {type(ref).__name__}", address=address)


def resolve_settings(
    settings: SmtpSettings,
    *,
    files: FileScope,
    environ: Mapping[str, str] | None = None,
    address: Address | None = None,
) -> ResolvedSettings:
    password = resolve_password(settings.password, files=files, environ=environ, address=address)
    return ResolvedSettings(
        host=settings.host,
        port=settings.port,
        tls=settings.tls,
        tls_mode=settings.tls_mode,
        username=settings.username,
        password=password,
        sender=settings.sender,
    )
