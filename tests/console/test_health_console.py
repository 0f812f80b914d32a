"""Relay health in the console, in a real Chromium over the real service: the organization page
says whether its mail works (working, failing since with the failure class and the advice, a
certificate that expires soon, no settings at all, not checked yet), the tier map marks each
partner with the worst of its relays and how many of its organizations have no working mail,
each role within its reach (a partner admin sees no other partner's health, a mailer none), and
no page holds a relay password.

The results are real: ``monitor.run.check_health`` logs in to real aiosmtpd relays on loopback
(the seeded relay, and the same relay with a wrong password for initech), keeps them in the
store, and the pages read them back through ``GET /v1/health``."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from console_support import sign_in, text
from service_support import ACME, BLUE, CONTROLLER, GREEN, HQ, INITECH, TENANTS, relay_settings
from smtp_servers import TEST_PASSWORD
from test_console_security import signed_in

from smtp_iac.addresses import Address
from smtp_iac.console.health_view import TierHealth, org_line, when
from smtp_iac.monitor.run import check_health
from smtp_iac.relayhealth import Check, HealthReport, Relay, RelayHealth, Scope
from smtp_iac.verify.result import Audience, Failure, advice

WRONG = "Wrong-pw-9d1!not-the-relays"
LONE = Address("globex", "lone")  # a partner and organization with no record anywhere


def _health(svc):
    """initech's record on the seeded relay with a wrong password (its organization hq fails),
    and globex/lone with no record of its own or its partner's."""
    svc.store.load_tenants(TENANTS | {"partners": TENANTS["partners"] | {"globex": {"organizations": {"lone": {}}}}})
    svc.store.put(INITECH, relay_settings(svc.relay, password=WRONG), expected_version=1, stack=None, actor="t")
    return svc


def _check(svc) -> HealthReport:
    return check_health(svc.store, ca_file=str(svc.ca_file), timeout_seconds=5)


def _failing_line(report: HealthReport) -> str:
    (h,) = [h for h in report.relays if INITECH in h.relay.sources]
    assert h.last is not None and h.last.failure == "auth_failed" and h.failing_since is not None
    return f"Mail failing since {when(h.failing_since, datetime.now(UTC))}: auth_failed"


def _no_password(page) -> None:
    html = page.content()
    assert TEST_PASSWORD not in html and WRONG not in html


def _partner_cells(page) -> dict[str, str]:
    rows = page.locator("#h-partners ~ table tbody tr").all_inner_texts()
    return {r.split()[0]: " ".join(r.split()) for r in rows}


def test_organization_pages_and_the_tier_map_say_whose_mail_works(page, svc):
    _health(svc)
    sign_in(page, svc.tokens["sysadmin"])
    # before any check: the map and a page say so, and say nothing else
    assert "Not checked yet" in _partner_cells(page)["acme"]
    page.goto(f"/organizations/{BLUE}")
    assert "Not checked yet" in text(page)

    report = _check(svc)
    page.goto(f"/organizations/{HQ}")
    body = text(page)
    assert _failing_line(report) in body
    (bad,) = [h for h in report.relays if INITECH in h.relay.sources]
    assert bad.last is not None and bad.last.advice  # the stack file's words, kept with the result
    assert advice(Failure.AUTH_FAILED, Audience.FORM) in body  # the page says it in the form's
    assert "password reference" in bad.last.advice and "password reference" not in body
    assert page.get_by_role("note", name="Mail health").locator(".health-failing").count() == 1
    _no_password(page)

    page.goto(f"/organizations/{BLUE}")
    assert re.search(r"Mail working \(checked \d\d:\d\d UTC\)", text(page))
    _no_password(page)
    page.goto(f"/organizations/{LONE}")  # the controller default carries it
    assert "Mail working" in text(page)

    page.goto("/")
    cells = _partner_cells(page)
    assert "Mail failing" in cells["initech"] and "1 of 1 organization without working mail" in cells["initech"]
    assert "Mail working" in cells["acme"] and "0 of 2 organizations without working mail" in cells["acme"]
    assert "Mail working" in cells["globex"]
    body = text(page)
    assert "Its relay: Mail working · 0 of 3 organizations without working mail" in body  # blue, green, lone
    assert "1 of 4 organizations without working mail" in body
    assert _failing_line(report) in body  # the relay table, worst first
    _no_password(page)

    # what the store holds is what the pages say: a certificate 12 days from its end, then no controller
    kept = svc.store.relay_health()
    good = next(h for h in kept.values() if h.last is not None and h.last.ok)
    assert good.last is not None
    soon = replace(good.last, cert_not_after=datetime.now(UTC) + timedelta(days=12, hours=6))
    svc.store.save_relay_health([replace(good, last=soon)], whole=False)
    page.goto(f"/organizations/{BLUE}")
    assert "Certificate expires in 12 days" in text(page)
    assert page.get_by_role("note", name="Mail health").locator(".health-warning").count() == 1

    svc.store.delete(CONTROLLER, expected_version=1, stack=None, actor="t")
    _check(svc)
    page.goto(f"/organizations/{LONE}")
    assert "No SMTP settings apply: no mail" in text(page)
    page.goto("/")
    cells = _partner_cells(page)
    assert "No SMTP settings" in cells["globex"] and "1 of 1 organization without working mail" in cells["globex"]
    assert "2 of 4 organizations without working mail" in text(page)


def test_a_partner_admin_sees_the_health_of_its_own_partner_only(page, svc):
    _health(svc)
    _check(svc)
    sign_in(page, svc.tokens["partner-admin"])
    body = text(page)
    assert "Mail working · 0 of 2 organizations without working mail" in body
    assert list(_partner_cells(page)) == ["acme"]
    assert "initech" not in body and "globex" not in body
    assert "failing" not in body.lower() and "auth_failed" not in body
    _no_password(page)
    page.goto(f"/organizations/{GREEN}")
    assert "Mail working" in text(page)


def test_an_org_admin_sees_its_organizations_relay(page, svc):
    """green's mail goes through its partner's record, which its org admin may not read: the
    report of its one organization still has that relay, unnamed."""
    _health(svc)
    _check(svc)
    sign_in(page, svc.tokens["org-admin-off"])
    assert re.search(r"Mail working \(checked \d\d:\d\d UTC\)", text(page))
    _no_password(page)


def test_a_mailer_is_shown_no_health(svc):
    _health(svc)
    _check(svc)
    c, _ = signed_in(svc, "mailer")
    for path in ("/", f"/organizations/{HQ}"):
        r = c.get(path)
        assert r.status_code == 200
        assert "Relay health" not in r.text and "Mail health" not in r.text and "Mail failing" not in r.text


# ----- the words, apart from HTTP --------------------------------------------------------

T0 = datetime(2026, 12, 7, 10, 2, tzinfo=UTC)


def _relay(key: str, *orgs: tuple[str, int], sources: tuple[Address, ...] = (ACME,)) -> Relay:
    return Relay(key, f"{key}.example", 587, "starttls", "mailer", sources, orgs)


def _report(*healths: RelayHealth, bare: tuple[tuple[str, int], ...] = ()) -> HealthReport:
    total = sum(h.relay.carried for h in healths) + sum(n for _, n in bare)
    return HealthReport(Scope(), healths, bare, total, T0)


@pytest.mark.parametrize(
    ("health", "words"),
    [
        (RelayHealth(_relay("a", ("acme", 1))), "Not checked yet"),
        (RelayHealth(_relay("a", ("acme", 1)), Check(True, T0, 40)), "Mail working (checked 10:02 UTC)"),
        (
            RelayHealth(_relay("a", ("acme", 1)), Check(True, T0, 40, cert_not_after=T0 + timedelta(days=12.5))),
            "Certificate expires in 12 days",
        ),
        (
            RelayHealth(
                _relay("a", ("acme", 1)),
                Check(False, T0, 40, "auth_failed", "auth", "535 no", "Check the password."),
                T0 - timedelta(days=1, minutes=30),
            ),
            "Mail failing since 2026-12-06 09:32 UTC: auth_failed",
        ),
    ],
)
def test_the_organization_line_in_words(health, words):
    line = org_line(_report(health), str(ACME))
    assert line is not None and line.text == words
    nomail = org_line(_report(health), None)
    assert nomail is not None and nomail.text == "No SMTP settings apply: no mail" and nomail.notice == "error"
    assert org_line(None, str(ACME)) is None  # the caller sees no health: nothing said


def test_the_worst_relay_marks_a_partner_and_orgs_without_settings_count():
    ok = RelayHealth(_relay("ok", ("acme", 5), ("initech", 1)), Check(True, T0, 40))
    warn = RelayHealth(_relay("w", ("acme", 2)), Check(True, T0, 40, cert_not_after=T0 + timedelta(days=3)))
    unchecked = RelayHealth(_relay("u", ("initech", 4)))
    bad = RelayHealth(
        _relay("f", ("initech", 3), sources=(CONTROLLER,)), Check(False, T0, 9, "dns", "connect"), T0, None
    )
    hooli = RelayHealth(_relay("h", ("hooli", 1)), Check(True, T0, 40))
    th = TierHealth(_report(ok, warn, unchecked, bad, hooli, bare=(("globex", 2), ("hooli", 1))))
    acme, initech, globex = th.partner("acme"), th.partner("initech"), th.partner("globex")
    assert (acme.state, acme.text, acme.count_text) == (
        "warning",
        "Certificate expires in 3 days",
        "0 of 7 organizations without working mail",
    )
    assert (initech.state, initech.count_text) == ("failing", "3 of 8 organizations without working mail")
    assert (globex.state, globex.text, globex.count_text) == (
        "nomail",
        "No SMTP settings",
        "2 of 2 organizations without working mail",
    )
    assert (th.partner("hooli").state, th.partner("hooli").text) == ("nomail", "No SMTP settings for 1")
    assert th.partner("nobody").text == "No organizations"
    assert th.controller is not None and th.controller.state == "failing"
    assert (th.total.state, th.total.without_mail, th.total.organizations) == ("failing", 6, 19)
    assert [r.mark.state for r in th.relays()] == ["failing", "warning", "unchecked", "ok", "ok"]
