"""The two dynamic resources.

``pulumi.dynamic.Resource.__init_subclass__(module=..., name=...)`` (SDK >= 3.x, checked in
the installed 3.272: it sets ``_resource_type_name = f"dynamic/{module}:{name}"`` and
``Resource.__init__`` registers ``f"pulumi-python:{_resource_type_name}"``) gives the types

- ``pulumi-python:dynamic/smtp-iac:SmtpSettings``     an override at a scope,
- ``pulumi-python:dynamic/smtp-iac:SmtpInheritance``  the absence of one,

so that policy packs can tell them apart while the package stays ``pulumi-python`` (the
engine routes ``pulumi-python`` resources to the Python dynamic provider host).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic

from ..models import SETTINGS_FIELDS
from .properties import RECORD_KEYS
from .provider import SmtpInheritanceProvider, SmtpSettingsProvider

SETTINGS_TYPE = "pulumi-python:dynamic/smtp-iac:SmtpSettings"
INHERITANCE_TYPE = "pulumi-python:dynamic/smtp-iac:SmtpInheritance"


class SmtpSettings(pulumi.dynamic.Resource, module="smtp-iac", name="SmtpSettings"):
    """An SMTP override at ``address``, managed by ``stack``. ``password`` must be a secret
    Output (``Config.require_secret`` or ``Output.secret``); it is echoed in the outputs under
    the same key only, so the engine keeps it secret, and is also an additional secret output."""

    address: pulumi.Output[str]
    stack: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    tls: pulumi.Output[bool]
    username: pulumi.Output[str]
    password_fingerprint: pulumi.Output[str]
    version: pulumi.Output[int]
    managed_by: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        address: str,
        stack: str,
        settings: Mapping[str, Any],
        password: pulumi.Input[str],
        verify: Mapping[str, Any] | None = None,
        stack_file: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"address": address, "stack": stack, "stack_file": stack_file}
        for key in SETTINGS_FIELDS:
            props[key] = settings.get(key)
        props["password"] = password
        props["verify"] = dict(verify) if verify else None
        props.update({k: None for k in RECORD_KEYS})  # computed: declared so they become attributes
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"]))
        super().__init__(SmtpSettingsProvider(), resource_name, props, opts)


class SmtpInheritance(pulumi.dynamic.Resource, module="smtp-iac", name="SmtpInheritance"):
    """No override at ``address``: creating it removes one; a refresh reports one that appeared
    (``override_present`` and the live fields); deleting it leaves the scope alone."""

    address: pulumi.Output[str]
    stack: pulumi.Output[str]
    override_present: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        address: str,
        stack: str,
        stack_file: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"address": address, "stack": stack, "stack_file": stack_file, "override_present": None}
        props.update({k: None for k in RECORD_KEYS})  # computed: declared so they become attributes
        super().__init__(SmtpInheritanceProvider(), resource_name, props, opts)
