"""One typo, one helpful error (the IaC lifecycle): a misspelt word gets a did-you-mean (``smtp:
inherted``), a misspelt key is not also reported as the missing key it was meant to be; and
integers follow YAML 1.2's core schema as the guide says (``0755`` is 755, ``0o755`` octal,
``0x1F`` hex, at most 1,000 digits). The guide's sample validate output (docs/stack-files.md) is a real run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from stackfile_helpers import settings_yaml

from smtp_iac.reading.yamlsource import MAX_INT_DIGITS, parse_text

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "readme_sample"
SMTP = "$.controller.smtp"


@pytest.mark.parametrize("word", ["inherted", "inherited", "Inherit", "inherit ", "inhert"])
def test_a_misspelt_inherit_gets_a_did_you_mean(check, word):
    c = check(f"version: 1\nname: t\ncontroller:\n  smtp: '{word}'\n")
    c.invalid()
    line = c.has(4, 9, "error", "or the word 'inherit'", SMTP)
    assert line.count("(did you mean 'inherit'?)") == 1


def test_a_word_far_from_inherit_gets_no_guess(check):
    c = check("version: 1\nname: t\ncontroller:\n  smtp: disabled\n")
    c.invalid()
    assert "did you mean" not in c.has(4, 9, "error", "or the word 'inherit'", SMTP)


def test_one_typo_of_a_required_key_is_one_error(check):
    c = check(settings_yaml(host=None, hots="smtp.example.com"))
    c.invalid()
    assert c.lines == [f"{c.file}:9:5: error: unknown key 'hots' in smtp (did you mean 'host'?) [at {SMTP}.hots]"]


def test_a_typo_explains_only_the_key_it_suggests(check):
    # hots -> host is explained; username is missing for real, xyz suggests nothing
    c = check(settings_yaml(host=None, username=None, hots="smtp.example.com", xyz="1"))
    c.invalid()
    c.has(8, 5, "error", "unknown key 'hots' in smtp (did you mean 'host'?)", f"{SMTP}.hots")
    c.has(9, 5, "error", "unknown key 'xyz' in smtp (allowed:", f"{SMTP}.xyz")
    c.has(5, 5, "error", "missing required key 'username' in smtp", SMTP)
    assert not [ln for ln in c.lines if "missing required key 'host'" in ln]


def test_an_unrelated_unknown_key_leaves_the_missing_one_reported(check):
    c = check(settings_yaml(host=None, colour="blue"))
    c.invalid()
    c.has(5, 5, "error", "missing required key 'host' in smtp", SMTP)
    c.has(9, 5, "error", "unknown key 'colour' in smtp (allowed:", f"{SMTP}.colour")


def test_a_typo_in_verify_and_at_the_top_level(check):
    c = check("version: 1\nname: t\nverify:\n  mdoe: send\n  to: ops@example.com\n")
    c.invalid()
    c.has(4, 3, "error", "unknown key 'mdoe' in verify (did you mean 'mode'?)", "$.verify.mdoe")
    c = check("verison: 1\nname: t\n")
    c.invalid()
    assert [ln.split(": error: ")[1] for ln in c.lines] == [
        "unknown key 'verison' (did you mean 'version'?) [at $.verison]"
    ]


# ----- integers: YAML 1.2 core schema ---------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("0755", 755),  # decimal: a leading zero is not octal in YAML 1.2
        ("0587", 587),
        ("-007", -7),
        ("+25", 25),
        ("0o755", 0o755),
        ("0x1F", 31),
        ("0x24B", 587),
        ("007.5", 7.5),
        ("0b101", "0b101"),  # not in the core schema: a string
        ("1_000", "1_000"),
        ("0o8", "0o8"),
        ("0x", "0x"),
        ("'0755'", "0755"),
    ],
)
def test_integers_follow_the_yaml_1_2_core_schema(text, value):
    doc = parse_text(f"v: {text}\n")
    assert doc.problems == [] and doc.data == {"v": value} and type(doc.data["v"]) is type(value)


def test_the_digit_cap_holds_for_leading_zeros_too():
    doc = parse_text("v: " + "0" * MAX_INT_DIGITS + "7\n")
    assert [p.message for p in doc.problems] == [f"value is not a valid int (over {MAX_INT_DIGITS} digits)"]
    assert parse_text("v: " + "0" * (MAX_INT_DIGITS - 1) + "7\n").data == {"v": 7}


@pytest.mark.parametrize("port", ["0587", "0o1113", "0x24B"])
def test_a_port_written_with_a_leading_zero_octal_or_hex_is_that_number(check, port):
    c = check(settings_yaml(port=port))
    c.valid()
    assert c.loaded is not None and c.loaded.stack.controller is not None
    assert c.loaded.stack.controller.smtp.port == 587  # type: ignore[union-attr]


def test_a_string_field_read_as_a_number_says_to_quote_it(check):
    c = check(settings_yaml(username="007"))
    c.invalid()
    c.has(8, 15, "error", "username must be a string, not integer (put it in quotes to keep it as written)")
    check(settings_yaml(username="'007'")).valid()


def test_the_guide_says_what_happens_to_0755():
    text = " ".join((ROOT / "docs" / "stack-files.md").read_text(encoding="utf-8").split())
    assert "`port: 0755` is the integer 755" in text


# ----- the guide's sample validate output is a real run ----------------------------------


def test_the_guides_sample_validate_output_is_a_real_run():
    guide = (ROOT / "docs" / "stack-files.md").read_text(encoding="utf-8")
    m = re.search(r"```\n\$ smtp-iac validate (stacks/prod\.yaml)\n(.*?)```", guide, flags=re.S)
    assert m, "the guide's sample validate run (docs/stack-files.md)"
    exe = Path(sys.executable).parent / "smtp-iac"
    p = subprocess.run([str(exe), "validate", m.group(1)], cwd=SAMPLE, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stdout + p.stderr == m.group(2)
