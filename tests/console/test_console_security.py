"""The console as an attacker meets it, over a real HTTP client: cookie flags, forms refused
without their CSRF value or from another origin, a forged or altered cookie, a revoked token
ending its session, sign-in that returns only to the console's own pages, no secret in any
page, and the security headers."""

from __future__ import annotations

import re

import httpx
import pytest
from service_support import ACME, GREEN

from smtp_iac.console.session import SESSION_COOKIE

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def signed_in(svc, role: str, **kw) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=svc.url, timeout=30, **kw)
    csrf = CSRF.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"csrf": csrf, "token": svc.tokens[role], "next": ""})
    assert r.status_code == 303, r.text
    page = c.get(f"/scopes/{ACME}")
    return c, CSRF.search(page.text).group(1)


def test_the_session_cookie_is_httponly_strict_and_sealed(svc):
    c = httpx.Client(base_url=svc.url)
    csrf = CSRF.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"csrf": csrf, "token": svc.tokens["sysadmin"]})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    secret = svc.tokens["sysadmin"].split("_", 2)[2]
    assert secret not in cookie and svc.tokens["sysadmin"] not in cookie  # the token travels sealed


def test_sign_in_needs_the_forms_own_value(svc):
    c = httpx.Client(base_url=svc.url)
    r = c.post("/signin", data={"token": svc.tokens["sysadmin"]})
    assert r.status_code == 400 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    c.get("/signin")  # a login cookie, but the value of another form
    r = c.post("/signin", data={"token": svc.tokens["sysadmin"], "csrf": "0" * 64})
    assert r.status_code == 400 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({}, {}),  # no CSRF value
        ({"csrf": "forged"}, {}),
        (None, {"Origin": "https://evil.example"}),  # the right value, from another site
        (None, {"Sec-Fetch-Site": "cross-site"}),
    ],
)
def test_forms_without_their_csrf_value_or_from_elsewhere_are_refused(svc, data, headers):
    c, csrf = signed_in(svc, "partner-admin")
    form = {"action": "save", "host": "127.0.0.1", "port": "2525", "tls": "on", "username": "u", "password": "p"}
    form |= {"csrf": csrf} if data is None else data
    r = c.post(f"/scopes/{ACME}", data=form, headers=headers)
    assert r.status_code == 403 and "Form refused" in r.text
    r = c.post(
        f"/organizations/{GREEN}/smtp",
        data={"enabled": "on"} | ({"csrf": csrf} if data is None else data),
        headers=headers,
    )
    assert r.status_code == 403
    assert svc.store.get(ACME).version == 1 and svc.store.find_org(str(GREEN)).smtp_enabled is False


def test_a_forged_or_altered_cookie_is_no_session(svc):
    c, _ = signed_in(svc, "sysadmin")
    real = c.cookies[SESSION_COOKIE]
    for value in ("", "x" * 5000, real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB"), "gAAAA" + real[5:40]):
        jar = httpx.Client(base_url=svc.url, cookies={SESSION_COOKIE: value})
        r = jar.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/signin"), value[:20]


def test_a_revoked_token_ends_its_session_at_once(svc):
    c, _ = signed_in(svc, "partner-admin")
    assert c.get("/").status_code == 200
    token_id = svc.tokens["partner-admin"].split("_")[1]
    svc.store.revoke_token(token_id, actor="test")
    r = c.get("/")
    assert r.status_code == 303 and "ended=" in r.headers["location"]
    assert f'{SESSION_COOKIE}=""' in r.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/v1/scopes/controller"]
)
def test_sign_in_returns_only_to_console_pages(svc, target):
    c = httpx.Client(base_url=svc.url)
    csrf = CSRF.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"csrf": csrf, "token": svc.tokens["sysadmin"], "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_a_link_from_a_report_comes_back_after_sign_in(svc):
    c = httpx.Client(base_url=svc.url)
    r = c.get(f"/scopes/{ACME}")
    assert r.status_code == 303 and r.headers["location"] == f"/signin?next=/scopes/{ACME}"
    page = c.get(r.headers["location"])
    csrf = CSRF.search(page.text).group(1)
    r = c.post("/signin", data={"csrf": csrf, "token": svc.tokens["sysadmin"], "next": f"/scopes/{ACME}"})
    assert r.headers["location"] == f"/scopes/{ACME}"


def test_pages_carry_security_headers_and_no_secret(svc):
    c, csrf = signed_in(svc, "sysadmin")
    pages = [c.get(p) for p in ("/", f"/scopes/{ACME}", "/scopes/controller", f"/organizations/{GREEN}")]
    r = c.post(
        f"/scopes/{ACME}",
        data={
            "csrf": csrf,
            "action": "test",
            "host": "127.0.0.1",
            "port": str(svc.relay.port),
            "tls": "on",
            "username": "relay-user",
            "password": "Typed-Secret-41!",
        },
    )
    pages.append(r)
    for p in pages:
        assert p.status_code == 200
        csp = p.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert p.headers["x-frame-options"] == "DENY" and p.headers["cache-control"] == "no-store"
        assert "Typed-Secret-41!" not in p.text
        for token in svc.tokens.values():
            assert token.split("_", 2)[2] not in p.text


def test_a_hostile_form_gets_field_errors_not_a_crash(svc):
    c, csrf = signed_in(svc, "sysadmin")
    for form in (
        {"host": "a\r\nRCPT TO:<x@y>", "port": "587", "username": "u", "password": "p"},
        {"host": "127.0.0.1", "port": "99999999999", "username": "u"},
        {"host": "", "port": "x", "username": ""},
        {"host": "h" * 5000, "port": "587", "username": "u\x00", "password": "p"},
    ):
        r = c.post(f"/scopes/{ACME}", data={"csrf": csrf, "action": "save", "tls": "on"} | form)
        assert r.status_code == 422, form
        assert 'aria-invalid="true"' in r.text, form  # each refused field is marked where it stands
    assert svc.store.get(ACME).version == 1


def test_hostile_sign_in_values_are_answered_not_crashed(svc):
    c = httpx.Client(base_url=svc.url)
    for token in ("é", "smtpiac_0123456789ab_" + "é" * 43, "١٢٣", "x" * 5000, "smtpiac_\r\nX-Evil: 1"):
        csrf = CSRF.search(c.get("/signin").text).group(1)
        r = c.post("/signin", data={"csrf": csrf, "token": token})
        assert r.status_code == 401 and "not an smtp-iac token" in r.text, token[:20]


def test_a_non_ascii_version_is_no_version(svc):
    c, csrf = signed_in(svc, "sysadmin")
    form = {"csrf": csrf, "action": "save", "host": "127.0.0.1", "port": str(svc.relay.port), "tls": "on"}
    r = c.post(f"/scopes/{ACME}", data=form | {"username": "relay-user", "version": "²"})
    assert r.status_code == 422 and "Nothing was saved" in r.text  # taken as a create: the record exists
    assert svc.store.get(ACME).version == 1


def test_the_sign_in_page_says_only_its_own_words(svc):
    c = httpx.Client(base_url=svc.url)
    r = c.get("/signin", params={"ended": "Your console moved: sign in at https://evil.example/login"})
    assert "evil.example" not in r.text and "the service no longer accepts the token" in r.text
    assert "the token was revoked" in c.get("/signin", params={"ended": "revoked"}).text


def test_a_refused_post_without_a_session_returns_to_the_start(svc):
    r = httpx.post(f"{svc.url}/organizations/{GREEN}/smtp", data={"enabled": "on"})
    assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_names_read_from_the_store_are_shown_escaped(svc):
    from service_support import relay_settings

    svc.store.put(ACME, relay_settings(svc.relay), expected_version=1, stack=None, actor="eve\u202egnp.exe")
    c, _ = signed_in(svc, "sysadmin")
    page = c.get(f"/scopes/{ACME}").text
    assert "\u202e" not in page and "eve\\u202egnp.exe" in page


def test_a_read_only_role_that_posts_anyway_is_told_why(svc):
    c, csrf = signed_in(svc, "viewer")
    form = {"csrf": csrf, "action": "save", "host": "127.0.0.1", "port": "587", "tls": "on", "username": "u"}
    r = c.post(f"/scopes/{ACME}", data=form | {"password": "p", "version": "1"})
    assert r.status_code == 422 and "only reads" in r.text  # the API's own reason
    assert svc.store.get(ACME).version == 1


def test_console_pages_are_logged_with_the_token_and_no_secret(svc, caplog):
    import json
    import logging
    import time

    caplog.set_level(logging.INFO, logger="smtp_iac")
    c, csrf = signed_in(svc, "partner-admin")
    form = {"csrf": csrf, "action": "test", "host": "127.0.0.1", "port": str(svc.relay.port), "tls": "on"}
    c.post(f"/scopes/{ACME}", data=form | {"username": "relay-user", "password": "Logged-Never-77!"})
    deadline = time.monotonic() + 10  # lines are written in batches, within a quarter of a second
    while True:
        messages = [r.getMessage() for r in caplog.records]
        lines = [json.loads(ln) for m in messages for ln in m.splitlines() if ln.startswith("{")]
        page = [ln for ln in lines if ln["route"] == "/scopes/{address:path}" and ln["method"] == "POST"]
        if page or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert page and page[-1]["token_name"] == "partner-admin" and page[-1]["role"] == "partner-admin"
    api = [ln for ln in lines if ln["route"].endswith("/test-email")]
    assert api and api[-1]["token_name"] == "partner-admin"  # the console's API call, logged as any
    assert "Logged-Never-77!" not in caplog.text
    assert svc.tokens["partner-admin"].split("_", 2)[2] not in caplog.text
