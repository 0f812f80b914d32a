"""The relay health the tier map shows is kept between views, and never outlives a change:
``GET /v1/health`` tags its answer (``ETag``) with the store's counters of what moved, the scope,
the caller and the minute, and answers 304 to ``If-None-Match`` of that tag while none of them
moved; every kind of write that moves a relay's organizations or its health gives a new tag,
and the console's tier map, which keeps its markers by that tag, shows the change at once."""

from __future__ import annotations

import re

import httpx
from service_support import ACME, BLUE, CONTROLLER, HQ, relay_settings

from smtp_iac.addresses import Address
from smtp_iac.monitor.run import check_health

WRONG = "Wrong-pw-9d1!not-the-relays"


def _health(client: httpx.Client, tag: str | None = None) -> httpx.Response:
    r = client.get("/v1/health", headers={"If-None-Match": tag} if tag else {})
    assert r.status_code in (200, 304), r.text
    return r


def test_the_answer_is_tagged_and_each_move_gives_a_new_tag(svc) -> None:
    with svc.client("sysadmin") as admin, svc.client("partner-admin") as partner:
        first = _health(admin)
        tag = first.headers["etag"]
        assert tag.startswith('W/"')
        again = _health(admin, tag)
        assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
        assert _health(admin, f'W/"other", {tag}').status_code == 304
        assert _health(partner, tag).status_code == 200  # another caller's answer is another
        assert _health(admin, 'W/"other"').status_code == 200

        moves = [
            lambda: svc.store.load_tenants({"partners": {"acme": {"organizations": {"new": {}}}}}),
            lambda: svc.store.set_smtp_enabled(Address("acme", "new"), True),
            lambda: svc.store.put(Address("acme", "new"), relay_settings(svc.relay), expected_version=None, stack=None),
            lambda: svc.store.put(ACME, relay_settings(svc.relay, password=WRONG), expected_version=1, stack=None),
            lambda: svc.store.delete(BLUE, expected_version=1, stack=None),
            lambda: check_health(svc.store, ca_file=str(svc.ca_file), timeout_seconds=5),
            lambda: svc.store.delete(CONTROLLER, expected_version=1, stack=None),
        ]
        for n, move in enumerate(moves):
            before = _health(admin)
            tag = before.headers["etag"]
            move()
            after = _health(admin, tag)
            assert after.status_code == 200 and after.headers["etag"] != tag, n
            assert _health(admin, after.headers["etag"]).status_code == 304, n


def _sign_in(client: httpx.Client, token: str) -> None:
    form = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    r = client.post("/signin", data={"csrf": csrf.group(1), "token": token, "next": ""})
    assert r.status_code == 303, r.text


def test_the_tier_map_shows_a_health_run_and_a_write_at_once(svc) -> None:
    with httpx.Client(base_url=svc.url, timeout=30) as browser:
        _sign_in(browser, svc.tokens["sysadmin"])
        page = browser.get("/").text
        assert "Not checked yet" in page and "Mail failing" not in page
        assert browser.get("/").text.count("Not checked yet") == page.count("Not checked yet")  # kept: the same

        svc.store.put(HQ, relay_settings(svc.relay, password=WRONG), expected_version=None, stack=None)
        check_health(svc.store, ca_file=str(svc.ca_file), timeout_seconds=5)
        page = browser.get("/").text
        assert "Mail failing" in page and "1 of 1 organization without working mail" in page

        svc.store.set_smtp_enabled(HQ, False)  # hq back on initech's record, on the relay that works
        page = browser.get("/").text
        assert "Mail failing" not in page and "0 of 1 organization without working mail" in page
