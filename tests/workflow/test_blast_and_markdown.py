"""Blast radius through ``plan``: a partner record's edit reaches exactly its inheriting
organizations, per-partner counts, tier transitions; and the markdown pull-request comment:
summary line, per-partner table, folded details, bounded under GitHub's 65,536 characters on a
platform of 3,000 affected organizations."""

from __future__ import annotations

import re

import pytest
from workflow_helpers import STACK, partner, schema_validator, settings, stack_doc

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings

pytestmark = pytest.mark.timeout(120)

PORT = 2587
GITHUB_COMMENT_LIMIT = 65_536


def _platform() -> dict:
    """acme: 6 orgs — 2 with their own override and SMTP on, 1 with an override but SMTP off,
    3 without; globex: 2 orgs without overrides."""
    return {
        "partners": {
            "acme": {
                "organizations": {
                    "own-a": {"smtp_enabled": True},
                    "own-b": {"smtp_enabled": True},
                    "own-off": {"smtp_enabled": False},
                    "plain-a": {"smtp_enabled": True},
                    "plain-b": {"smtp_enabled": False},
                    "plain-c": {"smtp_enabled": True},
                }
            },
            "globex": {"organizations": {"g-one": {"smtp_enabled": True}, "g-two": {"smtp_enabled": True}}},
        }
    }


def _stack(acme_user: str = "acme-mailer", own_a: object = None) -> dict:
    own = settings(PORT, user="own")
    return stack_doc(
        None,
        controller=settings(PORT, user="platform"),
        partners={
            "acme": partner(settings(PORT, user=acme_user), own_a=own_a or own, own_b=own),
            "globex": partner(settings(PORT, user="globex-mailer")),
        },
    )


def _put_own_off(ws) -> None:
    # an override on an org whose switch is off (made while it was on, then switched off)
    with ws.open() as s:
        addr = Address.parse("partners/acme/organizations/own-off")
        s.set_smtp_enabled(addr, True, actor="test")
        s.put(
            addr,
            ResolvedSettings(host="127.0.0.1", port=PORT, tls=True, username="off", password="x-pw-1"),
            expected_version=None,
            stack=STACK,
            actor="test",
        )
        s.set_smtp_enabled(addr, False, actor="test")


def test_partner_edit_reaches_its_inheriting_orgs_only(ws):
    ws.load_tenants(_platform())
    _put_own_off(ws)
    f = ws.write_stack(_stack())
    assert ws.run("apply", f, "--yes").rc == 0  # own-off stays unmanaged: the stack does not name it

    ws.write_stack(_stack(acme_user="acme-relay-2"))
    r = ws.run("plan", f, "--format", "json", "--detailed-exitcode")
    assert r.rc == 2
    d = r.json()
    schema_validator().validate(d)
    assert [s["address"] for s in d["scopes"] if s["action"] != "no-op"] == ["partners/acme"]
    br = d["blast_radius"]
    affected = {i["org"]: (i["before"], i["after"], i["kind"]) for i in br["impacts"]}
    # every acme org that inherits the partner record — including own-off, whose override is
    # ignored while its switch is off — and neither own-a/own-b (enabled overrides) nor globex
    assert affected == {
        f"partners/acme/organizations/{o}": ("partners/acme", "partners/acme", "settings")
        for o in ("own-off", "plain-a", "plain-b", "plain-c")
    }
    assert br["organizations"] == 8 and br["affected"] == 4
    assert br["partners"] == [
        {
            "partner": "acme",
            "organizations": 6,
            "affected": 4,
            "transitions": [{"from": "partner", "to": "partner", "kind": "settings", "count": 4}],
        }
    ]
    assert d["summary"]["affected_organizations"] == 4

    t = ws.run("plan", f)
    assert "Blast radius: 4 organizations of 8 change effective SMTP settings" in t.out
    row = next(ln for ln in t.out.splitlines() if ln.strip().startswith("acme "))
    assert row.split()[:3] == ["acme", "6", "4"] and "4 partner→partner (new settings)" in row
    assert not any(ln.strip().startswith("globex ") for ln in t.out.splitlines())

    md = ws.run("plan", f, "--format", "markdown").out
    assert "| `acme` | 6 | 4 | 4 partner→partner (new settings) |" in md
    assert "`globex`" not in md


def test_org_override_to_inherit_moves_org_to_partner(ws):
    ws.load_tenants(_platform())
    f = ws.write_stack(_stack())
    assert ws.run("apply", f, "--yes").rc == 0
    ws.write_stack(_stack(own_a="inherit"))

    d = ws.run("plan", f, "--format", "json").json()
    by = {s["address"]: s for s in d["scopes"]}
    assert by["partners/acme/organizations/own-a"]["action"] == "delete"
    br = d["blast_radius"]
    assert br["impacts"] == [
        {
            "org": "partners/acme/organizations/own-a",
            "before": "partners/acme/organizations/own-a",
            "after": "partners/acme",
            "kind": "source",
        }
    ]
    assert br["partners"][0]["transitions"] == [{"from": "organization", "to": "partner", "kind": "source", "count": 1}]
    t = ws.run("plan", f)
    assert "1 organization→partner" in t.out
    assert "- " in t.out and "remove override" in t.out
    md = ws.run("plan", f, "--format", "markdown").out
    assert "| `acme` | 6 | 1 | 1 organization→partner |" in md
    assert "| `partners/acme/organizations/own-a` | partners/acme/organizations/own-a | partners/acme |" in md


def test_markdown_plan_at_3000_affected_orgs_stays_a_readable_comment(ws):
    partners, orgs_per, own_per = 60, 50, 5
    tenants = {
        "partners": {
            f"p{p:02d}": {"organizations": {f"p{p:02d}-o{o:02d}": {"smtp_enabled": True} for o in range(orgs_per)}}
            for p in range(partners)
        }
    }
    ws.load_tenants(tenants)
    ps = {}
    for p in range(partners):
        pid = f"p{p:02d}"
        ps[pid] = {
            "smtp": settings(PORT, user=f"{pid}-mailer"),
            "organizations": {
                f"{pid}-o{o:02d}": {"smtp": settings(PORT, user=f"{pid}-o{o:02d}")} for o in range(own_per)
            },
        }
    f = ws.write_stack(stack_doc(None, controller=settings(PORT, user="platform"), partners=ps))

    r = ws.run("plan", f, "--format", "markdown", "--detailed-exitcode")
    assert r.rc == 2, r.err
    md = r.out
    assert len(md) < GITHUB_COMMENT_LIMIT, len(md)
    n_changes = 1 + partners + partners * own_per  # 361
    lines = md.splitlines()
    # summaries first: the counts, then the blast radius, before any folded detail
    assert lines[0] == f"### smtp-iac plan: `{STACK}`"
    summary = f"**{n_changes} to create, 0 to update, 0 to delete**, 0 unchanged"
    assert summary in lines
    blast = "**Blast radius: 3,000 organizations** of 3,000 change effective SMTP settings."
    assert blast in lines
    first_details = next(i for i, ln in enumerate(lines) if ln.startswith("<details>"))
    assert lines.index(summary) < first_details and lines.index(blast) < first_details
    assert lines.index("#### Blast radius by partner") < first_details
    # the per-partner table: most affected first (all 50), by name; bounded with a "more" row
    assert "| Partner | Orgs | Affected | From → to |" in md
    assert "| `p00` | 50 | 50 | 45 none→partner, 5 none→organization |" in md
    assert "| `p49` | 50 | 50 |" in md and "`p50`" not in md.split("<details>")[0]
    assert "| … 10 more partners | | | |" in md
    # details folded, with counts and an explicit "more" pointer instead of 3,000 rows
    assert f"<details><summary>Changes ({n_changes} scopes)</summary>" in md
    assert "<details><summary>Affected organizations (3,000)</summary>" in md
    assert md.count("<details>") == md.count("</details>") == 2
    assert f"… {n_changes - 200} more" in md and "… 2,700 more" in md
    assert _shown_plus_more(md, f"Changes ({n_changes} scopes)", "| + |") == n_changes
    assert _shown_plus_more(md, "Affected organizations (3,000)", "| `partners/") == 3000
    assert md.count("| `partners/p") <= 500

    d = ws.run("plan", f, "--format", "json").json()
    schema_validator().validate(d)
    assert d["blast_radius"]["affected"] == 3000 and len(d["blast_radius"]["impacts"]) == 3000
    assert sum(p["affected"] for p in d["blast_radius"]["partners"]) == 3000
    assert d["summary"]["create"] == n_changes


def _shown_plus_more(md: str, summary: str, row_prefix: str) -> int:
    """Rows shown in a folded section plus the number its "… N more" row says it left out."""
    body = md.split(f"<details><summary>{summary}</summary>")[1].split("</details>")[0]
    rows = [ln for ln in body.splitlines() if ln.startswith(row_prefix)]
    more = re.findall(r"… ([\d,]+) more", body)
    return len(rows) + sum(int(m.replace(",", "")) for m in more)


def test_markdown_stays_under_the_comment_limit_with_long_ids_and_values(ws):
    """The bound is on characters, not only on rows: ids may be 63 characters long and hosts,
    usernames and senders long too, so 200 + 300 rows alone can pass 65,536 characters."""
    pids = [f"p{i}-" + "x" * 59 for i in range(3)]
    tenants = {
        "partners": {
            p: {"organizations": {f"o{j:03d}-" + "y" * 58: {"smtp_enabled": True} for j in range(150)}} for p in pids
        }
    }
    ws.load_tenants(tenants)
    long_host = "relay-" + "h" * 50 + ".example.com"
    ps = {
        p: {
            "smtp": settings(PORT, user="u" * 60, host=long_host),
            "organizations": {
                o: {"smtp": settings(PORT, user="v" * 60, host="org-" + long_host, sender="s" * 50 + "@example.com")}
                for o in list(tenants["partners"][p]["organizations"])[:100]
            },
        }
        for p in pids
    }
    f = ws.write_stack(stack_doc(None, controller=settings(PORT), partners=ps))
    r = ws.run("plan", f, "--format", "markdown")
    assert r.rc == 0
    md = r.out
    assert len(md) < GITHUB_COMMENT_LIMIT, len(md)
    assert "**304 to create, 0 to update, 0 to delete**, 0 unchanged" in md
    assert "**Blast radius: 450 organizations** of 450 change effective SMTP settings." in md
    assert f"| `{pids[0]}` | 150 | 150 | 100 none→organization, 50 none→partner |" in md
    # both folded sections are there, each closed, each saying how many rows it left out
    assert "<details><summary>Changes (304 scopes)</summary>" in md
    assert "<details><summary>Affected organizations (450)</summary>" in md
    assert md.count("<details>") == md.count("</details>") == 2
    assert _shown_plus_more(md, "Changes (304 scopes)", "| + |") == 304
    assert _shown_plus_more(md, "Affected organizations (450)", "| `partners/") == 450

    # drift and apply reports obey the same bound
    assert ws.run("apply", f, "--yes").rc == 0
    with ws.open() as s:
        for p in pids:
            for rec in s.list_records(partner=p):
                s.delete(rec.address, expected_version=rec.version, stack=STACK, actor="oob")
    r = ws.run("drift", f, "--format", "markdown")
    assert r.rc == 2
    assert len(r.out) < GITHUB_COMMENT_LIMIT and "**303 differences**" in r.out
