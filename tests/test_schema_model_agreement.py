"""One source of truth: ``schemas/stack.schema.json`` (via ``smtp_iac.reading.schema.validate``)
and the pydantic models accept and refuse the same documents.

Only the schema's verdict is compared here, not the cross-field rules of ``rules`` (those
are not part of either). Every case states whether it is valid, so a case where both sides
are wrong in the same way still fails.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smtp_iac.models import SmtpSettings, Stack
from smtp_iac.reading import schema

BASE = {
    "host": "smtp.example.com",
    "port": 587,
    "tls": True,
    "username": "mailer",
    "password": {"env": "SMTP_PASSWORD"},
}


def s(**changes):
    """BASE with changes; a value of ``...`` removes the key."""
    out = dict(BASE)
    for k, v in changes.items():
        if v is ...:
            out.pop(k, None)
        else:
            out[k] = v
    return out


SETTINGS = [
    # (id, settings, valid)
    ("base", s(), True),
    ("tls_mode-starttls", s(tls_mode="starttls"), True),
    ("tls_mode-implicit", s(port=465, tls_mode="implicit"), True),
    ("tls-false", s(tls=False), True),  # schema-valid; the rules warn
    ("sender", s(sender="no-reply@example.com"), True),
    ("host-ipv4", s(host="192.0.2.10"), True),
    ("host-ipv6", s(host="2001:db8::25"), True),
    ("host-ipv6-zone", s(host="fe80::1%eth0"), True),
    ("host-idna", s(host="smtp.bücher.example"), True),
    ("host-253", s(host=("a" * 63 + ".") * 3 + "a" * 61), True),
    ("port-1", s(port=1), True),
    ("port-65535", s(port=65535), True),
    ("username-512", s(username="u" * 512), True),
    ("username-unicode", s(username="müller@example.com"), True),
    ("password-file", s(password={"file": "secrets/smtp.txt"}), True),
    ("password-pulumi-config", s(password={"pulumi_config": "smtp-iac:acmePassword"}), True),
    ("password-env-underscore", s(password={"env": "_SMTP_2"}), True),
    *[(f"missing-{k}", s(**{k: ...}), False) for k in ("host", "port", "tls", "username", "password")],
    ("unknown-key-hots", {**s(), "hots": "x"}, False),
    ("port-0", s(port=0), False),
    ("port-70000", s(port=70000), False),
    ("port-string", s(port="587"), False),
    ("port-fraction", s(port=587.5), False),
    ("port-whole-float", s(port=587.0), False),
    ("port-bool", s(port=True), False),
    ("port-null", s(port=None), False),
    ("tls-string", s(tls="yes"), False),
    ("tls-int", s(tls=1), False),
    ("tls_mode-upper", s(tls_mode="STARTTLS"), False),
    ("tls_mode-none", s(tls_mode="none"), False),
    ("tls_mode-null", s(tls_mode=None), False),
    ("username-empty", s(username=""), False),
    ("username-513", s(username="u" * 513), False),
    ("username-lf", s(username="a\nb"), False),
    ("username-cr", s(username="a\rb"), False),
    ("username-nul", s(username="a\x00b"), False),
    ("username-trailing-lf", s(username="mailer\n"), False),  # Python's $ would let this pass
    ("username-trailing-crlf", s(username="mailer\r\n"), False),
    ("username-int", s(username=42), False),
    ("host-empty", s(host=""), False),
    ("host-trailing-lf", s(host="smtp.example.com\n"), False),
    ("host-scheme", s(host="smtp://smtp.example.com"), False),
    ("host-port", s(host="smtp.example.com:587"), False),
    ("host-path", s(host="smtp.example.com/x"), False),
    ("host-space", s(host="smtp example.com"), False),
    ("host-brackets", s(host="[::1]"), False),
    ("host-254", s(host="a" * 254), False),
    ("host-file-separator", s(host="smtp\x1cexample.com"), False),
    ("password-plain", s(password="hunter2"), False),
    ("password-empty-map", s(password={}), False),
    ("password-two-refs", s(password={"env": "A", "file": "b"}), False),
    ("password-unknown-ref", s(password={"vault": "x"}), False),
    ("password-env-lf", s(password={"env": "A\n"}), False),
    ("password-env-digit", s(password={"env": "1A"}), False),
    ("password-env-null", s(password={"env": None}), False),
    ("password-file-empty", s(password={"file": ""}), False),
    ("password-file-lf", s(password={"file": "p\n"}), False),
    ("password-file-nul", s(password={"file": "p\x00"}), False),
    ("password-config-lf", s(password={"pulumi_config": "key\n"}), False),
    ("password-config-space", s(password={"pulumi_config": "a b"}), False),
    ("password-list", s(password=["a"]), False),
    ("sender-no-at", s(sender="no-reply"), False),
    ("sender-trailing-lf", s(sender="a@example.com\n"), False),
    ("sender-crlf-header", s(sender="a@example.com\r\nBcc: x@evil.example"), False),
    ("sender-file-separator", s(sender="a\x1cb@example.com"), False),
    ("sender-nbsp", s(sender="a\u00a0b@example.com"), False),
    ("sender-null", s(sender=None), False),
    ("settings-null", None, False),
    ("settings-list", [s()], False),
    ("settings-inherit-word", "inherit", False),  # a scope may say inherit; a settings mapping may not
]

VERIFY = {
    "mode": "send",
    "to": "ops@example.com",
    "from": "no-reply@example.com",
    "timeout_seconds": 15,
    "ca_file": "certs/ca.pem",
}


def doc(**top):
    out = {"version": 1}
    for k, v in top.items():
        if v is ...:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def v(**changes):
    out = dict(VERIFY)
    for k, val in changes.items():
        if val is ...:
            out.pop(k, None)
        else:
            out[k] = val
    return out


STACKS = [
    ("minimal", doc(), True),
    ("name", doc(name="prod"), True),
    ("name-63", doc(name="a" * 63), True),
    ("store", doc(store="sqlite:///.smtp-iac/store.db"), True),
    ("verify-full", doc(verify=v()), True),
    ("verify-login", doc(verify={"mode": "login"}), True),
    ("verify-off", doc(verify={"mode": "off"}), True),
    ("verify-timeout-1", doc(verify={"timeout_seconds": 1}), True),
    ("verify-timeout-120", doc(verify={"timeout_seconds": 120}), True),
    ("controller-inherit", doc(controller={"smtp": "inherit"}), True),
    ("controller-settings", doc(controller={"smtp": s()}), True),
    ("controller-empty", doc(controller={}), True),
    (
        "partners-all-tiers",
        doc(
            partners={
                "acme": {
                    "smtp": s(),
                    "organizations": {
                        "acme-eu": {"smtp": s(port=465, tls_mode="implicit")},
                        "acme-us": {"smtp": "inherit"},
                        "x1": {},
                    },
                }
            }
        ),
        True,
    ),
    ("partner-empty", doc(partners={"acme": {}}), True),
    ("partner-id-63", doc(partners={"p" * 63: {}}), True),
    ("version-2", doc(version=2), False),
    ("version-string", doc(version="1"), False),
    ("version-bool", doc(version=True), False),
    ("version-missing", doc(version=...), False),
    ("unknown-top-key", doc(partner={}), False),
    ("name-upper", doc(name="Prod"), False),
    ("name-underscore", doc(name="my_stack"), False),
    ("name-lf", doc(name="prod\n"), False),
    ("name-null", doc(name=None), False),
    ("name-64", doc(name="a" * 64), False),
    ("store-empty", doc(store=""), False),
    ("store-lf", doc(store="sqlite:///x.db\n"), False),
    ("store-null", doc(store=None), False),
    ("verify-null", doc(verify=None), False),
    ("verify-mode-bogus", doc(verify={"mode": "bogus"}), False),
    ("verify-send-without-to", doc(verify=v(to=...)), False),
    ("verify-unknown-key", doc(verify={"mode": "login", "timeout": 5}), False),
    ("verify-timeout-0", doc(verify={"timeout_seconds": 0}), False),
    ("verify-timeout-121", doc(verify={"timeout_seconds": 121}), False),
    ("verify-timeout-string", doc(verify={"timeout_seconds": "15"}), False),
    ("verify-timeout-float", doc(verify={"timeout_seconds": 15.0}), False),
    ("verify-to-null", doc(verify={"mode": "login", "to": None}), False),
    ("verify-to-lf", doc(verify=v(to="ops@example.com\n")), False),
    ("verify-from-bad", doc(verify=v(**{"from": "nobody"})), False),
    ("verify-from-cr", doc(verify=v(**{"from": "a@example.com\r"})), False),
    ("verify-ca-empty", doc(verify=v(ca_file="")), False),
    ("verify-ca-lf", doc(verify=v(ca_file="ca.pem\n")), False),
    ("verify-ca-null", doc(verify=v(ca_file=None)), False),
    ("controller-null", doc(controller=None), False),
    ("controller-smtp-null", doc(controller={"smtp": None}), False),
    ("controller-inherit-capital", doc(controller={"smtp": "Inherit"}), False),
    ("controller-inherit-lf", doc(controller={"smtp": "inherit\n"}), False),
    ("controller-unknown-key", doc(controller={"smtp": "inherit", "name": "x"}), False),
    ("controller-bad-settings", doc(controller={"smtp": s(port=0)}), False),
    ("partners-null", doc(partners=None), False),
    ("partners-list", doc(partners=["acme"]), False),
    ("partner-id-upper", doc(partners={"Acme": {}}), False),
    ("partner-id-underscore", doc(partners={"a_b": {}}), False),
    ("partner-id-leading-dash", doc(partners={"-acme": {}}), False),
    ("partner-id-trailing-lf", doc(partners={"acme\n": {}}), False),
    ("partner-id-64", doc(partners={"p" * 64: {}}), False),
    ("partner-null", doc(partners={"acme": None}), False),
    ("partner-unknown-key", doc(partners={"acme": {"orgs": {}}}), False),
    ("partner-smtp-null", doc(partners={"acme": {"smtp": None}}), False),
    ("organizations-null", doc(partners={"acme": {"organizations": None}}), False),
    ("org-id-upper", doc(partners={"acme": {"organizations": {"Org": {}}}}), False),
    ("org-id-cr", doc(partners={"acme": {"organizations": {"o\r": {}}}}), False),
    ("org-null", doc(partners={"acme": {"organizations": {"o": None}}}), False),
    ("org-smtp-plain-password", doc(partners={"acme": {"organizations": {"o": {"smtp": s(password="pw")}}}}), False),
    ("top-list", [{"version": 1}], False),
    ("top-null", None, False),
    ("top-string", "version: 1", False),
]


def _model_ok(model, data) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


def test_enough_cases_cover_every_field():
    assert len(SETTINGS) + len(STACKS) >= 40
    text = repr(SETTINGS) + repr(STACKS)
    for key in (
        *SmtpSettings.model_fields,
        "env",
        "file",
        "pulumi_config",
        "timeout_seconds",
        "ca_file",
        "'to'",
        "'from'",
        "'mode'",
        "store",
        "name",
        "version",
        "controller",
        "organizations",
    ):
        assert key in text, key


@pytest.mark.parametrize("data,valid", [c[1:] for c in SETTINGS], ids=[c[0] for c in SETTINGS])
def test_settings_schema_and_model_agree(data, valid):
    schema_ok = not schema.validate(data, "settings")
    model_ok = _model_ok(SmtpSettings, data)
    assert (schema_ok, model_ok) == (valid, valid)


@pytest.mark.parametrize("data,valid", [c[1:] for c in STACKS], ids=[c[0] for c in STACKS])
def test_stack_schema_and_model_agree(data, valid):
    schema_ok = not schema.validate(data)
    model_ok = _model_ok(Stack, data)
    assert (schema_ok, model_ok) == (valid, valid)


@pytest.mark.parametrize("data,valid", [c[1:] for c in SETTINGS], ids=[c[0] for c in SETTINGS])
def test_settings_agree_inside_a_whole_stack(data, valid):
    """The same settings at every tier: the ``smtp`` oneOf (settings | inherit) must not change the verdict."""
    if data == "inherit":
        valid = True  # the word is fine where a scope's smtp: is expected
    stack = doc(controller={"smtp": data}, partners={"acme": {"smtp": data, "organizations": {"o": {"smtp": data}}}})
    assert (not schema.validate(stack), _model_ok(Stack, stack)) == (valid, valid)


def _schema_patterns(node, path=""):
    if isinstance(node, dict):
        for k, val in node.items():
            if k == "x-message":
                continue
            if k == "pattern" and isinstance(val, str):
                yield path, val
            else:
                yield from _schema_patterns(val, f"{path}/{k}")


def test_schema_patterns_are_the_models_patterns():
    """The model's regexes are the schema's, character for character (no ``\\s``, whose meaning
    differs between Python, Rust and ECMA 262), and every one compiles under ECMA-safe rules."""
    from smtp_iac import models
    from smtp_iac.addresses import ID_PATTERN

    known = {
        models.HOST_PATTERN,
        models.EMAIL_PATTERN,
        models.SAFE_TEXT,
        models.ENV_NAME_PATTERN,
        models.CONFIG_KEY_PATTERN,
        ID_PATTERN,
    }
    found = dict(_schema_patterns(schema.stack_schema()))
    assert found, "no patterns found in the schema"
    for where, pattern in found.items():
        assert pattern in known, f"{where}: {pattern!r} is not one of the model's patterns"
        assert "\\s" not in pattern and "\\S" not in pattern, where
        assert '\\"' not in pattern, f"{where}: identity escape, a syntax error in ECMA's unicode mode"
