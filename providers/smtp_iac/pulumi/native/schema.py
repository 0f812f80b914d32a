"""The Pulumi package schema of ``smtp-iac``: what ``GetSchema`` serves, what SDKs are
generated from, and what ``schemas/pulumi-schema.json`` holds (kept equal by a test;
``python -m smtp_iac.pulumi.native.schema`` writes it).

Names on the wire are camelCase, as in every Pulumi package; ``FIELD_NAMES`` maps them to the
snake_case names of the domain. Numbers the engine sends are doubles: ``port``, ``version``,
``removedVersion`` and ``timeoutSeconds`` are ``integer`` here, and ``values`` turns whole
doubles back into ints.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from ... import __version__

PACKAGE: Final = "smtp-iac"
SETTINGS: Final = "smtp-iac:index:SmtpSettings"
INHERITANCE: Final = "smtp-iac:index:SmtpInheritance"
GET_EFFECTIVE: Final = "smtp-iac:index:getEffectiveSettings"
VERIFY_TYPE: Final = "smtp-iac:index:VerifyOptions"
PROVIDER_TYPE: Final = "pulumi:providers:smtp-iac"

FIELD_NAMES: Final = {
    "tlsMode": "tls_mode",
    "passwordFingerprint": "password_fingerprint",
    "managedBy": "managed_by",
    "updatedAt": "updated_at",
    "updatedBy": "updated_by",
    "removedVersion": "removed_version",
    "overridePresent": "override_present",
    "storeKey": "store_key",
    "timeoutSeconds": "timeout_seconds",
    "caFile": "ca_file",
}
"""Wire name -> domain name, where they differ."""

SECRET_INPUTS: Final = ("password",)
SECRET_CONFIG: Final = ("storeKey", "token")


def _p(type_: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "description": description, **extra}


ADDRESS = _p(
    "string",
    "The scope: `controller`, `partners/P` or `partners/P/organizations/O`. Changing it replaces the resource.",
    willReplaceOnChanges=True,
)
SETTINGS_INPUTS: Final = {
    "address": ADDRESS,
    "host": _p("string", "The SMTP server's host name or IP address."),
    "port": _p("integer", "The SMTP port (587, 465, 25 or 2525, or any in 1-65535)."),
    "tls": _p("boolean", "Whether the connection is encrypted."),
    "tlsMode": _p(
        "string",
        "`starttls` or `implicit`; absent: implicit on port 465, STARTTLS elsewhere.",
    ),
    "username": _p("string", "The SMTP login."),
    "password": _p("string", "The SMTP password or API key.", secret=True),
    "sender": _p("string", "The From address mail of this scope is sent with; absent: the platform's."),
}
RECORD_OUTPUTS: Final = {
    "version": _p("integer", "The record's version (compare-and-swap: a write names the version it replaces)."),
    "passwordFingerprint": _p("string", "A keyed fingerprint of the stored password; never the password."),
    "managedBy": _p("string", "The owner of the record (this stack's owner name, unless someone took it over)."),
    "updatedAt": _p("string", "When the record was last written (ISO 8601)."),
    "updatedBy": _p("string", "Who last wrote the record."),
}
VERIFY_OPTIONS: Final = {
    "type": "object",
    "description": "The check run before every write: an SMTP login (default) or a test email.",
    "properties": {
        "mode": _p("string", "`login` (default), `send` (a test email to `to`) or `off`."),
        "to": _p("string", "Where the test email goes (mode `send`)."),
        "from": _p("string", "The test email's sender; absent: the settings' sender."),
        "timeoutSeconds": _p("integer", "Seconds before the check gives up (1-120; default 15)."),
        "caFile": _p("string", "PEM file of extra trusted certificate authorities."),
    },
}
CONFIG_VARIABLES: Final = {
    "store": _p(
        "string",
        "The store URL (`sqlite:///path`, `postgresql://...`, or the settings service's `https://...`); "
        "default: SMTP_IAC_STORE, then `sqlite:///smtp-iac.db`.",
    ),
    "storeKey": _p("string", "The store's encryption key (default: SMTP_IAC_STORE_KEY).", secret=True),
    "token": _p(
        "string", "The settings service's token, for an `https://` store (default: SMTP_IAC_TOKEN).", secret=True
    ),
    "owner": _p("string", "The owner name the records are written under; default `pulumi/<project>/<stack>`."),
    "adopt": _p("boolean", "Whether an update may take over a record another owner manages (default: false)."),
    "verify": {"$ref": f"#/types/{VERIFY_TYPE}", "description": "The check run before every write."},
}


def _resource(description: str, inputs: dict[str, Any], required: list[str], outputs: dict[str, Any]) -> dict[str, Any]:
    properties = {**inputs, **outputs}
    return {
        "description": description,
        "inputProperties": inputs,
        "requiredInputs": required,
        "properties": properties,
        "required": [name for name in properties if name in required or name in ("version", "passwordFingerprint")],
    }


def package_schema() -> dict[str, Any]:
    """The schema, as data."""
    settings = _resource(
        "An SMTP override at one scope, verified (an SMTP login or a test email) before every write. "
        "Import with the scope's address: `pulumi import smtp-iac:index:SmtpSettings NAME partners/acme`.",
        SETTINGS_INPUTS,
        ["address", "host", "port", "tls", "username", "password"],
        RECORD_OUTPUTS,
    )
    inheritance = _resource(
        "The absence of an override at one scope: the scope inherits from the tier above. Creating it "
        "removes an override that is there; deleting it changes nothing.",
        {"address": ADDRESS},
        ["address"],
        {
            "removedVersion": _p("integer", "The version of the override it removed, if any."),
            "overridePresent": _p("boolean", "Whether an override is there now (a refresh reports one that appeared)."),
        },
    )
    inheritance["required"] = ["address"]
    effective_out = {
        "organization": _p("string", "The organization's address."),
        "source": _p("string", "The address whose record applies; absent: no SMTP settings apply."),
        "tier": _p("string", "`organization`, `partner`, `controller` or `none`."),
        **{k: SETTINGS_INPUTS[k] for k in ("host", "port", "tls", "tlsMode", "username", "sender")},
        "chain": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The addresses looked at, in order, ending with the one used.",
        },
    }
    return {
        "name": PACKAGE,
        "displayName": "smtp-iac",
        "version": __version__,
        "description": "Tiered SMTP settings (controller, partner, organization), verified before every write.",
        "keywords": ["smtp", "email", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "smtp-iac",
        "config": {"variables": CONFIG_VARIABLES},
        "types": {VERIFY_TYPE: VERIFY_OPTIONS},
        "provider": {
            "description": "Where smtp-iac reads and writes SMTP settings, and how it checks them.",
            "inputProperties": CONFIG_VARIABLES,
        },
        "resources": {SETTINGS: settings, INHERITANCE: inheritance},
        "functions": {
            GET_EFFECTIVE: {
                "description": "The SMTP settings in force for an organization and the tier they come from "
                "(never a password).",
                "inputs": {
                    "type": "object",
                    "properties": {
                        "organization": _p(
                            "string",
                            "`partners/P/organizations/O`, `P/O` or an organization id unique across partners.",
                        )
                    },
                    "required": ["organization"],
                },
                "outputs": {
                    "type": "object",
                    "properties": effective_out,
                    "required": ["organization", "tier", "chain"],
                },
            }
        },
        "language": {
            "python": {"packageName": "pulumi_smtp_iac"},
            "nodejs": {"packageName": "@smtp-iac/pulumi"},
        },
    }


def schema_json() -> str:
    """The schema as ``schemas/pulumi-schema.json`` holds it."""
    return json.dumps(package_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_json())
