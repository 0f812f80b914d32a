"""Tenants in the store (load, find, switch) and the ``smtp-iac tenants`` commands, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import BLUE, GREEN, HQ, TENANTS

from smtp_iac.addresses import ID_PATTERN, Address
from smtp_iac.cli.app import run
from smtp_iac.cli.tenants import read_tenants_file
from smtp_iac.errors import TenantsInvalid, UnknownTenant
from smtp_iac.reading import schema
from smtp_iac.store import open_store


def test_load_is_an_idempotent_upsert(store):
    first = store.load_tenants(TENANTS)
    assert first.partners_added == ["acme", "initech"]
    assert sorted(map(str, first.orgs_added)) == sorted(map(str, [BLUE, GREEN, HQ, Address("acme", "red")]))
    again = store.load_tenants(TENANTS)
    assert not again.changed and again.unchanged == 2 + 4
    t = store.tenants()
    assert t.partners == {"acme": ["blue", "green", "red"], "initech": ["hq"]}
    assert t.org(BLUE).smtp_enabled and not t.org(GREEN).smtp_enabled
    assert t.has_partner("initech") and not t.has_partner("nope")
    assert t.to_doc() == {
        "partners": {
            p: {"organizations": {o: v for o, v in sorted(d["organizations"].items())}}
            for p, d in TENANTS["partners"].items()
        }
    }


def test_load_flips_switches_adds_and_never_removes(store):
    store.load_tenants(TENANTS)
    change = store.load_tenants(
        {
            "partners": {
                "acme": {
                    "organizations": {
                        "green": {"smtp_enabled": True},
                        "blue": {"smtp_enabled": False},
                        "red": None,
                        "new": {},
                    }
                },
                "globex": None,
            }
        }
    )
    assert change.partners_added == ["globex"]
    assert change.orgs_added == [Address("acme", "new")]
    assert change.enabled == [GREEN] and change.disabled == [BLUE]
    t = store.tenants()
    assert t.org(GREEN).smtp_enabled and not t.org(BLUE).smtp_enabled
    assert t.org(Address("acme", "red")).smtp_enabled  # given without the switch: kept
    assert not t.org(Address("acme", "new")).smtp_enabled  # new without the switch: off
    assert t.org(HQ) is not None and t.partners["globex"] == []  # initech not in the doc: kept
    actions = [(a.action, a.address) for a in store.audit_log()]
    assert ("enable-smtp", str(GREEN)) in actions and ("disable-smtp", str(BLUE)) in actions
    assert actions[-1] == ("tenants-load", None)


def test_invalid_document_is_refused_whole(store):
    with pytest.raises(TenantsInvalid) as e:
        store.load_tenants(
            {"partners": {"good": {}, "Bad_Id": {}, "acme": {"organizations": {"x": {"smtp_enabled": "yes"}}}}}
        )
    paths = sorted(d.path for d in e.value.diagnostics)
    assert paths == ["$.partners.Bad_Id", "$.partners.acme.organizations.x.smtp_enabled"]
    assert store.tenants().partners == {}  # nothing half-loaded


@pytest.mark.parametrize(
    "doc, path, message",
    [
        ({"partners": {7: {}}}, "$.partners[7]", "invalid partner id '7'"),  # a Python caller's non-string id
        (
            {"partners": {"acme": {"organizations": {"x": {"smtp_enabled": None}}}}},
            "$.partners.acme.organizations.x.smtp_enabled",
            "smtp_enabled must be true or false, not null",
        ),
        ({"partners": ["acme"]}, "$.partners", "partners must be a mapping or empty, not list"),
        ({}, "$", "missing key 'partners'"),
        (None, "$", "a tenants file must be a mapping"),
    ],
)
def test_documents_the_schema_refuses(store, doc, path, message):
    with pytest.raises(TenantsInvalid) as e:
        store.load_tenants(doc)
    [d] = e.value.diagnostics
    assert d.path == path and d.message.startswith(message)
    assert store.tenants().partners == {}


def test_find_org_by_every_form(store):
    store.load_tenants(TENANTS)
    store.load_tenants({"partners": {"initech": {"organizations": {"blue": {}}}}})
    assert store.find_org("partners/acme/organizations/red").address == Address("acme", "red")
    assert store.find_org("acme/red").address == Address("acme", "red")
    assert store.find_org("hq").address == HQ
    with pytest.raises(UnknownTenant) as e:
        store.find_org("blue")
    assert "ambiguous" in e.value.message
    assert (
        "partners/acme/organizations/blue" in e.value.message
        and "partners/initech/organizations/blue" in e.value.message
    )
    with pytest.raises(UnknownTenant) as e:
        store.find_org("hqq")
    assert "did you mean hq" in e.value.hint
    with pytest.raises(UnknownTenant) as e:
        store.find_org("initech/red")
    assert "belongs to partners/acme" in e.value.hint
    for bad in ("", "partners/acme", "Not An Id", "a/b/c"):
        with pytest.raises(UnknownTenant):
            store.find_org(bad)


def test_switching_an_unknown_org_is_refused_and_audited(store):
    store.load_tenants(TENANTS)
    with pytest.raises(UnknownTenant):
        store.set_smtp_enabled(Address("acme", "nope"), True)
    last = store.audit_log()[-1]
    assert (last.action, last.outcome, last.address) == ("enable-smtp", "refused", "partners/acme/organizations/nope")


# ----- the CLI ----------------------------------------------------------------------------

TENANTS_YAML = """\
# comment
partners:
  acme:
    organizations:
      blue: {smtp_enabled: true}
      red:
        smtp_enabled: false
  initech:
    organizations:
      hq: {smtp_enabled: true}
"""


def test_cli_load_list_enable_disable(store_url, tmp_path, capsys):
    f = tmp_path / "tenants.yaml"
    f.write_text(TENANTS_YAML)
    assert run(["tenants", "load", str(f), "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert "+ partners/acme/organizations/blue" in out and "2 partner(s) added" in out
    assert run(["--store", store_url, "tenants", "load", str(f)]) == 0  # idempotent
    assert "0 partner(s) added, 0 organization(s) added" in capsys.readouterr().out

    assert run(["tenants", "list", "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert "partners/acme/organizations/red" in out and "smtp disabled" in out
    assert "2 partner(s), 3 organization(s), 2 with organization-level SMTP enabled" in out

    assert run(["tenants", "enable-smtp", "red", "--store", store_url]) == 0
    assert "partners/acme/organizations/red: organization-level SMTP enabled" in capsys.readouterr().out
    assert run(["tenants", "disable-smtp", "initech/hq", "--store", store_url]) == 0
    capsys.readouterr()
    assert run(["tenants", "list", "--format", "json", "--store", store_url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {
        "partners": {
            "acme": {"organizations": {"blue": {"smtp_enabled": True}, "red": {"smtp_enabled": True}}},
            "initech": {"organizations": {"hq": {"smtp_enabled": False}}},
        }
    }
    with open_store(store_url) as store:
        assert [a.action for a in store.audit_log()][-2:] == ["enable-smtp", "disable-smtp"]
        assert store.audit_log()[-1].actor == "tester"


def test_cli_store_from_environment(backend, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMTP_IAC_STORE", backend.url)
    f = tmp_path / "t.yaml"
    f.write_text(TENANTS_YAML)
    assert run(["tenants", "load", str(f), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["partners_added"] == ["acme", "initech"]
    with open_store(backend.url) as store:
        assert store.tenants().has_partner("acme")


@pytest.mark.parametrize(
    "text, located",
    [
        (
            "partners:\n  acme:\n    organizations:\n      Blue: {smtp_enabled: true}\n",
            "t.yaml:4:7: error: invalid organization id 'Blue'",
        ),
        (
            "partners:\n  acme:\n    organizations:\n      blue: {smtp_enabled: yes}\n",
            "t.yaml:4:28: error: smtp_enabled must be true or false",
        ),
        ("partners:\n  acme:\n    orgs: {}\n", "t.yaml:3:5: error: unknown key 'orgs'"),
        ("partners:\n  acme: {}\n  acme: {}\n", "t.yaml:3:3: error: duplicate key 'acme'"),
        ("- acme\n", "t.yaml:1:1: error: a tenants file must be a mapping"),
        ("partners: {a: &x {}, b: *x}\n", "t.yaml:1:15: error: YAML anchors are not allowed in tenants files"),
        ("partners: [\n", "t.yaml:2:1: error: YAML syntax error"),
        ("", "t.yaml:1:1: error: file is empty"),
        ("'just a string'\n", "t.yaml:1:1: error: a tenants file must be a mapping"),
        ("# top\npartners: {}\nextra: 1\n", "t.yaml:3:1: error: unknown key 'extra' (allowed: partners)"),
        (
            "partners:\n  acme:\n    organizations:\n      blue:\n        smtp_enabeld: true\n",  # a typo must not pass
            "t.yaml:5:9: error: unknown key 'smtp_enabeld' in blue (did you mean 'smtp_enabled'?) "
            "[at $.partners.acme.organizations.blue.smtp_enabeld]",
        ),
        ("partners:\n  -acme: {}\n", "t.yaml:2:3: error: invalid partner id '-acme': ids are DNS-label-like"),
        (
            "partners:\n  acme:\n    organizations:\n      blue: {smtp_enabled: ~}\n",
            "t.yaml:4:28: error: smtp_enabled must be true or false, not null"
            " [at $.partners.acme.organizations.blue.smtp_enabled]",
        ),
        (
            "partners:\n  acme:\n    organizations: [blue]\n",
            "t.yaml:3:20: error: organizations must be a mapping or empty, not list",
        ),
        ("tenants: {}\n", "t.yaml:1:1: error: missing key 'partners'"),
    ],
)
def test_cli_bad_tenants_file_is_located_and_writes_nothing(store_url, tmp_path, capsys, monkeypatch, text, located):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(text)
    assert run(["tenants", "load", "t.yaml", "--store", store_url]) == 1
    err = capsys.readouterr().err
    assert located in err
    assert "Traceback" not in err
    with open_store(store_url) as store:
        assert store.tenants().partners == {}


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_tenants_files_pass_the_published_schema(example):
    """The files a user starts from validate, and point their editor at the schema that checks them."""
    first = example.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/tenants.schema.json"
    assert (example.parent / "../schemas/tenants.schema.json").is_file()
    doc = read_tenants_file(str(example))
    assert not schema.validate(doc, schema_name="tenants")
    assert doc["partners"] and all(p["organizations"] for p in doc["partners"].values())


def test_tenants_schema_ids_are_the_stack_schemas_ids():
    """Both schemas name partners and organizations the same way (pattern and message)."""
    stack_partners = schema.load_schema("stack")["properties"]["partners"]
    tenants_partners = schema.load_schema("tenants")["properties"]["partners"]
    for stack_names, tenants_names in (
        (stack_partners["propertyNames"], tenants_partners["propertyNames"]),
        (
            stack_partners["additionalProperties"]["properties"]["organizations"]["propertyNames"],
            tenants_partners["additionalProperties"]["properties"]["organizations"]["propertyNames"],
        ),
    ):
        assert tenants_names["pattern"] == stack_names["pattern"] == ID_PATTERN
        assert tenants_names["x-message"] == stack_names["x-message"]


def test_cli_errors_exit_1_without_traceback(store_url, tmp_path, capsys):
    assert run(["tenants", "load", str(tmp_path / "missing.yaml"), "--store", store_url]) == 1
    assert "cannot read tenants file" in capsys.readouterr().err
    assert run(["tenants", "enable-smtp", "ghost", "--store", store_url]) == 1
    err = capsys.readouterr().err
    assert "error: no store at" in err and "nothing was created" in err and "Traceback" not in err
    open_store(store_url).close()
    assert run(["tenants", "enable-smtp", "ghost", "--store", store_url]) == 1
    err = capsys.readouterr().err
    assert "error: organization 'ghost' is not known to the store" in err and "Traceback" not in err
    assert run(["tenants", "list", "--store", "mysql://db/x"]) == 1
    err = capsys.readouterr().err
    assert "invalid store URL" in err and "sqlite:///" in err and "Traceback" not in err


def test_cli_list_of_an_empty_store(store_url, capsys):
    open_store(store_url).close()
    assert run(["tenants", "list", "--store", store_url]) == 0
    assert "no tenants" in capsys.readouterr().out


def test_snapshot_tenants_equal_validated_models(store):
    """The snapshot builds orgs and addresses without re-validating; they must be the real thing."""
    from smtp_iac.models import Organization

    store.load_tenants(TENANTS)
    t = store.snapshot().tenants
    expected = {
        Address(p, o): Organization(partner=p, name=o, smtp_enabled=v["smtp_enabled"])
        for p, d in TENANTS["partners"].items()
        for o, v in d["organizations"].items()
    }
    assert t.orgs == expected
    assert list(t.orgs) == sorted(expected)  # address order
    for a, org in t.orgs.items():
        assert hash(a) == hash(Address(a.partner, a.org)) and org.address == a
        assert org.model_dump() == expected[a].model_dump()


def test_a_hostile_tenants_file_costs_bounded_work(tmp_path, capsys):
    """Thousands of bad ids: the first ERROR_BUDGET are listed, in file order, then one line
    says there are more (the rest are not even enumerated: jsonschema's cost per error made
    300,000 bad ids take 11 s before)."""
    from smtp_iac.diagnostics import ERROR_BUDGET

    bad = ERROR_BUDGET + 2000
    f = tmp_path / "t.yaml"
    f.write_text("partners:\n" + "".join(f"  Bad_{i}: {{}}\n" for i in range(bad)))
    assert run(["tenants", "load", str(f), "--store", f"sqlite:///{tmp_path}/s.db"]) == 1
    err = capsys.readouterr().err.splitlines()
    listed = [line for line in err if "invalid partner id" in line]
    assert len(listed) == ERROR_BUDGET
    assert listed[0].startswith(f"{f}:2:3: error: invalid partner id 'Bad_0'")
    assert "at least 1 more error(s)" in err[-2] and "only the first 1,000 diagnostics" in err[-2]
    assert not (tmp_path / "s.db").exists()  # nothing was made of a file that does not load
