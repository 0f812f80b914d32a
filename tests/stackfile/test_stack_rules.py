"""Every rule of SPEC's stack-file section: one test each, the valid and the invalid side,
with the exact ``FILE:LINE:COL: SEVERITY:`` and JSON path of the message.

``settings_yaml`` (conftest) lays out a controller record on fixed lines: 5 host, 6 port,
7 tls, 8 username, 9 password, extra keys from line 10; values start at column 5 + len(key) + 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stackfile_helpers import settings_yaml

SMTP = "$.controller.smtp"


def test_a_complete_record_is_clean(check):
    c = check(settings_yaml())
    c.clean()
    assert c.loaded.name == "t"


# ----- unknown keys -------------------------------------------------------------------------


def test_unknown_key_typo_hots_is_an_error_at_the_key(check):
    c = check(settings_yaml(host=None, hots="smtp.example.com"))
    c.invalid()
    # host left out: the settings now run 5 port .. 8 password, hots on line 9
    c.has(9, 5, "error", "unknown key 'hots' in smtp (did you mean 'host'?)", f"{SMTP}.hots")
    # one typo, one error: 'host' is not also reported missing (tests/stackfile/test_typo_hints.py)
    assert not [ln for ln in c.lines if "missing required key" in ln], c.lines


@pytest.mark.parametrize(
    "text,line,col,key,path",
    [
        ("version: 1\nname: t\npartner: {}\n", 3, 1, "partner", "$.partner"),
        ("version: 1\nname: t\nverify:\n  mode: login\n  timeout: 5\n", 5, 3, "timeout", "$.verify.timeout"),
        ("version: 1\nname: t\npartners:\n  acme:\n    orgs: {}\n", 5, 5, "orgs", "$.partners.acme.orgs"),
        ("version: 1\nname: t\ncontroller:\n  smpt: inherit\n", 4, 3, "smpt", "$.controller.smpt"),
    ],
)
def test_unknown_keys_everywhere(check, text, line, col, key, path):
    c = check(text)
    c.invalid()
    c.has(line, col, "error", f"unknown key '{key}'", path)


def test_known_keys_everywhere_are_accepted(check):
    c = check(
        "version: 1\nname: t\nstore: sqlite:///x.db\nverify:\n  mode: login\n  timeout_seconds: 5\n"
        "controller:\n  smtp: inherit\npartners:\n  acme:\n    smtp: inherit\n    organizations:\n"
        "      eu:\n        smtp: inherit\n"
    )
    c.clean()


# ----- anchors and aliases ------------------------------------------------------------------


def test_anchor_is_refused_at_its_position(check):
    c = check("version: 1\nname: t\ncontroller:\n  smtp: &common\n    host: h\n")
    c.invalid()
    c.has(4, 9, "error", "YAML anchors are not allowed")


def test_alias_is_refused_at_its_position(check):
    c = check(settings_yaml(password="*pw"))
    c.invalid()
    c.has(9, 15, "error", "YAML aliases are not allowed")


def test_ampersand_and_star_inside_strings_are_fine(check):
    c = check(settings_yaml(username='"r&d*team"'))
    c.clean()
    assert c.loaded.stack.controller.smtp.username == "r&d*team"


# ----- TLS and ports ------------------------------------------------------------------------


def test_port_465_without_tls_is_an_error(check):
    c = check(settings_yaml(port="465", tls="false"))
    c.invalid()
    c.has(6, 11, "error", "port 465 is implicit TLS: set tls: true", f"{SMTP}.port")


def test_port_465_with_tls_is_clean(check):
    c = check(settings_yaml(port="465", tls="true"))
    c.clean()
    assert c.loaded.stack.controller.smtp.effective_tls_mode == "implicit"


def test_tls_false_warns_but_is_valid(check):
    c = check(settings_yaml(tls="false"))
    c.valid()
    c.has(7, 10, "warning", "tls: false sends the SMTP password in clear text", f"{SMTP}.tls")
    assert len(c.diags) == 1


def test_port_25_warns_but_is_valid(check):
    c = check(settings_yaml(port="25"))
    c.valid()
    c.has(6, 11, "warning", "port 25 is not recommended and often blocked", f"{SMTP}.port")
    assert len(c.diags) == 1


@pytest.mark.parametrize(
    "port,mode,fragment",
    [
        ("587", "implicit", "tls_mode implicit on port 587"),
        ("465", "starttls", "tls_mode starttls on port 465"),
    ],
)
def test_tls_mode_against_the_port_warns(check, port, mode, fragment):
    c = check(settings_yaml(port=port, tls_mode=mode))
    c.valid()
    c.has(10, 15, "warning", fragment, f"{SMTP}.tls_mode")
    assert len(c.diags) == 1


@pytest.mark.parametrize(
    "port,mode", [("587", "starttls"), ("465", "implicit"), ("2525", "implicit"), ("2525", "starttls")]
)
def test_tls_mode_matching_the_port_is_clean(check, port, mode):
    c = check(settings_yaml(port=port, tls_mode=mode))
    c.clean()
    assert c.loaded.stack.controller.smtp.effective_tls_mode == mode


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_tls_mode_with_tls_false_is_an_error(check, mode):
    c = check(settings_yaml(tls="false", tls_mode=mode))
    c.invalid()
    c.has(10, 15, "error", "tls_mode is only allowed with tls: true", f"{SMTP}.tls_mode")


@pytest.mark.parametrize(
    "port,line_col,fragment",
    [
        ("0", (6, 11), "port 0 is out of range 1..65535"),
        ("70000", (6, 11), "port 70000 is out of range 1..65535"),
        ('"587"', (6, 11), "port must be an integer, not string"),
        ("587.5", (6, 11), "port must be an integer, not number"),
        ("587.0", (6, 11), "port must be an integer, not number"),
        ("true", (6, 11), "port must be an integer, not boolean"),
    ],
)
def test_port_must_be_an_integer_in_range(check, port, line_col, fragment):
    c = check(settings_yaml(port=port))
    c.invalid()
    c.has(*line_col, "error", fragment, f"{SMTP}.port")


@pytest.mark.parametrize("port", ["1", "65535", "2525", "0x24b"])  # 0x24b = 587 (YAML 1.2 core hex)
def test_ports_in_range_are_accepted(check, port):
    check(settings_yaml(port=port)).valid()


@pytest.mark.parametrize("tls", ["yes", "on", '"true"', "1"])
def test_tls_must_be_a_yaml_boolean(check, tls):
    """YAML 1.2 core: yes/on are strings, not booleans."""
    c = check(settings_yaml(tls=tls))
    c.invalid()
    c.has(7, 10, "error", "tls must be true or false", f"{SMTP}.tls")


# ----- CR, LF, NUL --------------------------------------------------------------------------

CTRL_CASES = [
    # (id, yaml text, line, col, json path, field named in the message)
    ("host", settings_yaml(host='"smtp.example.com\\r\\nX"'), 5, 11, f"{SMTP}.host", "host"),
    ("username-lf", settings_yaml(username='"mail\\ner"'), 8, 15, f"{SMTP}.username", "username"),
    ("username-cr", settings_yaml(username='"mail\\rer"'), 8, 15, f"{SMTP}.username", "username"),
    ("username-nul", settings_yaml(username='"mail\\0er"'), 8, 15, f"{SMTP}.username", "username"),
    ("username-trailing-lf", settings_yaml(username='"mailer\\n"'), 8, 15, f"{SMTP}.username", "username"),
    ("username-block-scalar", settings_yaml(username="|\n      mailer"), 8, 15, f"{SMTP}.username", "username"),
    ("sender", settings_yaml(sender='"a@example.com\\r\\nBcc: x@evil.example"'), 10, 13, f"{SMTP}.sender", "sender"),
    ("password-env", settings_yaml(password='{env: "SMTP\\nPASSWORD"}'), 9, 21, f"{SMTP}.password.env", "env"),
    ("password-file", settings_yaml(password='{file: "secret.txt\\n"}'), 9, 22, f"{SMTP}.password.file", "file"),
    (
        "password-config",
        settings_yaml(password='{pulumi_config: "key\\r"}'),
        9,
        31,
        f"{SMTP}.password.pulumi_config",
        "pulumi_config",
    ),
    ("name", 'version: 1\nname: "prod\\n"\n', 2, 7, "$.name", "name"),
    ("store", 'version: 1\nname: t\nstore: "sqlite:///x.db\\n"\n', 3, 8, "$.store", "store"),
    (
        "verify-to",
        'version: 1\nname: t\nverify:\n  mode: send\n  to: "ops@example.com\\n"\n',
        5,
        7,
        "$.verify.to",
        "to",
    ),
    ("verify-from", 'version: 1\nname: t\nverify:\n  from: "a\\r@example.com"\n', 4, 9, "$.verify.from", "from"),
    ("verify-ca_file", 'version: 1\nname: t\nverify:\n  ca_file: "ca.pem\\0"\n', 4, 12, "$.verify.ca_file", "ca_file"),
]


@pytest.mark.parametrize("text,line,col,path,field", [c[1:] for c in CTRL_CASES], ids=[c[0] for c in CTRL_CASES])
def test_cr_lf_nul_in_any_field_is_an_error(check, text, line, col, path, field):
    c = check(text)
    c.invalid()
    msg = c.has(line, col, "error", "", path)
    assert "CR, LF or NUL" in msg or "e-mail address" in msg or "invalid format" in msg, msg
    assert field in msg
    assert "\n" not in msg and "\r" not in msg  # the message stays on its line


@pytest.mark.parametrize(
    "text,line,col,path",
    [
        ('version: 1\nname: t\npartners:\n  "ac\\nme": {}\n', 4, 3, "$.partners['ac\\nme']"),
        (
            'version: 1\nname: t\npartners:\n  acme:\n    organizations:\n      "eu\\r": {}\n',
            6,
            7,
            "$.partners.acme.organizations['eu\\r']",
        ),
        ('version: 1\nname: t\npartners:\n  "acme\\0": {}\n', 4, 3, "$.partners['acme\\x00']"),
    ],
    ids=["partner-id", "org-id", "partner-id-nul"],
)
def test_cr_lf_nul_in_ids_is_an_error_at_the_key(check, text, line, col, path):
    c = check(text)
    c.invalid()
    msg = c.has(line, col, "error", "must not contain CR, LF or NUL characters", path)
    assert "\n" not in msg and "\r" not in msg and "\x00" not in msg


def test_cr_lf_in_a_key_is_reported_on_one_line(check):
    c = check(settings_yaml(**{'"host\\nX"': "x"}))
    c.invalid()
    msg = c.has(10, 5, "error", "unknown key 'host\\nX'")
    assert "\n" not in msg


def test_raw_nul_byte_is_an_error_with_its_position(check):
    c = check(settings_yaml(username="mail\x00er"))
    c.invalid()
    c.has(8, 19, "error", "special character #x0000 is not allowed")


# ----- passwords ----------------------------------------------------------------------------

SECRET = "Sup3r-Secret-Pa55word"


def test_plain_password_is_an_error(check):
    c = check(settings_yaml(password=SECRET))
    c.invalid()
    c.has(9, 15, "error", "a plain password is not allowed in a stack file", f"{SMTP}.password")


PASSWORD_SHAPES = [
    SECRET,
    f'"{SECRET}"',
    f"{{value: {SECRET}}}",
    f"{{env: {SECRET}!}}",
    f"[{SECRET}]",
    f"{{env: A, file: {SECRET}}}",
    f"|\n      {SECRET}",
    f"{{{SECRET}: x}}",
    f"{{env: A, {SECRET}}}",
    f"{{file: a.txt, {SECRET}: 1}}",
]


def _leaky_files(tmp_path) -> list[str]:
    files = []
    for i, password in enumerate(PASSWORD_SHAPES):
        p = tmp_path / f"leak-{i}.yaml"
        p.write_text(
            settings_yaml(password=password)
            + "partners:\n  acme:\n    organizations:\n      eu:\n        smtp:\n          host: h\n"
            f"          port: 70000\n          tls: true\n          username: u\n          password: {SECRET}\n"
        )
        files.append(str(p))
    return files


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_password_value_never_appears_in_any_output(tmp_path, fmt):
    """Through the real CLI: whatever shape the wrong password has, its value is not echoed."""
    smtp_iac = Path(sys.executable).parent / "smtp-iac"
    files = _leaky_files(tmp_path)
    r = subprocess.run(
        [str(smtp_iac), "validate", "--format", fmt, *files], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 1
    out = r.stdout + r.stderr
    for f in files:
        assert f in out  # every file was reported on...
    assert out.count("password") >= len(files)  # ...and talked about its password...
    assert SECRET not in out  # ...without saying it
    assert "Traceback" not in out


@pytest.mark.parametrize("password", PASSWORD_SHAPES, ids=range(len(PASSWORD_SHAPES)))
def test_password_value_never_appears_in_the_diagnostics(check, password):
    c = check(settings_yaml(password=password))
    c.invalid()
    assert any(".password" in d.path for d in c.errors), "\n".join(c.lines)
    assert SECRET not in repr(c.diags)


def test_password_that_is_a_number_is_an_error_without_the_number(check):
    c = check(settings_yaml(password="918273645"))
    c.invalid()
    msg = c.has(9, 15, "error", "password", f"{SMTP}.password")
    assert "918273645" not in "\n".join(c.lines), msg


# ----- secret references --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref,kind",
    [
        ("{env: SMTP_PASSWORD}", "EnvRef"),
        ("{file: secrets/smtp.txt}", "FileRef"),
        ("{pulumi_config: acmeSmtpPassword}", "PulumiConfigRef"),
    ],
)
def test_each_kind_of_secret_reference_is_accepted(check, ref, kind):
    c = check(settings_yaml(password=ref))
    c.clean()
    assert type(c.loaded.stack.controller.smtp.password).__name__ == kind


@pytest.mark.parametrize(
    "ref,line,col,fragment,path",
    [
        ("{env: A, file: b}", 9, 15, "password must be exactly one reference", f"{SMTP}.password"),
        ("{env: A, pulumi_config: b}", 9, 15, "password must be exactly one reference", f"{SMTP}.password"),
        ("{}", 9, 15, "password must be exactly one reference", f"{SMTP}.password"),
        ("{vault: x}", 9, 15, "password must be exactly one reference", f"{SMTP}.password"),
        ("{env: 1ABC}", 9, 21, "env must be an environment variable name", f"{SMTP}.password.env"),
        ("{file: ''}", 9, 22, "file must not be empty", f"{SMTP}.password.file"),
        ("{pulumi_config: a b}", 9, 31, "pulumi_config must be a config key", f"{SMTP}.password.pulumi_config"),
    ],
)
def test_secret_reference_must_be_exactly_one_well_formed_ref(check, ref, line, col, fragment, path):
    c = check(settings_yaml(password=ref))
    c.invalid()
    c.has(line, col, "error", fragment, path)


@pytest.mark.parametrize("name", ["SMTP_IAC_STORE_KEY", "SMTP_IAC_STORE", "smtp_iac_store_key"])
def test_env_reference_to_smtp_iacs_own_settings_is_refused(check, name):
    """verify logs in to the stack's host with the password: a stack must not be able to send
    the store key or URL to a host it names."""
    c = check(settings_yaml(password=f"{{env: {name}}}"))
    c.invalid()
    c.has(9, 21, "error", f"env {name} is one of smtp-iac's own settings", f"{SMTP}.password.env")


def test_env_reference_with_a_similar_name_is_fine(check):
    check(settings_yaml(password="{env: SMTP_IACX_PASSWORD}")).clean()


# ----- verify -------------------------------------------------------------------------------


def test_verify_send_requires_to(check):
    c = check("version: 1\nname: t\nverify:\n  mode: send\n  timeout_seconds: 5\n")
    c.invalid()
    c.has(4, 3, "error", "verify.to is required when mode is send", "$.verify")


def test_verify_send_with_to_is_clean(check):
    c = check("version: 1\nname: t\nverify:\n  mode: send\n  to: ops@example.com\n")
    c.clean()
    assert c.loaded.stack.verify.to == "ops@example.com"


@pytest.mark.parametrize("mode", ["login", "off"])
def test_verify_without_send_needs_no_to(check, mode):
    c = check(f"version: 1\nname: t\nverify:\n  mode: {mode}\n")
    c.valid()


def test_verify_off_warns(check):
    c = check("version: 1\nname: t\nverify:\n  mode: off\n")
    c.has(4, 9, "warning", "verify mode off", "$.verify.mode")


@pytest.mark.parametrize(
    "value,fragment",
    [
        ("0", "timeout_seconds 0 is out of range 1..120"),
        ("121", "timeout_seconds 121 is out of range 1..120"),
        ('"15"', "timeout_seconds must be an integer, not string"),
        ("15.5", "timeout_seconds must be an integer, not number"),
    ],
)
def test_verify_timeout_outside_1_to_120_is_an_error(check, value, fragment):
    c = check(f"version: 1\nname: t\nverify:\n  timeout_seconds: {value}\n")
    c.invalid()
    c.has(4, 20, "error", fragment, "$.verify.timeout_seconds")


@pytest.mark.parametrize("value", [1, 120])
def test_verify_timeout_bounds_are_accepted(check, value):
    c = check(f"version: 1\nname: t\nverify:\n  timeout_seconds: {value}\n")
    c.clean()
    assert c.loaded.stack.verify.timeout_seconds == value


def test_verify_defaults(check):
    v = check("version: 1\nname: t\n").loaded.stack.verify
    assert (v.mode, v.timeout_seconds, v.to) == ("login", 15, None)


# ----- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pid", ["Acme", "acme_eu", "-acme", "acme-", "a" * 64, "acmé", "ac.me"])
def test_partner_id_must_be_dns_label_like(check, pid):
    c = check(f'version: 1\nname: t\npartners:\n  "{pid}": {{}}\n')
    c.invalid()
    c.has(4, 3, "error", "invalid id", None)
    assert any("DNS-label-like" in s for s in c.lines)


@pytest.mark.parametrize("oid", ["EU", "eu_1", "-eu", "e" * 64])
def test_organization_id_must_be_dns_label_like(check, oid):
    c = check(f'version: 1\nname: t\npartners:\n  acme:\n    organizations:\n      "{oid}": {{}}\n')
    c.invalid()
    c.has(6, 7, "error", f"invalid id '{oid}'", None)


@pytest.mark.parametrize("ident", ["a", "0", "a-b", "acme-eu-1", "a" * 63, "9lives"])
def test_dns_label_like_ids_are_accepted(check, ident):
    c = check(f'version: 1\nname: "{ident}"\npartners:\n  {ident}:\n    organizations:\n      {ident}: {{}}\n')
    c.clean()
    assert c.loaded.name == ident


def test_a_numeric_name_must_be_quoted(check):
    c = check("version: 1\nname: 0\n", name="ok.yaml")
    c.invalid()
    c.has(2, 7, "error", "name must be a string, not integer", "$.name")
    assert len(c.diags) == 1


@pytest.mark.parametrize("name", ["Prod", "my_stack", "-prod", "a" * 64])
def test_stack_name_must_be_dns_label_like(check, name):
    c = check(f'version: 1\nname: "{name}"\n')
    c.invalid()
    c.has(2, 7, "error", "DNS-label-like", "$.name")


# ----- inherit ------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["Inherit", "INHERIT", "inherited", '"inherit "', "~", "true", "[]"])
def test_inherit_only_as_the_word(check, word):
    c = check(f"version: 1\nname: t\ncontroller:\n  smtp: {word}\n")
    c.invalid()
    c.has(4, 9, "error", "the word 'inherit'", "$.controller.smtp")


@pytest.mark.parametrize("word", ["inherit", '"inherit"', "'inherit'"])
def test_inherit_word_is_accepted_at_every_tier(check, word):
    c = check(
        f"version: 1\nname: t\ncontroller:\n  smtp: {word}\npartners:\n  acme:\n    smtp: {word}\n"
        f"    organizations:\n      eu:\n        smtp: {word}\n"
    )
    c.clean()
    assert set(c.loaded.stack.scopes().values()) == {"inherit"}


# ----- hosts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "smtp.example.com",
        "smtp.bücher.example",
        "SMTP.Example.COM",
        "localhost",
        "smtp.example.com.",
        "192.0.2.25",
        "127.0.0.1",
        "2001:db8::25",
        "::1",
        "fe80::1%eth0",
        "xn--bcher-kva.example",
        "a" * 63 + ".example",
    ],
)
def test_host_forms_that_are_accepted(check, host):
    c = check(settings_yaml(host=f'"{host}"'))
    c.clean()
    assert c.loaded.stack.controller.smtp.host == host


@pytest.mark.parametrize(
    "host,fragment",
    [
        ("smtp://smtp.example.com", "without scheme, port, path or spaces"),
        ("smtp.example.com:587", "without scheme, port, path or spaces"),
        ("smtp.example.com/relay", "without scheme, port, path or spaces"),
        ("smtp example.com", "without scheme, port, path or spaces"),
        (" smtp.example.com", "without scheme, port, path or spaces"),
        ("[::1]", "without scheme, port, path or spaces"),
        ("[2001:db8::1]:587", "without scheme, port, path or spaces"),
        ("user@smtp.example.com", "without scheme, port, path or spaces"),
        ("999.1.1.1", "looks like an IPv4 address but is not a valid one"),
        ("1.2.3", "looks like an IPv4 address but is not a valid one"),
        ("256.256.256.256", "looks like an IPv4 address but is not a valid one"),
        # what the C resolver's inet_aton reads as 127.0.0.1: hex, octal, fewer parts
        ("0x7f000001", "looks like an IPv4 address but is not a valid one"),
        ("0x7f.0.0.1", "looks like an IPv4 address but is not a valid one"),
        ("0177.0.0.1", "looks like an IPv4 address but is not a valid one"),
        ("2130706433", "looks like an IPv4 address but is not a valid one"),
        ("1.2.3.4.5", "looks like an IPv4 address but is not a valid one"),
        ("dead:587", "neither a DNS name nor a valid IPv6 address (a port goes in port:"),
        ("2001:db8::zz", "neither a DNS name nor a valid IPv6 address"),
        ("-smtp.example.com", "is not a valid DNS label"),
        ("smtp..example.com", "is not a valid DNS label"),
        ("smtp_relay.example.com", "is not a valid DNS label"),
        ("a" * 64 + ".example", "is not a valid DNS label"),
        ("", "host must not be empty"),
    ],
)
def test_host_forms_that_are_refused(check, host, fragment):
    c = check(settings_yaml(host=f'"{host}"'))
    c.invalid()
    c.has(5, 11, "error", fragment, f"{SMTP}.host")


# ----- name and its default -----------------------------------------------------------------


def test_name_defaults_to_the_file_stem(check):
    c = check("version: 1\ncontroller:\n  smtp: inherit\n", name="prod-eu.yaml")
    c.clean()
    assert c.loaded.name == "prod-eu"
    assert c.loaded.stack.name is None


def test_name_key_wins_over_the_stem(check):
    c = check("version: 1\nname: prod\n", name="Whatever_Name.yaml")
    c.clean()
    assert c.loaded.name == "prod"


def test_bad_stem_without_a_name_is_an_error(check):
    c = check("version: 1\n", name="My_Stack.yaml")
    c.invalid()
    c.has(1, 1, "error", "the stack name defaults to the file's stem 'My_Stack', which is not a valid id", "$")


# ----- duplicates, version, required fields -------------------------------------------------


def test_duplicate_key_is_an_error_at_the_second(check):
    c = check(settings_yaml(extra="x").replace("    extra: x\n", "    port: 2525\n"))
    c.invalid()
    c.has(10, 5, "error", "duplicate key 'port' (first at line 6)", f"{SMTP}.port")


def test_duplicate_partner_is_an_error(check):
    c = check("version: 1\nname: t\npartners:\n  acme:\n    smtp: inherit\n  globex: {}\n  acme: {}\n")
    c.invalid()
    c.has(7, 3, "error", "duplicate key 'acme' (first at line 4)", "$.partners.acme")


@pytest.mark.parametrize(
    "text,line,col,fragment",
    [
        ("version: 2\nname: t\n", 1, 10, "version must be 1"),
        ('version: "1"\nname: t\n', 1, 10, "version must be 1"),
        ("name: t\n", 1, 1, "missing required key 'version'"),
    ],
)
def test_version_must_be_1(check, text, line, col, fragment):
    c = check(text)
    c.invalid()
    c.has(line, col, "error", fragment)


@pytest.mark.parametrize("field", ["host", "port", "tls", "username", "password"])
def test_every_required_field_is_required(check, field):
    c = check(settings_yaml(**{field: None}))
    c.invalid()
    c.has(5, 5, "error", f"missing required key '{field}' in smtp", SMTP)


# ----- all at once --------------------------------------------------------------------------

ALL_AT_ONCE = """\
version: 1
name: t
verify:
  mode: send
  timeout_seconds: 0
controller:
  smtp:
    hots: smtp.example.com
    port: 70000
    tls: true
    username: mailer
    password: hunter2hunter2
partners:
  Acme:
    smtp: inherit
  globex:
    smtp:
      host: 999.1.1.1
      port: 465
      tls: false
      username: "a\\nb"
      password: {env: GLOBEX}
    organizations:
      eu:
        smtp: Inherit
"""


def test_all_problems_are_reported_at_once_in_file_order(check):
    c = check(ALL_AT_ONCE)
    c.invalid()
    c.has(4, 3, "error", "verify.to is required when mode is send", "$.verify")
    c.has(5, 20, "error", "timeout_seconds 0 is out of range", "$.verify.timeout_seconds")
    c.has(8, 5, "error", "unknown key 'hots'", "$.controller.smtp.hots")
    c.has(9, 11, "error", "port 70000 is out of range", "$.controller.smtp.port")
    c.has(12, 15, "error", "a plain password is not allowed", "$.controller.smtp.password")
    c.has(14, 3, "error", "invalid id 'Acme'", "$.partners.Acme")
    c.has(18, 13, "error", "looks like an IPv4 address", "$.partners.globex.smtp.host")
    c.has(19, 13, "error", "port 465 is implicit TLS", "$.partners.globex.smtp.port")
    c.has(20, 12, "warning", "tls: false", "$.partners.globex.smtp.tls")
    c.has(21, 17, "error", "must not contain CR, LF or NUL", "$.partners.globex.smtp.username")
    c.has(25, 15, "error", "the word 'inherit'", "$.partners.globex.organizations.eu.smtp")
    assert len(c.errors) == 10, "\n".join(c.lines)  # 'hots' is not also a missing 'host'
    assert [(d.line, d.column) for d in c.diags] == sorted((d.line, d.column) for d in c.diags)
    assert "hunter2hunter2" not in "\n".join(c.lines)
