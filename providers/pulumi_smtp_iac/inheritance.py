"""``SmtpInheritance`` (``smtp-iac:index:SmtpInheritance``): the absence of an override at one
scope, which then inherits from the tier above."""

from __future__ import annotations

from typing import Any

import pulumi

from ._base import SnakeCaseNames, attribute, require
from ._names import INHERITANCE
from ._options import resource_options


class SmtpInheritance(SnakeCaseNames, pulumi.CustomResource):
    """The absence of an override at one scope: the scope inherits from the tier above.
    Creating it removes an override that is there; deleting it changes nothing."""

    def __init__(
        self,
        resource_name: str,
        *,
        address: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param resource_name: The resource's name in the stack.
        :param address: The scope: ``controller``, ``partners/P`` or ``partners/P/organizations/O``.
               Changing it replaces the resource.
        :param opts: Options for the resource.
        """
        require({"address": address}, ("address",), opts)
        self._register(resource_name, {"address": address}, opts)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> SmtpInheritance:
        """Reads the existing resource whose id (the scope's address) is ``id``."""
        resource = SmtpInheritance.__new__(SmtpInheritance)
        merged = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id))
        resource._register(resource_name, {"address": None}, merged)
        return resource

    def _register(self, resource_name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions | None) -> None:
        props = {**inputs, "removed_version": None, "override_present": None}  # computed by the provider
        pulumi.CustomResource.__init__(self, INHERITANCE, resource_name, props, resource_options(opts))

    @property
    @pulumi.getter
    def address(self) -> pulumi.Output[str]:
        """The scope: ``controller``, ``partners/P`` or ``partners/P/organizations/O``."""
        return attribute(self, "address")

    @property
    @pulumi.getter(name="removedVersion")
    def removed_version(self) -> pulumi.Output[int | None]:
        """The version of the override it removed, if any."""
        return attribute(self, "removed_version")

    @property
    @pulumi.getter(name="overridePresent")
    def override_present(self) -> pulumi.Output[bool | None]:
        """Whether an override is there now (a refresh reports one that appeared)."""
        return attribute(self, "override_present")
