"""The local sink: in-process (start_sink) in each TLS mode, and `smtp-iac sink` as a real
process stopped with SIGTERM. It accepts any AUTH and never shows a password."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.errors import UsageError
from smtp_iac.models import ResolvedSettings, VerifyOptions
from smtp_iac.verify import run_check
from smtp_iac.verify.sink import start_sink

pytestmark = pytest.mark.timeout(60)
SECRET = "sink-Secret-9x!pw"


def sink_settings(handle, **kw) -> ResolvedSettings:
    fields = dict(
        host="127.0.0.1",
        port=handle.port,
        tls=handle.tls != "none",
        tls_mode=None if handle.tls == "none" else handle.tls,
        username="anyone",
        password=SecretStr(SECRET),
        sender="no-reply@example.com",
    )
    fields.update(kw)
    return ResolvedSettings(**fields)


@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
def test_sink_receives_a_verified_message(tls, tmp_path):
    with start_sink("127.0.0.1", 0, tls=tls, cert_dir=tmp_path / "certs") as sink:
        assert sink.port > 0
        assert (sink.ca_file is None) == (tls == "none")
        opts = VerifyOptions(
            mode="send", to="ops@example.com", timeout_seconds=5, ca_file=str(sink.ca_file) if sink.ca_file else None
        )
        r = run_check(sink_settings(sink), opts, address=Address.parse("partners/acme"))
        assert r.ok, r.detail
        [m] = sink.messages
    assert m.auth_user == "anyone" and m.tls == (tls != "none")
    assert m.mail_from == "no-reply@example.com" and m.rcpt_tos == ("ops@example.com",)
    assert m.header("Subject") == "smtp-iac test email for partners/acme"
    assert SECRET not in repr(m) and SECRET.encode() not in m.data


def test_sink_tls_certificate_is_verified_not_skipped(tmp_path):
    with start_sink("127.0.0.1", 0, tls="starttls", cert_dir=tmp_path) as sink:
        opts = VerifyOptions(mode="login", timeout_seconds=5)  # no ca_file: must not be trusted
        r = run_check(sink_settings(sink), opts, address=Address.parse("controller"))
    assert r.failure == "cert_verify"


def test_sink_refuses_a_non_loopback_address():
    with pytest.raises(UsageError):
        start_sink("0.0.0.0", 0)
    with pytest.raises(UsageError):
        start_sink("127.0.0.1", 0, tls="ssl")


def test_sink_command_prints_envelope_and_headers_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", "from smtp_iac.cli import main; main()", "sink", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = proc.stdout.readline()
        port = int(re.search(r"port (\d+)", first).group(1))
        handle = type("H", (), {"port": port, "tls": "none"})()
        opts = VerifyOptions(mode="send", to="ops@example.com", timeout_seconds=5)
        r = run_check(sink_settings(handle), opts, address=Address.parse("partners/acme/organizations/eu"))
        assert r.ok, r.detail
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("X-Smtp-Iac-Verify"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = first + "".join(lines) + out
    assert proc.returncode == 0, err
    assert "MAIL FROM: <no-reply@example.com>" in text
    assert "RCPT TO:   <ops@example.com>" in text
    assert "Subject: smtp-iac test email for partners/acme/organizations/eu" in text
    assert "AUTH as anyone" in text
    assert "sink stopped: 1 message(s) received" in text
    assert SECRET not in text + err
