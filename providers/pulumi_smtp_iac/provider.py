"""``Provider`` (``pulumi:providers:smtp-iac``): an explicit instance of the provider, for
resources and invokes that should not use the stack's default one (``opts.provider``).

As in Pulumi's generated SDKs, every input that is not a string goes to the engine as a JSON
string: ``adopt`` as ``"true"``/``"false"``, ``verify`` as a JSON object with the wire's
camelCase keys (``timeoutSeconds``, ``caFile``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypedDict

import pulumi

from ._base import SnakeCaseNames, attribute
from ._names import PACKAGE, to_camel
from ._options import resource_options

SECRETS: Final = ("store_key", "token")
VERIFY_KEYS: Final = ("mode", "to", "from", "timeoutSeconds", "caFile")
"""The keys of ``smtp-iac:index:VerifyOptions`` on the wire."""

VerifyOptionsArgs = TypedDict(
    "VerifyOptionsArgs",
    {
        "mode": pulumi.Input[str],
        "to": pulumi.Input[str],
        "from": pulumi.Input[str],
        "timeout_seconds": pulumi.Input[int],
        "ca_file": pulumi.Input[str],
    },
    total=False,
)
"""The check run before every write: ``mode`` is ``login`` (default), ``send`` (a test email to
``to``, from ``from`` or the settings' sender) or ``off``; ``timeout_seconds`` 1-120 (default
15); ``ca_file`` a PEM file of extra trusted certificate authorities. The camelCase spellings
(``timeoutSeconds``, ``caFile``) are accepted too, and ``from_``."""


def verify_keys(keys: Iterable[str]) -> list[str]:
    """The wire names of ``keys`` (either spelling). ``TypeError`` for a key ``VerifyOptions``
    does not have."""
    wire = [to_camel(key) for key in keys]
    unknown = sorted(set(wire) - set(VERIFY_KEYS))
    if unknown:
        raise TypeError(f"verify: unknown option(s) {', '.join(unknown)}; the options are {', '.join(VERIFY_KEYS)}")
    return wire


def verify_json(verify: Mapping[str, Any]) -> str:
    """``verify`` (its values resolved) as the JSON string the provider gets: camelCase keys,
    ``None`` values left out."""
    present = {key: value for key, value in verify.items() if value is not None}
    return json.dumps(dict(zip(verify_keys(present), present.values(), strict=True)), sort_keys=True)


def _as_json(value: pulumi.Input[Any] | None, encode: Callable[[Any], str] = json.dumps) -> pulumi.Output[str] | None:
    """``value``, once resolved, as a JSON string (nested outputs included); ``None`` stays out."""
    return None if value is None else pulumi.Output.from_input(value).apply(encode)


class Provider(SnakeCaseNames, pulumi.ProviderResource):
    """Where smtp-iac reads and writes SMTP settings, and how it checks them. Every argument
    left out falls back to the provider's default (the ``SMTP_IAC_*`` environment variables)."""

    def __init__(
        self,
        resource_name: str,
        *,
        store: pulumi.Input[str] | None = None,
        store_key: pulumi.Input[str] | None = None,
        token: pulumi.Input[str] | None = None,
        owner: pulumi.Input[str] | None = None,
        adopt: pulumi.Input[bool] | None = None,
        verify: pulumi.Input[VerifyOptionsArgs] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param resource_name: The provider's name in the stack.
        :param store: The store URL (``sqlite:///path``, ``postgresql://...``, or the settings
               service's ``https://...``); default: SMTP_IAC_STORE, then ``sqlite:///smtp-iac.db``.
        :param store_key: The store's encryption key (default: SMTP_IAC_STORE_KEY); a secret.
        :param token: The settings service's token, for an ``https://`` store (default:
               SMTP_IAC_TOKEN); a secret.
        :param owner: The owner name the records are written under; default ``pulumi/<project>/<stack>``.
        :param adopt: Whether an update may take over a record another owner manages (default: false).
        :param verify: The check run before every write (``VerifyOptionsArgs``).
        :param opts: Options for the resource.
        """
        if isinstance(verify, Mapping):
            verify_keys(verify)  # the keys of a dict are known now, even if its values are outputs
        props: dict[str, Any] = {
            "store": store,
            "store_key": None if store_key is None else pulumi.Output.secret(store_key),
            "token": None if token is None else pulumi.Output.secret(token),
            "owner": owner,
            "adopt": _as_json(adopt),
            "verify": _as_json(verify, verify_json),
        }
        pulumi.ProviderResource.__init__(self, PACKAGE, resource_name, props, resource_options(opts, secrets=SECRETS))

    @property
    @pulumi.getter
    def store(self) -> pulumi.Output[str | None]:
        """The store URL."""
        return attribute(self, "store")

    @property
    @pulumi.getter(name="storeKey")
    def store_key(self) -> pulumi.Output[str | None]:
        """The store's encryption key (a secret)."""
        return attribute(self, "store_key")

    @property
    @pulumi.getter
    def token(self) -> pulumi.Output[str | None]:
        """The settings service's token (a secret)."""
        return attribute(self, "token")

    @property
    @pulumi.getter
    def owner(self) -> pulumi.Output[str | None]:
        """The owner name the records are written under."""
        return attribute(self, "owner")
