"""``SmtpSettings`` (``smtp-iac:index:SmtpSettings``): an SMTP override at one scope, verified
(an SMTP login or a test email) before every write."""

from __future__ import annotations

from typing import Any, Final

import pulumi

from ._base import SnakeCaseNames, attribute, require
from ._names import SETTINGS
from ._options import resource_options

REQUIRED: Final = ("address", "host", "port", "tls", "username", "password")
OPTIONAL: Final = ("tls_mode", "sender")
COMPUTED: Final = ("version", "password_fingerprint", "managed_by", "updated_at", "updated_by")
SECRETS: Final = ("password",)


class SmtpSettings(SnakeCaseNames, pulumi.CustomResource):
    """An SMTP override at one scope, verified before every write. Import with the scope's
    address: ``pulumi import smtp-iac:index:SmtpSettings NAME partners/acme``."""

    def __init__(
        self,
        resource_name: str,
        *,
        address: pulumi.Input[str],
        host: pulumi.Input[str],
        port: pulumi.Input[int],
        tls: pulumi.Input[bool],
        username: pulumi.Input[str],
        password: pulumi.Input[str],
        tls_mode: pulumi.Input[str] | None = None,
        sender: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param resource_name: The resource's name in the stack.
        :param address: The scope: ``controller``, ``partners/P`` or ``partners/P/organizations/O``.
               Changing it replaces the resource.
        :param host: The SMTP server's host name or IP address.
        :param port: The SMTP port (587, 465, 25 or 2525, or any in 1-65535).
        :param tls: Whether the connection is encrypted.
        :param username: The SMTP login.
        :param password: The SMTP password or API key (sent as a secret).
        :param tls_mode: ``starttls`` or ``implicit``; absent: implicit on port 465, STARTTLS elsewhere.
        :param sender: The From address mail of this scope is sent with; absent: the platform's.
        :param opts: Options for the resource.
        """
        inputs: dict[str, Any] = {
            "address": address,
            "host": host,
            "port": port,
            "tls": tls,
            "username": username,
            "password": password,
            "tls_mode": tls_mode,
            "sender": sender,
        }
        require(inputs, REQUIRED, opts)
        if password is not None:
            inputs["password"] = pulumi.Output.secret(password)
        self._register(resource_name, inputs, opts)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> SmtpSettings:
        """Reads the existing record whose id (the scope's address) is ``id`` into a resource
        named ``resource_name``, without managing it."""
        resource = SmtpSettings.__new__(SmtpSettings)
        state = dict.fromkeys(REQUIRED + OPTIONAL)
        resource._register(resource_name, state, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))
        return resource

    def _register(self, resource_name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions | None) -> None:
        props = {**inputs, **dict.fromkeys(COMPUTED)}  # None: computed by the provider, set as attributes
        pulumi.CustomResource.__init__(self, SETTINGS, resource_name, props, resource_options(opts, secrets=SECRETS))

    @property
    @pulumi.getter
    def address(self) -> pulumi.Output[str]:
        """The scope: ``controller``, ``partners/P`` or ``partners/P/organizations/O``."""
        return attribute(self, "address")

    @property
    @pulumi.getter
    def host(self) -> pulumi.Output[str]:
        """The SMTP server's host name or IP address."""
        return attribute(self, "host")

    @property
    @pulumi.getter
    def port(self) -> pulumi.Output[int]:
        """The SMTP port."""
        return attribute(self, "port")

    @property
    @pulumi.getter
    def tls(self) -> pulumi.Output[bool]:
        """Whether the connection is encrypted."""
        return attribute(self, "tls")

    @property
    @pulumi.getter(name="tlsMode")
    def tls_mode(self) -> pulumi.Output[str | None]:
        """``starttls`` or ``implicit``; absent: implicit on port 465, STARTTLS elsewhere."""
        return attribute(self, "tls_mode")

    @property
    @pulumi.getter
    def username(self) -> pulumi.Output[str]:
        """The SMTP login."""
        return attribute(self, "username")

    @property
    @pulumi.getter
    def password(self) -> pulumi.Output[str]:
        """The SMTP password or API key (a secret)."""
        return attribute(self, "password")

    @property
    @pulumi.getter
    def sender(self) -> pulumi.Output[str | None]:
        """The From address mail of this scope is sent with; absent: the platform's."""
        return attribute(self, "sender")

    @property
    @pulumi.getter
    def version(self) -> pulumi.Output[int]:
        """The record's version (compare-and-swap: a write names the version it replaces)."""
        return attribute(self, "version")

    @property
    @pulumi.getter(name="passwordFingerprint")
    def password_fingerprint(self) -> pulumi.Output[str]:
        """A keyed fingerprint of the stored password; never the password."""
        return attribute(self, "password_fingerprint")

    @property
    @pulumi.getter(name="managedBy")
    def managed_by(self) -> pulumi.Output[str | None]:
        """The owner of the record (this stack's owner name, unless someone took it over)."""
        return attribute(self, "managed_by")

    @property
    @pulumi.getter(name="updatedAt")
    def updated_at(self) -> pulumi.Output[str | None]:
        """When the record was last written (ISO 8601)."""
        return attribute(self, "updated_at")

    @property
    @pulumi.getter(name="updatedBy")
    def updated_by(self) -> pulumi.Output[str | None]:
        """Who last wrote the record."""
        return attribute(self, "updated_by")
