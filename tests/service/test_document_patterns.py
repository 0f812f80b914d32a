"""The OpenAPI document says exactly what the server accepts (``service.patterns``, ``document``,
``methods``): each pattern accepts a value if and only if the server's checks together do (as
the ECMA 262 engine schemathesis and generated clients use reads the pattern), and the routing
answers a method a resource does not serve with 405 and that resource's ``Allow``."""

from __future__ import annotations

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from service_support import Svc

from smtp_iac.addresses import Address
from smtp_iac.models import Email, Host, Username
from smtp_iac.reading.rules import INVISIBLE, check_host
from smtp_iac.service import patterns
from smtp_iac.service.app import openapi_document
from smtp_iac.service.problems import PROBLEM
from smtp_iac.verify.message import UnsafeField, check_address


def _documented(pattern: str):
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid


def _accepted(check):
    def accepts(value: str) -> bool:
        try:
            check(value)
        except (ValueError, ValidationError, UnsafeField):
            return False
        return True

    return accepts


def _host(value: str) -> None:
    TypeAdapter(Host).validate_python(value)
    if INVISIBLE.search(value) or check_host(value) is not None:
        raise ValueError(value)


def _org(value: str) -> None:
    if not Address.parse(value).org:
        raise ValueError(value)


def _username(value: str) -> None:
    TypeAdapter(Username).validate_python(value)
    if INVISIBLE.search(value):
        raise ValueError(value)


def _sender(value: str) -> None:
    TypeAdapter(Email).validate_python(value)
    if INVISIBLE.search(value):
        raise ValueError(value)


def _mailbox(value: str) -> None:
    TypeAdapter(Email).validate_python(value)
    check_address("to", value)


CHECKS = {
    "ADDRESS": _accepted(Address.parse),
    "ORG_ADDRESS": _accepted(_org),
    "HOST": _accepted(_host),
    "TEXT": _accepted(_username),
    "SENDER": _accepted(_sender),
    "MAILBOX": _accepted(_mailbox),
}

_PIECES = [
    *'ab0-9/ .:@%xX<>"(),;:[]\\\n\r\t\x00\x85\xa0\u200b\u2028\x1c\x7f\x90é',
    *("controller", "partners/", "/organizations/", "acme", "x@y", "::", "ffff", "127", "255", "256", "01", "0x1f"),
]
candidates = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=12).map("".join),
    st.text(max_size=12),
)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_documented_pattern_is_exactly_what_the_server_accepts(name: str) -> None:
    pattern = getattr(patterns, name)
    documented, accepted = _documented(pattern), CHECKS[name]
    own = st.from_regex(pattern.replace("$", r"\Z"))

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(candidates, own))
    def agree(value: str) -> None:
        if "=?" in value:  # an encoded word is judged by what it decodes to: no pattern says it
            return
        if name == "HOST" and ("xn--" in value.lower() or not value.isascii()):
            return  # IDNA 2008 is the rules' alone (see service.patterns)
        if name == "TEXT" and not value:
            return  # minLength, beside the pattern
        assert documented(value) == accepted(value), (value, documented(value))

    agree()


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("smtp.example.com", True),
        ("smtp.example.com.", True),
        ("192.0.2.10", True),
        ("192.0.2.10.", True),
        ("2001:db8::25", True),
        ("fe80::1%eth0", True),
        ("::ffff:192.0.2.1", True),
        ("127.1", False),
        ("0x7f000001", False),
        ("1.2.3.4.5", False),
        ("06e85f0:t0", False),
        ("0", False),
        ("a..b", False),
        ("smtp.example.com:587", False),
    ],
)
def test_hosts(host: str, ok: bool) -> None:
    assert _documented(patterns.HOST)(host) is ok
    assert CHECKS["HOST"](host) is ok


def test_the_document_lists_only_what_the_service_sends() -> None:
    doc = openapi_document()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                assert "anyOf" not in parameter["schema"], (method, path, parameter["name"])  # never null
                assert not any(k.startswith("x-smtp-iac") for k in parameter["schema"])
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert list(answer["content"]) == [PROBLEM], (method, path, status)
    delete = doc["paths"]["/v1/scopes/{address}"]["delete"]
    assert [p["required"] for p in delete["parameters"] if p["name"] == "if-match"] == [True]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/scopes/controller", "GET, PUT, DELETE"),
        ("PATCH", "/v1/scopes/partners/acme", "GET, PUT, DELETE"),
        ("POST", "/v1/scopes/partners/release", "GET, PUT, DELETE"),  # partner "release"'s record
        ("PUT", "/v1/scopes/controller/release", "POST"),
        ("GET", "/v1/scopes/partners/acme/organizations/blue/release", "POST"),
        ("PUT", "/v1/scopes/partners/acme/test-email", "POST"),
        ("DELETE", "/v1/scopes/0/test-email", "POST"),
        ("POST", "/v1/organizations/partners/acme/organizations/blue/effective", "GET"),
        ("GET", "/v1/tenants", "POST"),
    ],
)
def test_a_method_the_resource_does_not_serve_is_405_with_its_allow(svc: Svc, method: str, path: str, allow: str):
    with svc.client("sysadmin") as c:
        r = c.request(method, path, json={"host": "x"} if method in ("PUT", "POST", "PATCH") else None)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == PROBLEM and r.json()["status"] == 405


def test_the_resources_own_methods_still_reach_it(svc: Svc) -> None:
    with svc.client("sysadmin") as c:
        assert c.get("/v1/scopes/partners/acme").status_code == 200
        assert c.post("/v1/scopes/controller/release", params={"stack": "nope"}).status_code == 422
        assert c.get("/v1/scopes/partners/release").status_code == 404  # an unknown partner's record
        assert c.get("/v1/scopes/nowhere").status_code == 404


def test_what_the_document_refuses_the_server_refuses(svc: Svc) -> None:
    """Rules the document states that the server did not keep (found by schemathesis)."""
    with svc.client("sysadmin") as c:
        body = {"host": "127.0.0.1", "port": svc.relay.port, "tls": True, "username": "u", "password": "p"}
        # verify mode send names its recipient (the document's if/then): 422, not a 500
        r = c.put("/v1/scopes/controller", json=body | {"verify": {"mode": "send"}}, headers={"If-Match": '"1"'})
        assert r.status_code == 422 and "verify.to is required" in r.text, r.text
        # If-None-Match is * or absent: any other tag is refused, not ignored
        r = c.put("/v1/scopes/partners/acme/organizations/green", json=body, headers={"If-None-Match": '"3"'})
        assert r.status_code == 400 and "If-None-Match" in r.text, r.text
        # a From that no message could be sent from is refused even when nothing is sent
        r = c.post("/v1/scopes/partners/acme/test-email", json={"from": "a(b@example.com"})
        assert r.status_code == 422 and "not a bare mail address" in r.text, r.text
    assert svc.relay.stats.sessions == 0
