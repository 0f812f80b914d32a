"""The options every resource and invoke of this SDK is sent with: the plugin version (so the
engine loads the ``pulumi-resource-smtp-iac`` this SDK was released with, as generated SDKs
do) and, for resources, the names of the properties the engine must keep secret."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from ._names import VERSION


def resource_options(opts: pulumi.ResourceOptions | None, *, secrets: Sequence[str] = ()) -> pulumi.ResourceOptions:
    """``opts`` over the SDK's defaults (the version), plus ``secrets`` (snake_case names) as
    additional secret outputs. Raises ``TypeError`` for anything but ``ResourceOptions``."""
    if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
        raise TypeError("Expected resource options to be a ResourceOptions instance")
    merged = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(version=VERSION), opts)
    if secrets:
        merged = pulumi.ResourceOptions.merge(merged, pulumi.ResourceOptions(additional_secret_outputs=list(secrets)))
    return merged


def invoke_options(opts: pulumi.InvokeOptions | None) -> pulumi.InvokeOptions:
    """``opts`` over the SDK's defaults (the version)."""
    return pulumi.InvokeOptions.merge(pulumi.InvokeOptions(version=VERSION), opts)


def invoke_output_options(
    opts: pulumi.InvokeOptions | pulumi.InvokeOutputOptions | None,
) -> pulumi.InvokeOutputOptions:
    """``opts`` over the SDK's defaults (the version), for ``invoke_output``."""
    return pulumi.InvokeOutputOptions.merge(pulumi.InvokeOutputOptions(version=VERSION), opts)
