"""Bounded work on hostile stack files (hostile input), through the real console script: the node
budget (one located error, nothing more read), the error budget (the first ERROR_BUDGET
diagnostics in file order, then ONE line that counts the rest, in text, json and github), and
stacks of realistic size that stay valid. How fast is measured by
``benchmarks/validate_limits.py``, never asserted here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_iac.diagnostics import ERROR_BUDGET
from smtp_iac.errors import UsageError
from smtp_iac.reading import nodebudget, rules, yamlsource
from smtp_iac.reading.stackfile import read_bytes

ROOT = Path(__file__).resolve().parents[2]
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
ORGS = "version: 1\nname: t\npartners:\n  acme:\n    organizations:\n"  # organizations from line 6
SETTINGS = "host: smtp.example.com, port: 587, tls: true, username: u, password: {env: P}"


def validate(*args: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(SMTP_IAC), "validate", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stdout + r.stderr
    return r


def diagnostics(file: Path, out: str) -> list[tuple[int, int, str, str]]:
    """(line, column, severity, message) of each ``FILE:LINE:COL: SEVERITY: MESSAGE [at PATH]`` line."""
    pattern = re.compile(rf"^{re.escape(str(file))}:(\d+):(\d+): (error|warning): (.*) \[at \$.*\]$", re.M)
    return [(int(m[1]), int(m[2]), m[3], m[4]) for m in pattern.finditer(out)]


# ----- node budget ---------------------------------------------------------------------------


def flow_list(items: int) -> tuple[str, int]:
    """A stack whose controller is a flow list of ``items`` scalars; and the 1-based column of
    the list's item that is node MAX_NODES + 1 (7 nodes come before the items: the document,
    version, 1, name, t, controller, the list)."""
    head = "version: 1\nname: t\ncontroller: ["
    over = nodebudget.MAX_NODES + 1 - 7  # its number among the items
    return head + "1," * (items - 1) + "1]\n", len("controller: [") + 2 * (over - 1) + 1


def test_the_node_over_the_budget_is_refused_where_it_stands(tmp_path):
    text, column = flow_list(yamlsource.MAX_NODES)  # 7 + MAX_NODES nodes: 7 over
    f = tmp_path / "big.yaml"
    f.write_text(text)
    r = validate(f)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{f}:3:{column}: error: too many YAML nodes: more than {yamlsource.MAX_NODES:,} keys and values "
        "(a 20,000-organization stack has 110,000; a larger platform's pipeline may raise the budget with "
        "SMTP_IAC_MAX_NODES) [at $]",
        f"{f}: invalid (1 error(s), 0 warning(s))",
    ]


def test_the_last_node_within_the_budget_is_read(monkeypatch):
    monkeypatch.setattr(nodebudget, "MAX_NODES", 50)
    text, column = flow_list(50 - 7)
    assert yamlsource.parse_text(text).problems == []
    text, column = flow_list(50 - 7 + 1)
    assert [(p.line, p.column) for p in yamlsource.parse_text(text).problems] == [(3, column)]


def test_a_pipeline_raises_the_node_budget_with_its_variable(monkeypatch):
    monkeypatch.setattr(nodebudget, "MAX_NODES", 50)
    monkeypatch.setenv(yamlsource.NODES_ENV, "60")
    text, _ = flow_list(60 - 7)
    assert yamlsource.parse_text(text).problems == []
    problems = yamlsource.parse_text(flow_list(60 - 7 + 1)[0]).problems
    assert [p.message.split(" (")[0] for p in problems] == ["too many YAML nodes: more than 60 keys and values"]
    assert yamlsource.parse_text(text, max_nodes=55).problems != []  # a caller's own budget comes first


@pytest.mark.parametrize("value", ["abc", "100", "749999", "8000001", "1e6", "-800000", "\u0668" * 6, "800_000"])
def test_a_node_budget_that_is_not_a_number_in_range_is_a_usage_error(value):
    with pytest.raises(UsageError, match="SMTP_IAC_MAX_NODES must be a whole number from 750,000 to 8,000,000"):
        yamlsource.node_budget({yamlsource.NODES_ENV: value})
    assert yamlsource.node_budget({yamlsource.NODES_ENV: " 1000000 "}) == 1_000_000
    assert yamlsource.node_budget({}) == yamlsource.node_budget({yamlsource.NODES_ENV: ""}) == yamlsource.MAX_NODES


def test_validate_says_what_is_wrong_with_the_node_budget(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("version: 1\nname: t\n")
    r = subprocess.run(
        [str(SMTP_IAC), "validate", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", yamlsource.NODES_ENV: "lots"},
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: SMTP_IAC_MAX_NODES must be a whole number"), r.stderr


# ----- error budget ----------------------------------------------------------------------------


def unknown_keys(n: int) -> str:
    """A complete controller record and ``n`` unknown keys, one a line from line 10."""
    keys = "".join(f"    k{i:04d}: 1\n" for i in range(n))
    return (
        "version: 1\nname: t\ncontroller:\n  smtp:\n    host: smtp.example.com\n    port: 587\n"
        "    tls: true\n    username: u\n    password: {env: P}\n" + keys
    )


@pytest.fixture
def over_budget(tmp_path) -> Path:
    f = tmp_path / "over.yaml"
    f.write_text(unknown_keys(ERROR_BUDGET + 200))
    return f


def test_text_lists_the_first_diagnostics_then_counts_the_rest(over_budget):
    r = validate(over_budget)
    assert r.returncode == 1
    found = diagnostics(over_budget, r.stdout)
    assert len(found) == ERROR_BUDGET + 1
    assert found[:ERROR_BUDGET] == [
        (
            10 + i,
            5,
            "error",
            f"unknown key 'k{i:04d}' in smtp (allowed: host, password, port, sender, tls, tls_mode, username)",
        )
        for i in range(ERROR_BUDGET)
    ]
    last = ERROR_BUDGET - 1
    assert found[-1] == (
        10 + last,
        5,
        "error",
        f"200 more error(s) and 0 more warning(s) not listed (only the first {ERROR_BUDGET:,} diagnostics are; "
        "fix those and run again)",
    )
    assert r.stdout.splitlines()[-1] == f"{over_budget}: invalid ({ERROR_BUDGET + 200} error(s), 0 warning(s))"


def test_json_lists_the_first_diagnostics_then_one_that_counts_the_rest(over_budget):
    r = validate("--format", "json", over_budget)
    assert r.returncode == 1
    (entry,) = json.loads(r.stdout)["files"]
    assert entry["valid"] is False
    assert entry["omitted"] == {"errors": 200, "warnings": 0, "at_least": False}
    *listed, note = entry["diagnostics"]
    assert len(listed) == ERROR_BUDGET
    assert [(d["line"], d["path"]) for d in listed] == [
        (10 + i, f"$.controller.smtp.k{i:04d}") for i in range(ERROR_BUDGET)
    ]
    assert all("omitted" not in d for d in listed)
    assert note["omitted"] == entry["omitted"]
    assert note["severity"] == "error" and note["message"].startswith("200 more error(s)")


def test_github_annotates_the_first_diagnostics_then_one_that_counts_the_rest(over_budget):
    r = validate("--format", "github", over_budget)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == ERROR_BUDGET + 1
    assert lines[0].startswith(f"::error file={over_budget},line=10,col=5,title=smtp-iac validate::unknown key 'k0000'")
    assert lines[-1].startswith(
        f"::error file={over_budget},line={10 + ERROR_BUDGET - 1},col=5,title=smtp-iac validate::"
        "200 more error(s) and 0 more warning(s) not listed"
    )


def mixed(n: int) -> tuple[str, list[tuple[int, int, str]]]:
    """``n`` organization lines, one diagnostic each, of four kinds in turn: a schema error
    (port), an invisible character (host), a duplicate key (read by the YAML reader) and a
    warning (tls: false); and where each diagnostic stands, in file order."""
    lines, expected = [], []
    hidden = '"smtp.exa\u200bmple.com"'  # a ZERO WIDTH SPACE, written as a YAML escape
    for i in range(n):
        line_no = 6 + i
        if i % 4 == 0:
            line = f"      o{i}: {{smtp: {{{SETTINGS.replace('587', '70000')}}}}}"
            expected.append((line_no, line.index("70000") + 1, "error"))
        elif i % 4 == 1:
            line = f"      o{i}: {{smtp: {{{SETTINGS.replace('smtp.example.com', hidden)}}}}}"
            expected.append((line_no, line.index(hidden) + 1, "error"))
        elif i % 4 == 2:
            line = f"      o{i - 1}: {{smtp: inherit}}"  # the key of the line before, again
            expected.append((line_no, 7, "error"))
        else:
            line = f"      o{i}: {{smtp: {{{SETTINGS.replace('tls: true', 'tls: false')}}}}}"
            expected.append((line_no, line.index("false") + 1, "warning"))
        lines.append(line)
    return ORGS + "\n".join(lines) + "\n", expected


def test_the_diagnostics_listed_are_the_first_in_file_order_whatever_found_them(tmp_path):
    text, expected = mixed(2 * ERROR_BUDGET)
    f = tmp_path / "mixed.yaml"
    f.write_text(text, encoding="utf-8")
    r = validate(f)
    found = diagnostics(f, r.stdout)
    assert [d[:3] for d in found[:ERROR_BUDGET]] == expected[:ERROR_BUDGET]
    rest = expected[ERROR_BUDGET:]
    errors = sum(severity == "error" for _, _, severity in rest)
    assert found[-1][3].startswith(f"{errors} more error(s) and {len(rest) - errors} more warning(s) not listed")
    total = sum(severity == "error" for _, _, severity in expected)
    assert r.stdout.splitlines()[-1] == f"{f}: invalid ({total} error(s), {len(expected) - total} warning(s))"


def test_failing_parts_past_the_budget_are_counted_as_at_least_one_error_each(tmp_path):
    bad = SETTINGS.replace("587", "70000")
    f = tmp_path / "ports.yaml"
    lines = [f"      o{i}: {{smtp: {{{bad}}}}}" for i in range(ERROR_BUDGET + 500)]
    f.write_text(ORGS + "\n".join(lines) + "\n")
    r = validate(f)
    found = diagnostics(f, r.stdout)
    assert [d[:2] for d in found[:ERROR_BUDGET]] == [(6 + i, line.index("70000") + 1) for i, line in enumerate(lines)][
        :ERROR_BUDGET
    ]
    assert found[-1][3].startswith("at least 500 more error(s) and 0 more warning(s) not listed")
    assert r.stdout.splitlines()[-1] == f"{f}: invalid (at least {ERROR_BUDGET + 500} error(s), 0 warning(s))"
    r = validate("--format", "json", f)
    assert json.loads(r.stdout)["files"][0]["omitted"] == {"errors": 500, "warnings": 0, "at_least": True}


def test_the_reader_keeps_the_first_problems_and_counts_the_rest():
    text = "version: 1\nname: t\n" + "name: t\n" * (ERROR_BUDGET + 7)
    doc = yamlsource.parse_text(text)
    assert [p.line for p in doc.problems] == list(range(3, 3 + ERROR_BUDGET))
    assert doc.omitted == 7


def test_a_warning_only_file_past_the_budget_stays_valid(tmp_path):
    warn = SETTINGS.replace("tls: true", "tls: false")
    f = tmp_path / "warn.yaml"
    f.write_text(ORGS + "".join(f"      o{i}: {{smtp: {{{warn}}}}}\n" for i in range(ERROR_BUDGET + 3)))
    r = validate(f)
    assert r.returncode == 0
    assert diagnostics(f, r.stdout)[-1][2:] == (
        "warning",
        f"0 more error(s) and 3 more warning(s) not listed (only the first {ERROR_BUDGET:,} diagnostics are; "
        "fix those and run again)",
    )
    assert r.stdout.splitlines()[-1] == f"{f}: valid (0 error(s), {ERROR_BUDGET + 3} warning(s))"


def test_an_error_past_the_budget_still_makes_the_file_invalid():
    warn = SETTINGS.replace("tls: true", "tls: false")
    text = ORGS + "".join(f"      o{i}: {{smtp: {{{warn}}}}}\n" for i in range(ERROR_BUDGET)) + "      O: {}\n"
    loaded, diags = read_bytes(text.encode(), "late.yaml")
    assert loaded is None
    assert all(d.severity == "warning" for d in diags[:-1])
    assert diags[-1].severity == "error" and diags[-1].omitted is not None and diags[-1].omitted.errors == 1


# ----- no quadratic paths in messages ----------------------------------------------------------


def test_a_huge_key_is_not_repeated_whole_in_messages_or_paths(tmp_path):
    big = "P" * 200_000
    f = tmp_path / "key.yaml"
    f.write_text(
        "version: 1\nname: t\npartners:\n  ? "
        + big
        + "\n  :\n    organizations:\n"
        + "".join(f"      o{i}: {{smtp: {{{SETTINGS.replace('587', '0')}}}}}\n" for i in range(50))
    )
    r = validate(f)
    assert r.returncode == 1
    assert len(diagnostics(f, r.stdout)) == 51
    assert max(map(len, r.stdout.splitlines())) < 500


def test_many_internationalized_hosts_are_checked_up_to_a_limit(check, monkeypatch):
    monkeypatch.setattr(rules, "MAX_IDN_HOSTS", 3)
    orgs = "".join(
        f"      o{i}: {{smtp: {{{SETTINGS.replace('smtp.example.com', f'smtp.bücher{i}.example')}}}}}\n"
        for i in range(6)
    )
    c = check(ORGS + orgs)
    c.invalid()
    assert [(d.line, d.message) for d in c.errors] == [
        (
            9,
            "more than 3 different internationalized host names in one stack (each costs an IDNA 2008 check); "
            "split the stack",
        )
    ]


# ----- realistic stacks stay valid -------------------------------------------------------------


def test_the_benchmark_platform_of_20000_organizations_is_valid(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from platform_gen import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    text = generate().stack_yaml
    f = tmp_path / "bench.yaml"
    f.write_text(text)
    r = validate(f)
    assert (r.returncode, r.stdout.strip()) == (0, f"{f}: valid (0 error(s), 0 warning(s))")
