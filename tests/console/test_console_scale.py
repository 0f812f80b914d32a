"""The tier map at 20,000 organizations: a page carries 50 rows and says how many there are;
filters and search are answered by the store (``store/tiermap.py``), not by shipping rows; each
partner's relay comes with the page of partners (one join), not from a query per row."""

from __future__ import annotations

import re

from service_support import relay_settings
from test_console_security import signed_in

from smtp_iac.addresses import Address
from smtp_iac.store.db import Db

ROW = re.compile(r'<th scope="row"><a href="/organizations/partners/([a-z0-9-]+)/organizations/([a-z0-9-]+)">')


def test_the_tier_map_pages_20000_organizations(svc):
    doc = {
        "partners": {
            f"p{p:02d}": {"organizations": {f"org-{p:02d}-{o:04d}": {"smtp_enabled": o % 3 == 0} for o in range(1000)}}
            for p in range(20)
        }
    }
    svc.store.load_tenants(doc, actor="test")
    c, _ = signed_in(svc, "viewer")
    first = c.get("/")
    assert first.status_code == 200
    assert "Organizations 1–50 of 20,003" in first.text  # and the three seeded ones
    assert len(ROW.findall(first.text)) == 50
    assert len(first.content) < 100_000  # one page, not the platform

    nxt = re.search(r'<a href="([^"]+)">Next page</a>', first.text).group(1).replace("&amp;", "&")
    second = c.get(nxt)
    assert "Organizations 51–100 of 20,003" in second.text
    assert not set(ROW.findall(first.text)) & set(ROW.findall(second.text))

    found = c.get("/", params={"q": "0007"})
    assert sorted(o for _, o in ROW.findall(found.text)) == sorted(f"org-{p:02d}-0007" for p in range(20))
    assert "of 20 matching the filter" in found.text

    # p05's organizations inherit the controller default (p05 has no record); the seeded ones
    # are the only ones with a partner record or their own
    by_tier = c.get("/", params={"partner": "p05", "tier": "controller"})
    assert "of 1,000 matching the filter" in by_tier.text
    assert "of 0 matching" in c.get("/", params={"partner": "p05", "tier": "organization"}).text
    assert "Partners 1–22 of 22" in first.text
    relay = f"127.0.0.1:{svc.relay.port}"
    assert first.text.count(f"inherits controller ({relay})") == 20  # p00..p19 have no record
    assert first.text.count(f'<span class="relay">{relay}</span>') == 2  # acme, initech


def test_the_partner_page_reads_relays_in_the_same_queries_however_many_rows(svc, monkeypatch):
    statements: list[str] = []
    x = Db.x

    def counted(self, cur, sql, params=()):
        statements.append(sql)
        return x(self, cur, sql, params)

    monkeypatch.setattr(Db, "x", counted)
    page = svc.store.partner_page(limit=50)
    few = len(statements)
    assert [r.host for r in page.items] == ["127.0.0.1", "127.0.0.1"]

    svc.store.load_tenants({"partners": {f"p{p:02d}": {"organizations": {"o": {}}} for p in range(40)}}, actor="t")
    for p in range(0, 40, 2):
        svc.store.put(Address(f"p{p:02d}"), relay_settings(svc.relay), expected_version=None, stack=None)
    statements.clear()
    page = svc.store.partner_page(limit=50)
    assert len(page.items) == 42 and len(statements) == few  # no statement per row
    hosts = {r.partner: (r.host, r.port) for r in page.items}
    assert hosts["p00"] == ("127.0.0.1", svc.relay.port) and hosts["p01"] == (None, None)
