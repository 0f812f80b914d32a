"""The platform's form in a real Chromium: Send Test Email against a real aiosmtpd relay (a pass and
a classified failure), Save (checked first, then in the store), a scope a stack manages (the
warning before Save, then the change in ``smtp-iac drift``), and the password never coming back."""

from __future__ import annotations

import json

import yaml
from console_support import sign_in, text
from service_support import ACME, BLUE, relay_settings
from smtp_servers import TEST_PASSWORD, TEST_SENDER, TEST_TO, TEST_USER

from smtp_iac.cli.app import run

WRONG = "Wrong-9d2c!not-the-password"


def fill(page, relay, *, password: str = "", username: str = TEST_USER, **extra: str) -> None:
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(relay.port))
    page.get_by_label("TLS", exact=True).check()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    for label, value in extra.items():
        page.get_by_label(label).fill(value)


def test_send_test_email_passes_then_fails_with_its_class_and_advice(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    fill(page, svc.relay, password=TEST_PASSWORD, **{"Test recipient (optional)": TEST_TO})
    sent_before = len(svc.relay.messages)
    page.get_by_role("button", name="Send Test Email").click()
    result = page.locator("#check-result")
    result.get_by_text("Test passed").wait_for()
    assert "Test passed: test email sent." in result.inner_text()
    assert len(svc.relay.messages) == sent_before + 1  # the relay really took a test message
    assert page.get_by_label("Password").input_value() == TEST_PASSWORD  # the script kept the page as typed

    page.get_by_label("Password").fill(WRONG)
    page.get_by_role("button", name="Send Test Email").click()
    result.get_by_text("Test failed: auth_failed").wait_for()
    said = " ".join(result.inner_text().split())
    assert "Verify the SMTP hostname, port, and credentials are correct." in said  # the platform's troubleshooting
    assert WRONG not in said and TEST_PASSWORD not in said
    assert svc.store.get(ACME).version == 1  # a test writes nothing


def test_without_a_script_the_page_comes_back_with_the_result_and_no_password(browser, svc):
    context = browser.new_context(base_url=svc.url, java_script_enabled=False)
    page = context.new_page()
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if "text/html" in r.headers.get("content-type", "") else None)
    try:
        sign_in(page, svc.tokens["sysadmin"], then=f"/scopes/{ACME}")
        fill(page, svc.relay, password=WRONG)
        page.get_by_role("button", name="Send Test Email").click()
        page.wait_for_load_state()
        body = text(page)
        assert "Test failed: auth_failed" in body
        assert "You typed a password: it was not sent back" in body
        assert page.get_by_label("Password").input_value() == ""
        assert page.get_by_label("Username").input_value() == TEST_USER  # the rest of the form as typed
        assert bodies and not any(WRONG in b or TEST_PASSWORD in b for b in bodies)
    finally:
        context.close()


def test_save_checks_first_writes_nothing_on_failure_then_writes(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    assert "Saving changes the mail of 1 organization" in text(page)  # green (switch off) inherits acme's
    fill(page, svc.relay, password=WRONG, username=TEST_USER)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Nothing was saved." in text(page) and "Test failed: auth_failed" in text(page)
    assert svc.store.get(ACME).version == 1
    assert svc.store.audit_log(address=ACME)[-1].outcome == "verify_failed"

    fill(page, svc.relay, password="", **{"Sender (From address, optional)": "alerts@acme.example"})
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Saved: version 2 is in force." in text(page)
    record = svc.store.get(ACME)
    assert (record.version, record.sender, record.managed_by) == (2, "alerts@acme.example", None)
    assert record.password_fingerprint == svc.store.fingerprint(
        record.address, TEST_PASSWORD
    )  # the empty field kept it
    assert record.updated_by == "partner-admin (partner-admin of partners/acme)"


def test_a_new_relay_needs_the_password_again(page, svc):
    sign_in(page, svc.tokens["org-admin"], then=f"/scopes/{BLUE}")
    page.get_by_label("Port").fill("2525")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    assert "required when host, port, TLS or username change" in text(page)
    assert svc.store.get(BLUE).version == 1


def test_a_scope_a_stack_manages_warns_and_the_change_shows_as_drift(page, svc, tmp_path, monkeypatch, capsys):
    svc.store.put(ACME, relay_settings(svc.relay), expected_version=1, stack="prod", adopt=True, actor="pipeline")
    monkeypatch.setenv("CONSOLE_PW", TEST_PASSWORD)
    stack = tmp_path / "prod.yaml"
    smtp = {
        "host": "127.0.0.1",
        "port": svc.relay.port,
        "tls": True,
        "username": TEST_USER,
        "password": {"env": "CONSOLE_PW"},
        "sender": TEST_SENDER,
    }
    stack.write_text(yaml.safe_dump({"version": 1, "name": "prod", "partners": {"acme": {"smtp": smtp}}}))

    def drift() -> tuple[int, dict]:
        capsys.readouterr()
        rc = run(["drift", str(stack), "--store", svc.store_url, "--format", "json"])
        return rc, json.loads(capsys.readouterr().out)

    rc, _ = drift()
    assert rc == 0

    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    assert "managed by stack prod: a change here will show as drift" in text(page)
    page.get_by_label("Sender (From address, optional)").fill("console@acme.example")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Saved: version 3 is in force." in text(page)
    record = svc.store.get(ACME)
    assert (record.sender, record.managed_by) == ("console@acme.example", "prod")  # out of band: prod keeps it

    rc, report = drift()
    assert rc == 2
    assert str(ACME) in json.dumps(report) and "console@acme.example" in json.dumps(report)
