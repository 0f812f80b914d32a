"""``{file: PATH}`` as an attacker's pull request writes it (SPEC "Stack file", hostile input).

Before: ``password: {file: .smtp-iac/store.db.key}`` validated, and apply logged in to the
stack's own relay with the store key as the password; a FIFO hung plan forever. Each case
runs the real CLI in a git checkout (a ``.git`` directory marks the repository root) whose
store lives inside the repository, as the quick start makes it, against a real loopback relay
that counts AUTH attempts: a refused reference must never reach it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from workflow_helpers import CONSOLE_SCRIPT, PASSWORD, USER, Workspace, settings, stack_doc

from smtp_iac.reading.filerefs import ENV_SECRET_DIRS, MAX_SECRET_FILE


@pytest.fixture
def repo(ws: Workspace, monkeypatch) -> Workspace:
    """The workspace as a checkout: ``.git`` at its root, the store in ``.smtp-iac/`` inside it
    (key in a key file beside the database), tenants loaded."""
    (ws.dir / ".git").mkdir()
    ws.db = ws.dir / ".smtp-iac" / "store.db"
    ws.url = f"sqlite:///{ws.db}"
    monkeypatch.setenv("SMTP_IAC_STORE", ws.url)
    monkeypatch.delenv(ENV_SECRET_DIRS, raising=False)
    ws.load_tenants()
    assert Path(f"{ws.db}.key").is_file()
    return ws


def _stack_with_file(ws: Workspace, relay, ca_file, ref: str) -> str:
    smtp = settings(relay.port)
    smtp["password"] = {"file": ref}
    return ws.write_stack(stack_doc(ca_file, controller=smtp))


def _refused_everywhere(ws: Workspace, relay, f: str, expect: str) -> None:
    """validate, plan and apply each refuse, naming the problem; the relay sees no AUTH and
    the store key appears in no output."""
    r = ws.run("validate", f)  # diagnostics go to stdout
    assert r.rc == 1 and expect in r.out, r.both
    assert f"{f}:" in r.out and "[at $.controller.smtp.password.file]" in r.out, r.both
    for args in (("plan", f), ("apply", f, "--yes")):
        r = ws.run(*args)
        assert r.rc == 1 and expect in r.err, (args, r.both)
        assert "Traceback" not in r.err
    assert relay.stats.auth_attempts == 0
    key = Path(f"{ws.db}.key").read_text().strip()
    assert all(key not in out for out in ws.outputs)
    assert ws.record("controller") is None


@pytest.mark.parametrize(
    "ref",
    [
        "../.smtp-iac/store.db.key",  # relative, inside the repository: still the store's key
        "../.smtp-iac/store.db",  # the database itself
        "../.smtp-iac/./store.db.key",
    ],
)
def test_the_store_key_and_database_are_never_read(repo, relay, ca_file, ref):
    f = _stack_with_file(repo, relay, ca_file, ref)
    _refused_everywhere(repo, relay, f, "is the store's database or key file")


def test_absolute_path_to_the_store_key(repo, relay, ca_file):
    f = _stack_with_file(repo, relay, ca_file, f"{repo.db}.key")
    _refused_everywhere(repo, relay, f, "is the store's database or key file")


def test_symlink_to_the_store_key_is_resolved_first(repo, relay, ca_file):
    (repo.dir / "stacks").mkdir(exist_ok=True)
    (repo.dir / "stacks" / "innocent.txt").symlink_to(f"{repo.db}.key")
    f = _stack_with_file(repo, relay, ca_file, "innocent.txt")
    _refused_everywhere(repo, relay, f, "is the store's database or key file")


def test_hard_link_to_the_store_key_is_caught_by_inode(repo, relay, ca_file):
    (repo.dir / "stacks").mkdir(exist_ok=True)
    os.link(f"{repo.db}.key", repo.dir / "stacks" / "copy.txt")
    f = _stack_with_file(repo, relay, ca_file, "copy.txt")
    _refused_everywhere(repo, relay, f, "is the store's database or key file")


def test_the_store_named_by_store_flag_is_protected_at_plan_time(repo, relay, ca_file, monkeypatch):
    """validate cannot know a --store given later; plan and apply check the store they opened."""
    other = repo.dir / "other" / "store.db"
    monkeypatch.delenv("SMTP_IAC_STORE")
    url = f"sqlite:///{other}"
    assert repo.run("tenants", "load", repo.write_tenants(), "--store", url).rc == 0
    f = _stack_with_file(repo, relay, ca_file, "../other/store.db.key")
    assert repo.run("validate", f).rc == 0
    for args in (("plan", f), ("apply", f, "--yes")):
        r = repo.run(*args, "--store", url)
        assert r.rc == 1 and "is the store's database or key file" in r.err, r.both
    assert relay.stats.auth_attempts == 0


@pytest.mark.parametrize("ref", ["/etc/hostname", "../../outside.txt", "../../../../../../../etc/passwd"])
def test_outside_the_repository(repo, relay, ca_file, ref, tmp_path):
    (tmp_path / "outside.txt").write_text(PASSWORD)
    f = _stack_with_file(repo, relay, ca_file, ref)
    _refused_everywhere(repo, relay, f, "outside the stack's repository")


def test_symlink_leading_out_of_the_repository(repo, relay, ca_file, tmp_path):
    (tmp_path / "outside.txt").write_text(PASSWORD)
    (repo.dir / "stacks").mkdir(exist_ok=True)
    (repo.dir / "stacks" / "pw.txt").symlink_to(tmp_path / "outside.txt")
    f = _stack_with_file(repo, relay, ca_file, "pw.txt")
    _refused_everywhere(repo, relay, f, "outside the stack's repository")


def test_secret_dirs_allow_a_pipeline_mount(repo, relay, ca_file, tmp_path, monkeypatch):
    """SMTP_IAC_SECRET_DIRS (the pipeline's, not the stack's) opens a directory outside the
    repository; the file is read and the write goes through."""
    mount = tmp_path / "run-secrets"
    mount.mkdir()
    (mount / "smtp").write_text(PASSWORD + "\n")
    f = _stack_with_file(repo, relay, ca_file, str(mount / "smtp"))
    assert repo.run("validate", f).rc == 1
    monkeypatch.setenv(ENV_SECRET_DIRS, f"relative/ignored{os.pathsep}{mount}")
    assert repo.run("validate", f).rc == 0
    r = repo.run("apply", f, "--yes")
    assert r.rc == 0, r.both
    assert repo.record("controller").username == USER
    assert relay.stats.auth_attempts == 1


def test_inside_the_repository_above_the_stack_directory(repo, relay, ca_file):
    """The repository is the git root, not the stacks/ directory: ../secrets/pw is allowed."""
    (repo.dir / "secrets").mkdir()
    (repo.dir / "secrets" / "pw").write_text(PASSWORD + "\n")
    f = _stack_with_file(repo, relay, ca_file, "../secrets/pw")
    r = repo.run("apply", f, "--yes")
    assert r.rc == 0, r.both


def test_without_git_the_stack_directory_is_the_limit(repo, relay, ca_file):
    (repo.dir / ".git").rmdir()
    (repo.dir / "secrets").mkdir()
    (repo.dir / "secrets" / "pw").write_text(PASSWORD + "\n")
    f = _stack_with_file(repo, relay, ca_file, "../secrets/pw")
    _refused_everywhere(repo, relay, f, "outside the stack's repository")


def test_a_fifo_is_refused_without_blocking(repo, relay, ca_file):
    """Before: plan blocked forever on the FIFO. The console script runs with a timeout; it
    must finish by itself with the error."""
    (repo.dir / "stacks").mkdir(exist_ok=True)
    os.mkfifo(repo.dir / "stacks" / "pw.fifo")
    f = _stack_with_file(repo, relay, ca_file, "pw.fifo")
    _refused_everywhere(repo, relay, f, "is a FIFO (named pipe), not a regular file")
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "plan", f], cwd=repo.dir, capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 1 and "FIFO" in done.stderr


def test_a_directory_is_refused(repo, relay, ca_file):
    (repo.dir / "stacks").mkdir(exist_ok=True)
    (repo.dir / "stacks" / "pw.d").mkdir()
    f = _stack_with_file(repo, relay, ca_file, "pw.d")
    _refused_everywhere(repo, relay, f, "is a directory, not a regular file")


def test_a_file_that_swaps_to_a_fifo_after_validate_is_refused_when_read(repo, relay, ca_file):
    """The check is made again when the file is read, on the open descriptor."""
    (repo.dir / "stacks").mkdir(exist_ok=True)
    pw = repo.dir / "stacks" / "pw"
    pw.write_text(PASSWORD)
    f = _stack_with_file(repo, relay, ca_file, "pw")
    assert repo.run("validate", f).rc == 0
    from smtp_iac.errors import FileRefused
    from smtp_iac.reading.stackfile import load

    loaded = load(repo.dir / f)
    pw.unlink()
    os.mkfifo(pw)
    with pytest.raises(FileRefused, match="FIFO"):
        loaded.files.read("pw", what="password reference file:pw", limit=MAX_SECRET_FILE)


def test_size_cap(repo, relay, ca_file):
    (repo.dir / "stacks").mkdir(exist_ok=True)
    (repo.dir / "stacks" / "big").write_bytes(b"x" * (MAX_SECRET_FILE + 1))
    f = _stack_with_file(repo, relay, ca_file, "big")
    assert repo.run("validate", f).rc == 0  # size is a read-time limit
    r = repo.run("plan", f)
    assert r.rc == 1 and f"is larger than {MAX_SECRET_FILE} bytes" in r.err, r.both


def test_missing_file_passes_validate_and_fails_plan(repo, relay, ca_file):
    """A secret file is written by the pipeline that applies, never committed: validate (in a
    pull request) does not ask for it; plan does."""
    f = _stack_with_file(repo, relay, ca_file, "not-yet")
    r = repo.run("validate", f)
    assert r.rc == 0 and "valid (0 error(s), 0 warning(s))" in r.out, r.both
    r = repo.run("plan", f)
    assert r.rc == 1 and "password reference file:not-yet: No such file or directory" in r.err, r.both


def test_ca_file_may_be_outside_but_not_a_fifo(repo, relay, ca_file):
    """verify.ca_file is trust anchors, never sent: it may live outside the repository (as the
    ca_file fixture does here), but a FIFO or the store key is still refused."""
    smtp = settings(relay.port)
    f = repo.write_stack(stack_doc(ca_file, controller=smtp))
    assert repo.run("validate", f).rc == 0
    os.mkfifo(repo.dir / "ca.fifo")
    doc = stack_doc(repo.dir / "ca.fifo", controller=smtp)
    f = repo.write_stack(doc)
    r = repo.run("validate", f)
    assert r.rc == 1 and "is a FIFO" in r.out and "[at $.verify.ca_file]" in r.out, r.both


def test_ca_file_fifo_at_check_time_does_not_hang(tmp_path):
    """The check reads verify.ca_file under the same rule when it builds its TLS context (a
    FIFO put there after validate would otherwise block before any deadline starts)."""
    from smtp_iac.errors import UsageError
    from smtp_iac.verify.tlsctx import client_context

    os.mkfifo(tmp_path / "ca.fifo")
    with pytest.raises(UsageError, match=r"is a FIFO \(named pipe\), not a regular file"):
        client_context("ca.fifo", tmp_path)
    (tmp_path / "not-pem").write_text("hello")
    with pytest.raises(UsageError, match="cannot be loaded"):
        client_context("not-pem", tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_files_a_command_is_pointed_at_are_read_safely(repo, kind):
    """A pull request cannot commit a FIFO, but it can commit a symlink: a tenants file or a
    saved plan that is a FIFO or a link to /dev/zero is refused at once, never read forever."""
    for name in ("tenants.yaml", "plan.json"):
        target = repo.dir / name
        if kind == "fifo":
            os.mkfifo(target)
        else:
            target.symlink_to("/dev/zero")
    r = repo.run("tenants", "load", "tenants.yaml")
    assert r.rc == 1 and "cannot read tenants file tenants.yaml: is " in r.err and "not a regular file" in r.err
    r = repo.run("apply", "plan.json", "--yes")
    assert r.rc == 1 and "plan.json: cannot read plan: is " in r.err and "not a regular file" in r.err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_stack_file_that_is_not_a_regular_file(repo, kind):
    """validate runs on every file a pull request adds under stacks/: a symlink to /dev/zero
    (or a FIFO on a runner) is one located error, not an endless read."""
    (repo.dir / "stacks").mkdir(exist_ok=True)
    target = repo.dir / "stacks" / "evil.yaml"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    for args in (("validate", "stacks/evil.yaml"), ("plan", "stacks/evil.yaml")):
        r = repo.run(*args)
        assert r.rc == 1 and "stacks/evil.yaml:1:1: error: cannot read file: is a " in r.both, r.both
        assert "not a regular file" in r.both
