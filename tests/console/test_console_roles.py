"""Each role signs in through the real form in a real Chromium and is offered what it may do,
no more: the tier map for those who read it, an org admin on its organization, the platform's
advice (and no form) where the SMTP switch is off, and no way into another partner's pages."""

from __future__ import annotations

import pytest
from console_support import sign_in, text
from service_support import ACME, BLUE, GREEN, HQ, INITECH


def test_a_bad_token_is_not_signed_in(page, svc):
    sign_in(page, "smtp-iac_nope_nope")
    assert page.url.endswith("/signin")
    assert "Not signed in: That token was not accepted: not an smtp-iac token." in text(page)
    sign_in(page, svc.tokens["revoked"])
    assert "the token is revoked" in text(page)


def test_sysadmin_sees_every_tier_and_who_manages_it(page, svc):
    sign_in(page, svc.tokens["sysadmin"])
    assert page.url == svc.url + "/"
    body = text(page)
    assert "Signed in as sysadmin (sysadmin)" in body
    assert f"Controller default 127.0.0.1:{svc.relay.port}" in body
    assert "Partners 1–2 of 2" in body and "Organizations 1–3 of 3" in body
    rows = {r.split()[0]: r for r in page.locator("#h-orgs ~ table tbody tr").all_inner_texts()}
    assert set(rows) == {"blue", "green", "hq"}
    # the tier in force, in words (readable without colour): blue uses its own record,
    # green has its switch off so its partner's applies, hq has no record of its own
    assert "organization" in rows["blue"] and "on" in rows["blue"]
    assert "partner" in rows["green"] and "off" in rows["green"]
    assert "partner" in rows["hq"] and "no record" in rows["hq"]


def test_partner_admin_sees_its_partner_only_and_cannot_reach_another(page, svc):
    sign_in(page, svc.tokens["partner-admin"])
    body = text(page)
    assert "Partners 1–1 of 1" in body and "initech" not in body
    assert "Organizations 1–2 of 2" in body
    # the controller's non-secret fields, read-only: no link to a form it may not use
    page.goto("/scopes/controller")
    assert page.get_by_label("Host").count() == 0
    assert "it does not change it" in text(page)
    for path in (f"/scopes/{INITECH}", f"/organizations/{HQ}", f"/scopes/{HQ}", "/?partner=initech"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        assert "Not available to you" in text(page)
        assert "partners/acme" in text(page)  # the reason names its own reach, not what lies beyond
    response = page.goto("/scopes/partners/nonexistent")
    assert response is not None and response.status == 403  # judged before any lookup: nothing leaks
    page.goto(f"/scopes/{ACME}")
    assert page.get_by_label("Host").is_visible()


def test_org_admin_lands_on_its_organization(page, svc):
    sign_in(page, svc.tokens["org-admin"])
    assert page.url == f"{svc.url}/organizations/{BLUE}"
    body = text(page)
    assert "Mail goes out with" in body and "its own settings" in body
    assert page.get_by_role("button", name="Switch organization SMTP off").count() == 0  # not its switch
    page.get_by_role("link", name="SMTP Configuration of this organization").click()
    assert page.get_by_label("Host").input_value() == "127.0.0.1"
    assert page.get_by_label("Password").input_value() == ""  # write-only: never filled back
    response = page.goto("/")
    assert response is not None and page.url.endswith(f"/organizations/{BLUE}")  # no tier map for it


def test_org_admin_with_the_switch_off_gets_the_advice_and_no_form(page, svc):
    sign_in(page, svc.tokens["org-admin-off"])
    assert page.url.endswith(f"/organizations/{GREEN}")
    assert "contact your partner admin or system administrator" in text(page)
    assert page.get_by_role("link", name="SMTP Configuration of this organization").count() == 0
    page.goto(f"/scopes/{GREEN}")
    assert "contact your partner admin or system administrator" in text(page)
    assert page.get_by_label("Host").count() == 0
    assert page.get_by_role("button", name="Save").count() == 0


@pytest.mark.parametrize("role", ["viewer", "mailer"])
def test_roles_that_do_not_write_are_offered_no_form(page, svc, role):
    sign_in(page, svc.tokens[role])
    body = text(page)
    assert "Organizations 1–3 of 3" in body
    if role == "mailer":  # reads effective settings only: no records, no partners
        assert "Controller default" not in body and "Partners" not in body
        response = page.goto(f"/scopes/{ACME}")
        assert response is not None and response.status == 403
    else:
        page.goto(f"/scopes/{ACME}")
        assert page.get_by_label("Host").count() == 0
    page.goto(f"/organizations/{BLUE}")
    assert page.get_by_role("button", name="Switch organization SMTP off").count() == 0


def test_partner_admin_switches_an_organization_on(page, svc):
    sign_in(page, svc.tokens["partner-admin"], then=f"/organizations/{GREEN}")
    assert "The SMTP switch is off" in text(page)
    page.get_by_role("button", name="Switch organization SMTP on").click()
    assert "Organization-level SMTP is now on." in text(page)
    assert svc.store.find_org(str(GREEN)).smtp_enabled is True
    entries = svc.store.audit_log(address=GREEN)
    assert entries[-1].actor == "partner-admin (partner-admin of partners/acme)"
    # and the audit trail on the page shows it
    assert "enable-smtp" in text(page)


def test_keyboard_alone_signs_in(page, svc):
    page.goto("/signin")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(10):  # Tab from the top of the page until the Token field has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "token":
            break
    else:
        raise AssertionError("the Token field cannot be reached with Tab")
    page.keyboard.type(svc.tokens["viewer"])
    page.keyboard.press("Enter")
    page.wait_for_url(svc.url + "/")
    assert "Signed in as viewer" in text(page)
