"""`smtp-iac test-email FILE ADDRESS`: the check for one scope with the stack's verify options;
exit 0 ok / 1 failed; writes nothing; never prints the password."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from smtp_servers import TEST_PASSWORD

from smtp_iac.cli.app import run

pytestmark = pytest.mark.timeout(60)


def write_stack(
    tmp_path, ca_file, port: int, *, mode: str = "send", tls_mode: str = "starttls", username: str = "relay-user"
) -> str:
    shutil.copy(ca_file, tmp_path / "relay-ca.pem")
    (tmp_path / "stack.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        name: ci
        verify:
          mode: {mode}
          {"to: ops@example.com" if mode == "send" else ""}
          timeout_seconds: 1
          ca_file: relay-ca.pem
        partners:
          acme:
            smtp:
              host: 127.0.0.1
              port: {port}
              tls: true
              tls_mode: {tls_mode}
              username: {username}
              password: {{env: RELAY_PASSWORD}}
              sender: no-reply@acme.example
            organizations:
              eu:
                smtp: inherit
        """)
    )
    return str(tmp_path / "stack.yaml")


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELAY_PASSWORD", TEST_PASSWORD)
    return tmp_path


def files(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_ok_sends_the_test_email_and_writes_nothing(in_tmp, starttls_server, ca_file, capsys):
    stack = write_stack(in_tmp, ca_file, starttls_server.port)
    before = files(in_tmp)
    assert run(["test-email", stack, "partners/acme"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("partners/acme: ok (send check of 127.0.0.1:")
    [m] = starttls_server.messages
    assert m.message["Subject"] == "smtp-iac test email for partners/acme"
    assert files(in_tmp) == before  # no store, no key file, nothing
    assert TEST_PASSWORD not in out + err


def test_failure_exits_1_with_class_and_advice(in_tmp, starttls_server, ca_file, capsys, monkeypatch):
    monkeypatch.setenv("RELAY_PASSWORD", "wrong")
    stack = write_stack(in_tmp, ca_file, starttls_server.port)
    assert run(["test-email", stack, "partners/acme"]) == 1
    out, _ = capsys.readouterr()
    assert "verify failed: auth_failed at auth" in out
    assert "hint: Verify the SMTP credentials" in out


def test_json_format(in_tmp, implicit_server, ca_file, capsys):
    stack = write_stack(in_tmp, ca_file, implicit_server.port, tls_mode="starttls")
    assert run(["test-email", stack, "partners/acme", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["failure"] == "greeting_timeout" and doc["address"] == "partners/acme"
    assert "implicit-TLS port" in doc["advice"]
    assert doc["settings"]["port"] == implicit_server.port and "password" not in doc["settings"]
    assert TEST_PASSWORD not in out + err


def test_mode_off_still_checks_in_login_mode(in_tmp, starttls_server, ca_file, capsys):
    stack = write_stack(in_tmp, ca_file, starttls_server.port, mode="off")
    assert run(["test-email", stack, "partners/acme"]) == 0
    assert "login check" in capsys.readouterr().out
    assert starttls_server.stats.auth_attempts == 1 and starttls_server.messages == []


@pytest.mark.parametrize(
    "address,says",
    [
        ("partners/other", "does not manage this scope"),
        ("controller", "does not manage this scope"),
        ("partners/acme/organizations/eu", "inherit"),
        ("partners/Bad_Id", "invalid"),
    ],
)
def test_scope_without_settings_is_an_error(address, says, in_tmp, starttls_server, ca_file, capsys):
    stack = write_stack(in_tmp, ca_file, starttls_server.port)
    assert run(["test-email", stack, address]) == 1
    assert says in capsys.readouterr().err
    assert starttls_server.stats.sessions == 0


def test_missing_secret_is_an_error_without_traceback(in_tmp, starttls_server, ca_file, capsys, monkeypatch):
    monkeypatch.delenv("RELAY_PASSWORD")
    stack = write_stack(in_tmp, ca_file, starttls_server.port)
    assert run(["test-email", stack, "partners/acme"]) == 1
    err = capsys.readouterr().err
    assert "RELAY_PASSWORD" in err and "Traceback" not in err
