"""Pure property logic of the dynamic resources."""

from __future__ import annotations

from datetime import UTC, datetime

from pulumi.output import Unknown

from smtp_iac.models import LiveRecord
from smtp_iac.pulumi import properties as P


def fp(password: str) -> str:
    return f"fp({len(password)}:{password[::-1]})"


OLD = {
    "address": "controller",
    "stack": "prod",
    "host": "smtp.example.com",
    "port": 587,
    "tls": True,
    "username": "u",
    "password": "secret-1",
    "password_fingerprint": fp("secret-1"),
    "version": 3,
}


def test_normalize_turns_whole_floats_back_into_ints():
    out = P.normalize({"port": 587.0, "version": 2.0, "verify": {"timeout_seconds": 15.0}, "host": "h"})
    assert out == {"port": 587, "version": 2, "verify": {"timeout_seconds": 15}, "host": "h"}
    assert type(out["port"]) is int
    assert P.normalize({"port": 587.5})["port"] == 587.5  # not whole: left for check to refuse


def test_unknowns_in_both_encodings():
    assert P.is_unknown(Unknown()) and P.is_unknown(P.UNKNOWN) and P.is_unknown({"a": [Unknown()]})
    assert not P.is_unknown("smtp.example.com") and not P.is_unknown(None)


def test_no_change_when_only_floats_and_the_default_tls_mode_differ():
    news = dict(OLD, port=587.0, tls_mode="starttls")
    news.pop("password_fingerprint"), news.pop("version")
    assert P.settings_changes(OLD, news, fp) == []


def test_changes_name_each_field_and_the_password_by_fingerprint():
    news = dict(OLD, host="other.example.com", password="secret-2", tls_mode="implicit")
    assert P.settings_changes(OLD, news, fp) == ["host", "tls_mode", "password"]
    assert P.replaces(P.settings_changes(OLD, dict(OLD, address="partners/a"), fp)) == ["address"]


def test_unknown_values_count_as_changes_without_fingerprinting():
    called = []
    changes = P.settings_changes(OLD, dict(OLD, password=Unknown(), port=Unknown()), lambda p: called.append(p) or "x")
    assert {"password", "port", "tls_mode"} <= set(changes) and called == []


def test_check_skips_unknown_fields_but_checks_the_rest():
    news = {
        "address": "controller",
        "stack": "prod",
        "host": Unknown(),
        "port": 465,
        "tls": False,
        "username": "u",
        "password": Unknown(),
    }
    assert [f for f, _ in P.check_identity(news) + P.check_settings(news)] == ["port"]


def test_outputs_echo_every_input_and_add_the_record_facts():
    record = LiveRecord(
        address="controller",
        host="live.example.com",
        port=2525,
        tls=False,
        username="u",
        password_fingerprint="hmac-sha256:ab",
        version=4,
        managed_by="prod",
        updated_at=datetime(2024, 1, 2, tzinfo=UTC),
        updated_by="ci",
    )
    inputs = {k: v for k, v in OLD.items() if k not in P.RECORD_KEYS}
    outs = P.settings_outputs(inputs, record)
    assert set(inputs) <= set(outs)
    assert (outs["host"], outs["port"], outs["tls"], outs["version"]) == ("live.example.com", 2525, False, 4)
    assert outs["password"] == inputs["password"], "echoed under its own key (stays secret)"
    assert outs["updated_at"] == "2024-01-02T00:00:00+00:00"
    read_inputs = P.read_inputs(outs, record)
    assert read_inputs["host"] == "live.example.com" and not set(P.RECORD_KEYS) & set(read_inputs)


def test_inheritance_changes_after_an_override_was_seen():
    olds = {"address": "partners/a", "stack": "prod", "override_present": False}
    assert P.inheritance_changes(olds, {"address": "partners/a", "stack": "prod"}) == []
    assert P.inheritance_changes(dict(olds, override_present=True), {"address": "partners/a", "stack": "prod"}) == [
        "override_present"
    ]
