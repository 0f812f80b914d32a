"""The pipeline files users copy: ``examples/github/*.yml`` (GitHub Actions) and
``.pre-commit-hooks.yaml``. Each parses; every ``smtp-iac`` command they run exists with the
options they give it (``--help`` through the console script, and click parsing the very
arguments); the pull-request workflow comments in every case and fails the job only after;
the pre-commit hook's entry runs on a stack file; the guide's excerpts (docs/pipelines.md) are the files' own lines."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from smtp_iac.cli.app import cli

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / "examples" / "github"
WORKFLOWS = ("smtp-plan.yml", "smtp-apply.yml", "smtp-drift.yml")
HOOKS = ROOT / ".pre-commit-hooks.yaml"
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"
_SHELL_STOP = {">", "2>", "|", "||", "&&", ";", "2>&1", ">&2"}


def _workflow(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((GITHUB / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and "jobs" in doc, name
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 (PyYAML) reads the key `on` as true
    return doc


def _steps(name: str) -> list[dict[str, Any]]:
    (job,) = _workflow(name)["jobs"].values()
    return list(job["steps"])


def _smtp_iac_commands(script: str) -> list[list[str]]:
    """Each ``smtp-iac ...`` invocation in a step's shell script, up to its redirection."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while "smtp-iac" in words:
            words = words[words.index("smtp-iac") + 1 :]
            cmd = []
            for w in words:
                if w in _SHELL_STOP or w.startswith((">", "2>")):
                    break
                cmd.append(w)
            out.append(cmd)
    return out


def _all_commands() -> list[tuple[str, list[str]]]:
    return [(n, c) for n in WORKFLOWS for s in _steps(n) for c in _smtp_iac_commands(s.get("run", ""))]


def test_each_workflow_parses_and_runs_the_commands_it_is_for():
    used = {(n, c[0]) for n, c in _all_commands()}
    assert {("smtp-plan.yml", "validate"), ("smtp-plan.yml", "plan")} <= used
    assert ("smtp-apply.yml", "apply") in used and ("smtp-drift.yml", "drift") in used
    for name in WORKFLOWS:
        doc = _workflow(name)
        assert doc["on"], name
        for step in _steps(name):
            assert "run" in step or "uses" in step, (name, step)


@pytest.mark.parametrize("command", sorted({c[0] for _, c in _all_commands()}))
def test_every_smtp_iac_command_in_the_workflows_exists(command):
    p = subprocess.run([str(SMTP_IAC), command, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and f"Usage: smtp-iac {command}" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("where,args", _all_commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_option_the_workflows_give_is_one_the_cli_takes(where, args):
    """click parses the workflow's own arguments: an unknown option or a bad --format choice fails."""
    command = cli.get_command(click.Context(cli), args[0])
    assert command is not None, args
    with click.Context(cli, obj=None) as parent:
        command.make_context(args[0], [a.replace("*", "dev") for a in args[1:]], parent=parent)


def test_the_plan_comment_is_posted_in_every_case_and_the_job_fails_after_it():
    steps = _steps("smtp-plan.yml")
    names = [s.get("name", s.get("uses", s.get("run", ""))) for s in steps]
    idx = {k: next(i for i, s in enumerate(steps) if s.get("id") == k) for k in ("validate", "plan")}
    comment = next(i for i, s in enumerate(steps) if "gh pr comment" in s.get("run", ""))
    fail = next(i for i, s in enumerate(steps) if s.get("run", "").strip() == "exit 1")
    # validate and plan may fail without skipping the comment: they continue on error
    assert steps[idx["validate"]]["continue-on-error"] is True
    assert steps[idx["plan"]]["continue-on-error"] is True
    assert "--format github" in steps[idx["validate"]]["run"]
    assert "--format markdown --out plan.json" in steps[idx["plan"]]["run"]
    assert steps[comment]["if"] == "always()", names
    assert idx["validate"] < idx["plan"] < comment < fail, names
    cond = steps[fail]["if"]
    assert "steps.plan.outcome" in cond and "steps.validate.outcome" in cond and "always()" in cond
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "steps.plan.outcome == 'success'" and upload["with"]["path"] == "plan.json"


def test_apply_applies_the_reviewed_artifact_and_drift_opens_an_issue_on_exit_2():
    steps = _steps("smtp-apply.yml")
    dl = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/download-artifact"))
    assert steps[dl]["with"]["name"] == "smtp-plan"
    apply = next(i for i, s in enumerate(steps) if "smtp-iac apply plan.json --yes" in s.get("run", ""))
    assert dl < apply
    steps = _steps("smtp-drift.yml")
    issue = next(s for s in steps if "gh issue create" in s.get("run", ""))
    assert issue["if"] == "steps.drift.outputs.rc == '2'"
    assert "schedule" in _workflow("smtp-drift.yml")["on"]


def test_pre_commit_hook_entry_runs_on_the_files_it_selects(tmp_path):
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert hook["id"] == "smtp-iac-validate" and hook["language"] == "python"
    assert hook["entry"] == "smtp-iac validate"
    files = re.compile(hook["files"])
    assert files.search("stacks/prod.yaml") and files.search("stacks/dev.yml")
    assert not files.search("examples/dev-tenants.yaml") and not files.search("README.md")
    # the entry, run as pre-commit runs it (the selected file names appended)
    entry = shlex.split(hook["entry"])
    exe = str(Path(sys.executable).parent / entry[0])
    stacks = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "stacks").glob("*.y*ml"))]
    assert stacks and all(files.search(s) for s in stacks)
    ok = subprocess.run([exe, *entry[1:], *stacks], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "stacks" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("version: 1\ncontroller:\n  smtp: inherted\n", encoding="utf-8")
    p = subprocess.run([exe, *entry[1:], str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "did you mean 'inherit'?" in p.stdout + p.stderr


def _readme_excerpts() -> list[tuple[str, list[str]]]:
    """Code blocks of the user guide (docs/pipelines.md) that start with ``# <path> (excerpt)``:
    (path, the other lines)."""
    text = (ROOT / "docs" / "pipelines.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```ya?ml\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").splitlines()
        m = re.fullmatch(r"# (\S+) \(excerpt\)", lines[0]) if lines else None
        if m:
            out.append((m.group(1), lines[1:]))
    return out


def test_the_guides_excerpts_are_the_files_own_lines():
    excerpts = _readme_excerpts()
    assert {p for p, _ in excerpts} >= {f"examples/github/{n}" for n in WORKFLOWS} | {".pre-commit-hooks.yaml"}
    for path, lines in excerpts:
        have = (ROOT / path).read_text(encoding="utf-8").splitlines()
        n = len(lines)
        assert any(have[i : i + n] == lines for i in range(len(have) - n + 1)), f"docs/pipelines.md excerpt of {path}"
