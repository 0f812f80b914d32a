"""What a reviewer reads in a pull request is what is used (hostile input): no invisible, bidi-control
or control character in any string of a stack file, keys and ids too, each refused at its
value (or key) with the code point named; and host names checked as IDNA 2008 (the ``idna``
package, UTS 46 mapping), never by the stdlib codec (IDNA 2003), which drops U+200B and maps
``ß`` to ``ss``. Through the real console script for each output format, and in process for
every field.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from stackfile_helpers import settings_yaml

from smtp_iac.reading import rules
from smtp_iac.reading.validation import validate_settings

SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
SMTP = "$.controller.smtp"
ZWSP_HOST = "smtp.exa\u200bmple.com"
WHY = "what a reviewer reads is not what is used; remove it"


def validate(*args: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(SMTP_IAC), "validate", *map(str, args)], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stdout + r.stderr
    return r


# ----- through the command line ------------------------------------------------------------


@pytest.fixture
def hidden(tmp_path) -> Path:
    f = tmp_path / "hidden.yaml"
    f.write_text(settings_yaml(host=ZWSP_HOST), encoding="utf-8")
    return f


def test_text_names_the_invisible_character_where_it_stands(hidden):
    r = validate(hidden)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{hidden}:5:11: error: host contains U+200B ZERO WIDTH SPACE, an invisible character: {WHY} [at {SMTP}.host]",
        f"{hidden}: invalid (1 error(s), 0 warning(s))",
    ]


def test_github_annotates_the_invisible_character(hidden):
    r = validate("--format", "github", hidden)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"::error file={hidden},line=5,col=11,title=smtp-iac validate::host contains U+200B ZERO WIDTH SPACE, "
        f"an invisible character: {WHY} [at {SMTP}.host]"
    ]


def test_json_reports_the_invisible_character(hidden):
    r = validate("--format", "json", hidden)
    assert r.returncode == 1
    (entry,) = json.loads(r.stdout)["files"]
    assert [(d["line"], d["column"], d["severity"], d["path"]) for d in entry["diagnostics"]] == [
        (5, 11, "error", f"{SMTP}.host")
    ]
    assert "U+200B ZERO WIDTH SPACE" in entry["diagnostics"][0]["message"]


def test_a_bidi_override_in_a_partner_id_is_refused_at_the_key(tmp_path):
    f = tmp_path / "bidi.yaml"
    f.write_text("version: 1\nname: t\npartners:\n  acme\u202e:\n    smtp: inherit\n", encoding="utf-8")
    r = validate("--format", "github", f)
    assert r.returncode == 1
    (line,) = r.stdout.splitlines()
    assert line.startswith(
        f"::error file={f},line=4,col=3,title=smtp-iac validate::key 'acme\\u202e' contains U+202E RIGHT-TO-LEFT "
        "OVERRIDE, a bidirectional control character"
    )
    assert line.endswith("[at $.partners['acme\\u202e']]")


# ----- every string, every kind --------------------------------------------------------------

REFUSED = [
    "\u00ad",  # SOFT HYPHEN
    "\u034f",  # COMBINING GRAPHEME JOINER
    "\u061c",  # ARABIC LETTER MARK
    "\u115f",  # HANGUL CHOSEONG FILLER
    "\u180e",  # MONGOLIAN VOWEL SEPARATOR
    *map(chr, range(0x200B, 0x2010)),  # zero-width space, non-joiner, joiner, LRM, RLM
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    *map(chr, range(0x202A, 0x202F)),  # bidi embeddings and overrides
    *map(chr, range(0x2060, 0x2065)),  # word joiner, invisible operators
    *map(chr, range(0x2066, 0x206A)),  # bidi isolates
    "\u3164",  # HANGUL FILLER
    "\ufe0f",  # VARIATION SELECTOR-16
    "\ufeff",  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
    "\U000e0001",  # LANGUAGE TAG
    "\U000e0041",  # TAG LATIN CAPITAL LETTER A
    "\x1b",  # ESCAPE (terminal escape sequences in a CI log)
    "\x85",  # NEXT LINE
]


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_each_invisible_character_is_refused_and_named(check, char):
    c = check(settings_yaml(username=f'"mail\\U{ord(char):08X}er"'))  # a double-quoted YAML escape
    c.invalid()
    msg = c.has(8, 15, "error", f"username contains U+{ord(char):04X}", f"{SMTP}.username")
    if unicodedata.name(char, ""):
        assert unicodedata.name(char) in msg
    assert char not in msg  # said, not shown


@pytest.mark.parametrize(
    "text,line,col,path",
    [
        ('version: 1\nname: "t\u200b"\n', 2, 7, "$.name"),
        ('version: 1\nname: t\nstore: "sqlite:///x\u200b.db"\n', 3, 8, "$.store"),
        ('version: 1\nname: t\nverify:\n  mode: send\n  to: "ops\u200b@example.com"\n', 5, 7, "$.verify.to"),
        ('version: 1\nname: t\nverify:\n  from: "a@exa\u200bmple.com"\n', 4, 9, "$.verify.from"),
        ('version: 1\nname: t\nverify:\n  ca_file: "ca\u200b.pem"\n', 4, 12, "$.verify.ca_file"),
        ('version: 1\nname: t\nverify:\n  mode: "off\u200b"\n', 4, 9, "$.verify.mode"),
        ('version: 1\nname: t\ncontroller:\n  smtp: "inherit\u200b"\n', 4, 9, "$.controller.smtp"),
        (settings_yaml(host=f'"{ZWSP_HOST}"'), 5, 11, f"{SMTP}.host"),
        (settings_yaml(sender='"no-reply@exa\u200bmple.com"'), 10, 13, f"{SMTP}.sender"),
        (settings_yaml(tls_mode='"starttls\u200b"'), 10, 15, f"{SMTP}.tls_mode"),
        (settings_yaml(password='{env: "SMTP\u200bPASSWORD"}'), 9, 21, f"{SMTP}.password.env"),
        (settings_yaml(password='{file: "secret\u200b.txt"}'), 9, 22, f"{SMTP}.password.file"),
        (settings_yaml(password='{pulumi_config: "key\u200b"}'), 9, 31, f"{SMTP}.password.pulumi_config"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("$") else None,
)
def test_every_string_field_is_checked(check, text, line, col, path):
    c = check(text)
    c.invalid()
    c.has(line, col, "error", "contains U+200B ZERO WIDTH SPACE", path)
    assert len(c.errors) == 1, c.lines  # the schema's own complaint, if any, gives way


@pytest.mark.parametrize(
    "text,line,col,path",
    [
        ("version: 1\nname: t\npartners:\n  ac\u200bme: {}\n", 4, 3, "$.partners['ac\\u200bme']"),
        (
            "version: 1\nname: t\npartners:\n  acme:\n    organizations:\n      e\u2060u: {}\n",
            6,
            7,
            "$.partners.acme.organizations['e\\u2060u']",
        ),
        ("version: 1\nname: t\nver\u00adify: {}\n", 3, 1, "$['ver\\xadify']"),
        (settings_yaml(**{"ho\u200cst": "x"}), 10, 5, f"{SMTP}['ho\\u200cst']"),
    ],
    ids=["partner-id", "organization-id", "top-level-key", "settings-key"],
)
def test_keys_and_ids_are_checked_at_the_key(check, text, line, col, path):
    c = check(text)
    c.invalid()
    c.has(line, col, "error", "key '", path)


def test_a_string_under_an_unknown_key_or_in_a_list_is_checked_too(check):
    c = check('version: 1\nname: t\ncontroller: [a, "b\u200b"]\n')
    c.invalid()
    c.has(3, 17, "error", "contains U+200B", "$.controller[1]")


def test_invisible_characters_in_comments_are_not_data(check):
    check("# zero\u200bwidth\nversion: 1\nname: t  # \u202e\n").clean()


def test_the_pulumi_check_refuses_them_too():
    problems = validate_settings(
        {"host": ZWSP_HOST, "port": 587, "tls": True, "username": "u", "password": {"env": "P"}}
    )
    assert [(p.path, p.severity) for p in problems] == [(("host",), "error")]
    assert "U+200B ZERO WIDTH SPACE" in problems[0].message


def test_the_set_covers_every_format_separator_and_control_character_of_this_python():
    """Cf, Zl, Zp and Cc (but NUL, TAB, LF, CR: their own rule) of the running Unicode
    database, and nothing that is shown as itself."""
    for cp in range(0x110000):
        c = chr(cp)
        category = unicodedata.category(c)
        if category in ("Cf", "Zl", "Zp") or (category == "Cc" and c not in "\x00\t\n\r"):
            assert rules.INVISIBLE.match(c), f"U+{cp:04X} {category}"
    for shown in "aZ09-. _@\t\u00e9\u00df\u0430\u4e2d\u00a0\u2044\U0001f600":
        assert not rules.INVISIBLE.match(shown), f"U+{ord(shown):04X}"


# ----- hosts: IDNA 2008 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host,ascii_form",
    [
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2003 (the stdlib codec) would make it fass.de
        ("smtp.bücher.example", "smtp.xn--bcher-kva.example"),
        ("SMTP.Bücher.example", "SMTP.xn--bcher-kva.example"),  # letter case is not a change
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("smtp.bücher.example.", "smtp.xn--bcher-kva.example."),
        ("192.0.2.25", "192.0.2.25"),
        ("2001:db8::25", "2001:db8::25"),
    ],
)
def test_hosts_are_idna_2008(check, host, ascii_form):
    check(settings_yaml(host=f'"{host}"')).clean()
    assert rules.host_ascii(host) == ascii_form


@pytest.mark.parametrize(
    "host,fragment",
    [
        ("\uff53\uff4d\uff54\uff50.example.com", "IDNA maps 'ｓｍｔｐ' to 'smtp'; write that instead"),
        ("smtp.bu\u0308cher.example", "host is not in Unicode normal form NFC"),
        ("smtp.ex\u2044ample.com", "IDNA 2008: Codepoint U+2044"),  # FRACTION SLASH, looks like '/'
        ("xn--zz.example.com", "host label 'xn--zz' is not a valid IDNA A-label"),
        ("smtp.\u0661\u0662.com", "IDNA 2008: First codepoint in label"),  # the bidi rule
        ("mail.\U0001f4e7.example", "IDNA 2008: Codepoint U+1F4E7"),
        ("ex_ample.bücher.de", "host label 'ex_ample' is not a valid DNS label"),
        ("ü" * 60 + ".de", "IDNA 2008: Label too long"),
    ],
)
def test_hosts_that_idna_would_change_or_refuse_are_errors(check, host, fragment):
    c = check(settings_yaml(host=f'"{host}"'))
    c.invalid()
    c.has(5, 11, "error", fragment, f"{SMTP}.host")


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\u00ad", "\u202e"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_host_with_an_invisible_character_gets_one_error_that_names_it(check, char):
    c = check(settings_yaml(host=f'"smtp.bücher{char}.example"'))
    c.invalid()
    assert [d.message.split(",")[0] for d in c.errors] == [f"host contains {rules.describe_char(char)}"]
