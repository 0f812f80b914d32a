"""``smtp-iac validate FILE... --format text|json|github``: content of each format, GitHub
workflow-command escaping, and SPEC's exit codes (0 valid, warnings allowed; 1 errors; 1 for
a file that cannot be read)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_iac.cli.app import run
from smtp_iac.cli.validate import github_annotation
from smtp_iac.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parents[1]
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
PASSWORD = "pl41n-t3xt-Passw0rd"

WARN_ONLY = """\
version: 1
name: warn
controller:
  smtp:
    host: 127.0.0.1
    port: 25
    tls: false
    username: mailer
    password: {env: SMTP_PASSWORD}
"""

BROKEN = f"""\
version: 1
name: broken
controller:
  smtp:
    host: smtp.example.com
    port: 70000
    tls: false
    username: mailer
    password: {PASSWORD}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "warn.yaml").write_text(WARN_ONLY)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "clean.yaml").write_text("version: 1\nname: clean\ncontroller:\n  smtp: inherit\n")
    return tmp_path


def cli(capsys, *args):
    rc = run(["validate", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


# ----- exit codes ---------------------------------------------------------------------------


def test_valid_with_warnings_exits_0(files, capsys):
    rc, out, _ = cli(capsys, files / "warn.yaml")
    assert rc == 0
    assert f"{files / 'warn.yaml'}:6:11: warning: port 25 is not recommended" in out
    assert f"{files / 'warn.yaml'}: valid (0 error(s), 2 warning(s))" in out


def test_clean_file_exits_0(files, capsys):
    rc, out, _ = cli(capsys, files / "clean.yaml")
    assert (rc, out.strip()) == (0, f"{files / 'clean.yaml'}: valid (0 error(s), 0 warning(s))")


def test_errors_exit_1(files, capsys):
    rc, out, _ = cli(capsys, files / "broken.yaml")
    assert rc == 1
    assert (
        f"{files / 'broken.yaml'}:6:11: error: port 70000 is out of range 1..65535 [at $.controller.smtp.port]" in out
    )
    assert f"{files / 'broken.yaml'}: invalid (2 error(s), 1 warning(s))" in out
    assert PASSWORD not in out


def test_one_bad_file_among_good_ones_exits_1_and_reports_all(files, capsys):
    rc, out, _ = cli(capsys, files / "clean.yaml", files / "broken.yaml", files / "warn.yaml")
    assert rc == 1
    summaries = re.findall(r"^(\S+): (valid|invalid) ", out, re.M)
    assert summaries == [
        (str(files / "clean.yaml"), "valid"),
        (str(files / "broken.yaml"), "invalid"),
        (str(files / "warn.yaml"), "valid"),
    ]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_missing_file_exits_1_with_a_located_message(tmp_path, capsys, fmt):
    missing = tmp_path / "nope.yaml"
    rc, out, _ = cli(capsys, "--format", fmt, missing)
    assert rc == 1
    assert "cannot read file" in out
    if fmt == "text":
        assert f"{missing}:1:1: error: cannot read file: No such file or directory [at $]" in out


def test_directory_exits_1(tmp_path, capsys):
    rc, out, _ = cli(capsys, tmp_path)
    assert rc == 1
    assert re.search(rf"^{re.escape(str(tmp_path))}:1:1: error: cannot read file", out, re.M)


def test_stacks_in_the_repository_are_valid(capsys):
    rc, out, _ = cli(capsys, ROOT / "stacks" / "dev.yaml", ROOT / "stacks" / "example.yaml")
    assert rc == 0, out
    assert " error: " not in out


@pytest.mark.parametrize("args", [[], ["--format", "yaml", "x.yaml"]], ids=["no-files", "bad-format"])
def test_usage_errors_exit_1_not_2(capsys, args):
    """2 means changes/drift to pipelines; a usage error must not look like it."""
    rc, out, err = cli(capsys, *args)
    assert rc == 1
    assert "Usage" in out + err or "Error" in out + err


# ----- json ---------------------------------------------------------------------------------


def test_json_format_content(files, capsys):
    rc, out, _ = cli(capsys, "--format", "json", files / "broken.yaml", files / "warn.yaml")
    assert rc == 1
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert doc["valid"] is False
    broken, warn = doc["files"]
    assert (broken["file"], broken["valid"]) == (str(files / "broken.yaml"), False)
    assert (warn["file"], warn["valid"]) == (str(files / "warn.yaml"), True)
    assert {"file", "line", "column", "severity", "message", "path"} == set(broken["diagnostics"][0])
    got = [(d["line"], d["column"], d["severity"], d["path"]) for d in broken["diagnostics"]]
    assert got == [
        (6, 11, "error", "$.controller.smtp.port"),
        (7, 10, "warning", "$.controller.smtp.tls"),
        (9, 15, "error", "$.controller.smtp.password"),
    ]
    assert all(d["file"] == str(files / "broken.yaml") for d in broken["diagnostics"])
    assert [d["severity"] for d in warn["diagnostics"]] == ["warning", "warning"]
    assert PASSWORD not in out


def test_json_says_what_the_error_budget_left_out_even_when_nothing(files, capsys):
    """``omitted`` (errors, warnings, at_least) is in every file's entry; the diagnostics carry it
    only on the one line that counts what is past the budget (tests/stackfile/test_limits.py)."""
    _, out, _ = cli(capsys, "--format", "json", files / "broken.yaml", files / "clean.yaml")
    for entry in json.loads(out)["files"]:
        assert entry["omitted"] == {"errors": 0, "warnings": 0, "at_least": False}
        assert all("omitted" not in d for d in entry["diagnostics"])


def test_json_valid_true_with_warnings_only(files, capsys):
    rc, out, _ = cli(capsys, "--format", "json", files / "warn.yaml")
    assert rc == 0
    assert json.loads(out)["valid"] is True


def test_json_stays_parseable_with_control_characters_in_keys(tmp_path, capsys):
    p = tmp_path / "ctl.yaml"
    p.write_text('version: 1\nname: ctl\npartners:\n  "ac\\r\\nme\\"x": {}\n')
    rc, out, _ = cli(capsys, "--format", "json", p)
    assert rc == 1
    (diag,) = json.loads(out)["files"][0]["diagnostics"]
    assert (diag["line"], diag["column"]) == (4, 3)
    assert "\n" not in diag["message"] and "\r" not in diag["path"]


# ----- github -------------------------------------------------------------------------------

GH = re.compile(r"^::(error|warning) file=([^,]*),line=(\d+),col=(\d+),title=([^:]*)::(.*)$")


def test_github_format_content(files, capsys):
    rc, out, _ = cli(capsys, "--format", "github", files / "broken.yaml")
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 3  # one workflow command per diagnostic, nothing else on stdout
    parsed = [GH.match(line).groups() for line in lines]
    assert parsed[0] == (
        "error",
        str(files / "broken.yaml"),
        "6",
        "11",
        "smtp-iac validate",
        "port 70000 is out of range 1..65535 [at $.controller.smtp.port]",
    )
    assert [p[0] for p in parsed] == ["error", "warning", "error"]
    assert PASSWORD not in out


def test_github_escapes_percent_and_newlines():
    d = Diagnostic("dir/a,b:c.yaml", 3, 7, "error", "100% wrong\r\nsecond line", "$.x")
    line = github_annotation(d)
    assert "\n" not in line and "\r" not in line
    assert line == (
        "::error file=dir/a%2Cb%3Ac.yaml,line=3,col=7,title=smtp-iac validate::100%25 wrong%0D%0Asecond line [at $.x]"
    )


def test_github_escaping_end_to_end(tmp_path, capsys):
    """A key with '%' and a file name with ',' reach the annotation escaped."""
    p = tmp_path / "x,y.yaml"  # the stem 'x,y' is no valid id, and no name: is given
    p.write_text('version: 1\npartners:\n  acme:\n    "50%off": {}\n')
    rc, out, _ = cli(capsys, "--format", "github", p)
    assert rc == 1
    escaped_file = str(p).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    lines = out.splitlines()
    assert (
        f"::error file={escaped_file},line=1,col=1,title=smtp-iac validate::"
        "the stack name defaults to the file's stem 'x,y'" in lines[0]
    )
    assert any(
        f"::error file={escaped_file},line=4,col=5," in line and "unknown key '50%25off'" in line for line in lines
    ), out


# ----- the real console script --------------------------------------------------------------


def test_console_script_exit_codes_and_streams(files):
    ok = subprocess.run(
        [str(SMTP_IAC), "validate", str(files / "warn.yaml")], capture_output=True, text=True, timeout=60
    )
    bad = subprocess.run(
        [str(SMTP_IAC), "validate", "--format", "json", str(files / "broken.yaml"), str(files / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "warning:" in ok.stdout
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert [f["valid"] for f in doc["files"]] == [False, False]
    assert "cannot read file" in doc["files"][1]["diagnostics"][0]["message"]
    for r in (ok, bad):
        assert "Traceback" not in r.stdout + r.stderr
        assert PASSWORD not in r.stdout + r.stderr
