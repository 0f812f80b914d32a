"""``relays:`` and ``smtp: {relay: NAME, ...}`` (SPEC, "Stack file"): the schema and the model
agree on them; ``Stack.scopes`` returns the merged, complete settings; every problem is
located (an unknown relay at the reference, a rule broken by an override at the override, a
relay's own problem once, at the relay); the invisible-character and ``{file:}`` checks reach
relays too; ``validate`` through the real CLI."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.cli.app import run
from smtp_iac.models import EnvRef, FileRef, SmtpSettings, Stack
from smtp_iac.reading import schema
from smtp_iac.reading.validation import check_document

BASE = {
    "host": "smtp.example.com",
    "port": 587,
    "tls": True,
    "username": "mailer",
    "password": {"env": "SMTP_PASSWORD"},
}


def doc(relays=None, **scopes) -> dict:
    """A stack with ``relays`` and the controller's and partner acme's ``smtp:``."""
    out: dict = {"version": 1}
    if relays is not None:
        out["relays"] = relays
    if "controller" in scopes:
        out["controller"] = {"smtp": scopes["controller"]}
    if "acme" in scopes:
        out["partners"] = {"acme": {"smtp": scopes["acme"]}}
    return out


AGREEMENT = [
    # (id, document, valid by schema and model)
    ("relay-and-reference", doc({"main": BASE}, controller={"relay": "main"}), True),
    (
        "reference-with-overrides",
        doc({"main": BASE}, acme={"relay": "main", "port": 2525, "sender": "a@b.example"}),
        True,
    ),
    (
        "override-every-field",
        doc({"m": BASE}, acme={"relay": "m", **BASE, "tls_mode": "starttls", "sender": "a@b.c"}),
        True,
    ),
    ("override-password-file", doc({"m": BASE}, acme={"relay": "m", "password": {"file": "pw.txt"}}), True),
    ("relays-empty", doc({}), True),
    ("unknown-relay-is-a-rule", doc({}, controller={"relay": "nope"}), True),  # the rules refuse it, located
    ("relay-name-bad-id", doc({"Main_1": BASE}), False),
    ("relay-name-lf", doc({"main\n": BASE}), False),
    ("relay-incomplete", doc({"main": {k: v for k, v in BASE.items() if k != "port"}}), False),
    ("relay-unknown-key", doc({"main": {**BASE, "hots": "x"}}), False),
    ("relay-null", doc({"main": None}), False),
    ("relays-list", doc([BASE]), False),
    ("relays-null", {"version": 1, "relays": None}, False),
    ("relay-inherit", doc({"main": "inherit"}), False),
    ("reference-unknown-key", doc({"m": BASE}, acme={"relay": "m", "hots": "x"}), False),
    ("reference-bad-name", doc({"m": BASE}, acme={"relay": "M"}), False),
    ("reference-name-int", doc({"m": BASE}, acme={"relay": 1}), False),
    ("reference-null", doc({"m": BASE}, acme={"relay": None}), False),
    ("override-null", doc({"m": BASE}, acme={"relay": "m", "sender": None}), False),
    ("override-bad-port", doc({"m": BASE}, acme={"relay": "m", "port": "587"}), False),
    ("override-plain-password", doc({"m": BASE}, acme={"relay": "m", "password": "pw"}), False),
    ("override-two-refs", doc({"m": BASE}, acme={"relay": "m", "password": {"env": "A", "file": "b"}}), False),
    ("override-host-lf", doc({"m": BASE}, acme={"relay": "m", "host": "a.example\n"}), False),
]


def _model_ok(data) -> bool:
    try:
        Stack.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("data,valid", [c[1:] for c in AGREEMENT], ids=[c[0] for c in AGREEMENT])
def test_schema_and_model_agree_on_relays(data, valid):
    assert (not schema.validate(data), _model_ok(data)) == (valid, valid)


@pytest.mark.parametrize("data,valid", [c[1:] for c in AGREEMENT], ids=[c[0] for c in AGREEMENT])
def test_validation_agrees_with_the_model(data, valid):
    """The part-wise check (``validation``) and the whole model: the same verdict (but for
    the unknown relay, which only the rules refuse)."""
    checked = check_document(data)
    if "unknown" in str(data) or "nope" in str(data):
        assert not checked.ok
    else:
        assert checked.ok == valid, checked.problems


def test_scopes_are_merged_and_complete():
    stack = Stack.model_validate(
        doc(
            {"main": {**BASE, "sender": "no-reply@example.com"}},
            controller={"relay": "main"},
            acme={"relay": "main", "port": 2525, "password": {"file": "acme.txt"}},
        )
    )
    scopes = stack.scopes()
    assert scopes[CONTROLLER] == SmtpSettings.model_validate({**BASE, "sender": "no-reply@example.com"})
    acme = scopes[Address("acme")]
    assert isinstance(acme, SmtpSettings)
    assert (acme.host, acme.port, acme.tls, acme.username, acme.sender) == (
        "smtp.example.com",
        2525,
        True,
        "mailer",
        "no-reply@example.com",
    )
    assert acme.password == FileRef(file="acme.txt")
    assert stack.relays["main"].password == EnvRef(env="SMTP_PASSWORD")  # the relay itself is unchanged


def test_scopes_refuse_an_unknown_relay_when_validation_was_skipped():
    stack = Stack.model_validate(doc({}, controller={"relay": "nope"}))
    with pytest.raises(ValueError, match="controller: unknown relay 'nope'"):
        stack.scopes()


# ----- located diagnostics --------------------------------------------------------------------

RELAYS = """version: 1
name: t
relays:
  main:
    host: smtp.example.com
    port: 465
    tls: true
    username: mailer
    password: {env: SMTP_PASSWORD}
"""
# line 10 on: the scopes


def test_a_relay_used_by_every_tier_is_clean(check):
    c = check(
        RELAYS
        + "controller:\n  smtp: {relay: main}\npartners:\n  acme:\n    smtp: {relay: main, sender: a@acme.example}\n"
        "    organizations:\n      acme-eu:\n        smtp: {relay: main}\n"
    )
    c.clean()
    scopes = c.loaded.stack.scopes()
    assert {s.port for s in scopes.values()} == {465}
    assert scopes[Address("acme")].sender == "a@acme.example" and scopes[CONTROLLER].sender is None


def test_an_unknown_relay_is_an_error_at_the_reference(check):
    c = check(RELAYS + "partners:\n  acme:\n    smtp: {relay: mian}\n  globex:\n    smtp: {relay: other}\n")
    c.invalid()
    c.has(12, 19, "error", "unknown relay 'mian' (did you mean 'main'?)", "$.partners.acme.smtp.relay")
    c.has(14, 19, "error", "unknown relay 'other' (defined: main)", "$.partners.globex.smtp.relay")


def test_an_unknown_relay_without_relays(check):
    c = check("version: 1\nname: t\ncontroller:\n  smtp:\n    relay: main\n")
    c.has(5, 12, "error", "unknown relay 'main': the stack defines no relays:", "$.controller.smtp.relay")


def test_a_relay_name_that_is_not_an_id(check):
    c = check(RELAYS.replace("  main:", "  Main_Relay:") + "controller:\n  smtp: {relay: Main_Relay}\n")
    c.invalid()
    c.has(4, 3, "error", "invalid relay name 'Main_Relay': ids are DNS-label-like", "$.relays.Main_Relay")
    c.has(11, 17, "error", "relay must be a relay name", "$.controller.smtp.relay")


def test_an_unknown_key_beside_relay(check):
    c = check(RELAYS + "controller:\n  smtp:\n    relay: main\n    prot: 587\n")
    c.invalid()
    c.has(13, 5, "error", "unknown key 'prot' in smtp (did you mean 'port'?)", "$.controller.smtp.prot")


def test_an_override_that_breaks_a_rule_is_located_at_the_override(check):
    c = check(RELAYS + "controller:\n  smtp: {relay: main, tls: false}\n")
    c.invalid()
    c.has(
        11,
        28,
        "error",
        "port 465 is implicit TLS: set tls: true (or use 587 with STARTTLS) (port from relay 'main')",
        "$.controller.smtp.tls",
    )
    c.has(11, 28, "warning", "tls: false sends the SMTP password in clear text", "$.controller.smtp.tls")
    assert len(c.errors) == 1


def test_an_overridden_field_breaking_a_rule_is_located_at_itself(check):
    c = check(RELAYS.replace("port: 465", "port: 587") + "controller:\n  smtp: {relay: main, port: 465, tls: false}\n")
    c.has(11, 29, "error", "port 465 is implicit TLS", "$.controller.smtp.port")
    c.has(11, 39, "warning", "tls: false sends", "$.controller.smtp.tls")


def test_override_tls_mode_and_warning(check):
    c = check(RELAYS + "controller:\n  smtp: {relay: main, port: 587, tls_mode: implicit}\n")
    c.valid()
    c.has(11, 44, "warning", "tls_mode implicit on port 587", "$.controller.smtp.tls_mode")


def test_a_relays_own_problem_is_reported_once_at_the_relay(check):
    text = RELAYS.replace("port: 465", "port: 25").replace("tls: true", "tls: false")
    c = check(
        text + "controller:\n  smtp: {relay: main}\npartners:\n  a:\n    smtp: {relay: main, sender: x@y.example}\n"
    )
    c.valid()
    assert [(d.line, d.path) for d in c.warnings] == [(6, "$.relays.main.port"), (7, "$.relays.main.tls")]
    c = check(RELAYS.replace("tls: true", "tls: false") + "controller:\n  smtp: {relay: main}\n")
    c.has(6, 11, "error", "port 465 is implicit TLS", "$.relays.main.port")
    assert len(c.errors) == 1, c.lines


def test_an_override_cannot_reach_smtp_iac_own_variables(check):
    c = check(RELAYS + "controller:\n  smtp: {relay: main, password: {env: SMTP_IAC_STORE_KEY}}\n")
    c.has(11, 39, "error", "env SMTP_IAC_STORE_KEY is one of smtp-iac's own settings", "$.controller.smtp.password.env")


def test_an_unused_relay_is_a_warning(check):
    c = check(RELAYS + "controller:\n  smtp: inherit\n")
    c.valid()
    c.has(4, 3, "warning", "relay 'main' is not used by any scope", "$.relays.main")


def test_invisible_characters_in_relays_are_errors(check):
    c = check(RELAYS.replace("smtp.example.com", '"smtp.exa\\u200bmple.com"') + "controller:\n  smtp: {relay: main}\n")
    c.has(5, 11, "error", "host contains U+200B ZERO WIDTH SPACE", "$.relays.main.host")
    c = check(RELAYS.replace("  main:", '  "ma\\u200din":') + "controller:\n  smtp: {relay: main}\n")
    c.invalid()
    assert any("U+200D ZERO WIDTH JOINER" in ln for ln in c.lines), c.lines
    c = check(RELAYS + 'controller:\n  smtp: {relay: main, username: "m\\u00adailer"}\n')
    c.has(11, 33, "error", "username contains U+00AD SOFT HYPHEN", "$.controller.smtp.username")


def test_file_passwords_of_relays_and_overrides_are_confined(check, tmp_path):
    (tmp_path / ".git").mkdir()
    text = RELAYS.replace("{env: SMTP_PASSWORD}", "{file: /etc/passwd}")
    c = check(
        text + "controller:\n  smtp: {relay: main}\npartners:\n  a:\n    smtp: {relay: main, password: {file: ../x}}\n"
    )
    c.invalid()
    c.has(9, 22, "error", "resolves to /etc/passwd, outside the stack's repository", "$.relays.main.password.file")
    c.has(14, 42, "error", "outside the stack's repository", "$.partners.a.smtp.password.file")
    c = check(RELAYS.replace("{env: SMTP_PASSWORD}", "{file: secrets/pw.txt}") + "controller:\n  smtp: {relay: main}\n")
    c.clean()


def test_many_relays_and_references_stay_part_wise(check):
    """A relay is a part of its own: a bad one among many is explained alone."""
    relays = "".join(
        f"  r{i}:\n    host: h{i}.example\n    port: 587\n    tls: true\n    username: u\n    password: {{env: P}}\n"
        for i in range(2000)
    )
    orgs = "".join(f"      o{i}:\n        smtp: {{relay: r{i % 2000}}}\n" for i in range(4000))
    text = (
        "version: 1\nname: t\nrelays:\n" + relays + "  r-bad:\n    host: h.example\n    port: 0\n    tls: true\n"
        "    username: u\n    password: {env: P}\npartners:\n  acme:\n    organizations:\n" + orgs
    )
    c = check(text)
    c.invalid()
    assert [ln.split(" [at ")[1] for ln in c.lines if ": error: " in ln] == ["$.relays.r-bad.port]"]


def test_validate_through_the_cli(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(RELAYS + "controller:\n  smtp: {relay: nope}\n")
    assert run(["validate", str(f)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:11:17: error: unknown relay 'nope' (defined: main) [at $.controller.smtp.relay]" in out
    f.write_text(RELAYS + "controller:\n  smtp: {relay: main}\n")
    assert run(["validate", str(f), "--format", "json"]) == 0
