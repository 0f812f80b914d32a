"""The SMTP form as a person meets it, in a real Chromium over the real service and real relays:
a test message with no From address is refused in the form's words before any connection; a
Send Test Email without a recipient says it only logged in; the TLS mode field follows the TLS
switch (and the server ignores it while TLS is off); a pass with TLS off warns of clear text;
the form is grouped (Connection, Authentication, Sender) with the result beside its button,
in view at 1280x800; times are readable, local to the reader, exact on hover."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from console_support import sign_in, text
from service_support import ACME, BLUE, relay_settings
from smtp_servers import TEST_PASSWORD, TEST_TO, TEST_USER, smtp_server
from test_console_security import signed_in

from smtp_iac.console.forms import NO_FROM
from smtp_iac.console.results import CLEAR_TEXT, LOGIN_ONLY

STACK_WORDS = re.compile(r"verify\.(from|to|ca_file)|tls_mode:|tls: (true|false)|password reference")
"""A stack file's keys, which the console's advice never names."""


def _form(page, port: int, *, tls: bool = True, sender: str = "", to: str = "") -> None:
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(port))
    page.get_by_label("TLS", exact=True).set_checked(tls)
    page.get_by_label("Username").fill(TEST_USER)  # not a mail address: it cannot be the From
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_label("Sender (From address, optional)").fill(sender)
    page.get_by_label("Test recipient (optional)").fill(to)


def _result(page, words: str) -> str:
    result = page.locator("#check-result")
    result.get_by_text(words).first.wait_for()
    return " ".join(result.inner_text().split())


def test_a_test_message_without_a_from_address_is_refused_in_the_forms_words(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    _form(page, svc.relay.port, to=TEST_TO)
    sessions, sent = svc.relay.stats.sessions, len(svc.relay.messages)
    page.get_by_role("button", name="Send Test Email").click()
    said = _result(page, "No From address")
    assert NO_FROM in said and "fill in Sender" in said and "nothing was sent" in said
    assert "sender_rejected" not in said and not STACK_WORDS.search(said)
    assert (svc.relay.stats.sessions, len(svc.relay.messages)) == (sessions, sent)  # no connection at all

    page.get_by_role("button", name="Save").click()  # Save says the same, and writes nothing
    page.wait_for_load_state()
    body = text(page)
    assert f"Nothing was saved. {NO_FROM}" in body and not STACK_WORDS.search(body)
    assert page.get_by_label("Sender (From address, optional)").get_attribute("aria-invalid") == "true"
    assert svc.store.get(ACME).version == 1 and svc.relay.stats.sessions == sessions

    # with a Sender, the same form sends
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_label("Sender (From address, optional)").fill("alerts@acme.example")
    page.get_by_role("button", name="Send Test Email").click()
    assert "Test passed: test email sent." in _result(page, "Test passed")
    assert svc.relay.messages[-1].mail_from == "alerts@acme.example"


def test_send_test_email_without_a_recipient_says_it_only_logged_in(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    _form(page, svc.relay.port, sender="alerts@acme.example")
    sent = len(svc.relay.messages)
    page.get_by_role("button", name="Send Test Email").click()
    said = _result(page, LOGIN_ONLY)
    assert f"{LOGIN_ONLY}. Fill in Test recipient to also send a test message." in said
    assert "test email sent" not in said and CLEAR_TEXT not in said  # TLS on: no warning
    assert len(svc.relay.messages) == sent


def test_tls_mode_follows_the_tls_switch_and_a_clear_text_pass_warns(page, svc):
    with smtp_server(tls="none") as plain:
        svc.store.put(ACME, relay_settings(plain, tls=False), expected_version=1, stack=None, actor="t")
        sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
        mode, hint = page.get_by_label("TLS mode"), page.locator("#tls_mode-hint")
        assert mode.is_disabled() and "TLS is off" in hint.inner_text()  # on load: the record has TLS off
        assert "TLS is off: the Username and Password go to this relay in clear text" in text(page)
        page.get_by_label("TLS", exact=True).check()
        assert mode.is_enabled() and "TLS is off" not in hint.inner_text()
        page.get_by_label("TLS", exact=True).uncheck()
        assert mode.is_disabled()

        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Send Test Email").click()
        said = _result(page, LOGIN_ONLY)
        assert CLEAR_TEXT in said and "(TLS: none)" in said
        warning = page.locator("#check-result .notice.warn")
        assert warning.count() == 1 and warning.is_visible()


def test_the_server_ignores_tls_mode_while_tls_is_off(svc):
    """Without the script the field still posts: the API gets no tls_mode with tls false."""
    with smtp_server(tls="none") as plain:
        c, csrf = signed_in(svc, "partner-admin")
        form = {"csrf": csrf, "action": "save", "host": "127.0.0.1", "port": str(plain.port), "version": "1"}
        form |= {"username": TEST_USER, "password": TEST_PASSWORD, "tls_mode": "implicit"}  # no "tls": off
        r = c.post(f"/scopes/{ACME}", data=form)
        assert r.status_code == 303, r.text
        record = svc.store.get(ACME)
        assert (record.version, record.tls, record.tls_mode) == (2, False, None)


def test_the_form_is_grouped_and_its_result_is_in_view(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/scopes/{ACME}")
    for legend, labels in {
        "Connection": ("Host", "Port", "TLS", "TLS mode"),
        "Authentication": ("Username", "Password"),
        "Sender": ("Sender (From address, optional)", "Test recipient (optional)"),
    }.items():
        group = page.get_by_role("group", name=legend)
        for label in labels:
            assert group.get_by_label(label, exact=True).count() == 1, (legend, label)
    assert page.evaluate("document.documentElement.scrollHeight") < 1300  # was 1,570 in one column

    button = page.get_by_role("button", name="Send Test Email")
    result = page.locator("#check-result")
    form, side = page.locator("#smtp-form").bounding_box(), button.bounding_box()
    assert side["x"] > form["x"] + form["width"]  # beside the form, at 1280 px
    page.get_by_label("Password").fill("Wrong-4c1!not-it")
    page.evaluate("window.scrollTo(0, 0)")
    button.click()
    result.get_by_text("Test failed: auth_failed").wait_for()
    said = " ".join(result.inner_text().split())
    assert "Check that the Password is the current one" in said and not STACK_WORDS.search(said)
    headline = result.locator("strong").first.bounding_box()
    assert headline is not None and headline["y"] >= 0 and headline["y"] + headline["height"] <= 800
    assert button.bounding_box()["y"] < headline["y"]  # the result right below its button

    page.set_viewport_size({"width": 420, "height": 900})  # narrow: one column, the result after the form
    form, side = page.locator("#smtp-form").bounding_box(), button.bounding_box()
    assert side["y"] > form["y"] + form["height"] - 1


@pytest.mark.parametrize(("zone", "shown"), [("Europe/Berlin", r"\d\d:\d\d (CET|GMT\+1)"), ("UTC", r"\d\d:\d\d UTC")])
def test_times_are_readable_local_and_exact_on_hover(browser, svc, zone, shown):
    context = browser.new_context(base_url=svc.url, timezone_id=zone)
    try:
        page = context.new_page()
        sign_in(page, svc.tokens["sysadmin"], then=f"/scopes/{ACME}")
        at = page.locator("#h-now ~ p time")
        exact = at.get_attribute("title")
        written = svc.store.get(ACME).updated_at
        assert exact == at.get_attribute("datetime") and exact is not None and exact.endswith("Z")
        assert datetime.fromisoformat(exact.replace("Z", "+00:00")) == written.astimezone(UTC)
        seen = at.inner_text()
        assert re.fullmatch(rf"\d{{1,2}} [A-Z][a-z]{{2}} \d{{4}}, {shown}", seen), seen
        local = written.astimezone(ZoneInfo(zone))  # the reader's zone, to the minute: no seconds
        assert seen.startswith(f"{local.day} {local:%b %Y, %H:%M} "), (seen, local)
        page.goto(f"/organizations/{BLUE}")
        cells = page.locator("#h-audit ~ table tbody time")
        assert cells.count() >= 1 and cells.first.get_attribute("title").endswith("Z")
    finally:
        context.close()


def test_without_a_script_times_are_readable_utc(svc):
    c, _ = signed_in(svc, "sysadmin")
    html = c.get(f"/scopes/{ACME}").text
    written = svc.store.get(ACME).updated_at.astimezone(UTC)
    readable = f"{written.day} {written:%b %Y, %H:%M} UTC"
    assert f">{readable}</time>" in html
    assert f'title="{written.isoformat().replace("+00:00", "Z")}"' in html


def test_the_tier_map_names_each_partners_relay(page, svc):
    svc.store.delete(ACME, expected_version=1, stack=None, actor="t")
    sign_in(page, svc.tokens["sysadmin"])
    rows = {r.split()[0]: " ".join(r.split()) for r in page.locator("#h-partners ~ table tbody tr").all_inner_texts()}
    relay = f"127.0.0.1:{svc.relay.port}"
    assert relay in rows["initech"] and "inherits" not in rows["initech"]
    assert f"inherits controller ({relay})" in rows["acme"]  # no record of its own

    with httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.tokens['sysadmin']}"}) as api:
        items = api.get("/v1/tiermap/partners").json()["items"]
    assert {i["partner"]: (i["host"], i["port"]) for i in items} == {
        "acme": (None, None),
        "initech": ("127.0.0.1", svc.relay.port),
    }
