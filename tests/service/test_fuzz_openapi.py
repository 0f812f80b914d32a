"""The OpenAPI document fuzzed with schemathesis against the real service (uvicorn on loopback,
SQLite, a real relay): every operation, bounded in examples and time. No 5xx, no response that
breaks the schema or its documented statuses and content types, no password echoed.

Bounds: ``FUZZ_EXAMPLES`` per operation (CI: 30); checks the fuzzer triggers get a 1 s
timeout (a random host or port must not cost 15 s each)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from service_support import ADDRESSES, BLUE, HQ, ServerThread, config_for, seed
from smtp_servers import TEST_PASSWORD, SmtpServer, write_ca_file

from smtp_iac.service.app import ROUTERS, create_app
from smtp_iac.store import open_store
from smtp_iac.tokens import Role, new_token

FUZZ_EXAMPLES = int(os.environ.get("SMTP_IAC_FUZZ_EXAMPLES", "30"))
FUZZ_PASSWORD = "Fuzz-ed1t!unique-password-never-echoed"

state: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, ca) -> Iterator[schemathesis.BaseSchema]:
    tmp = tmp_path_factory.mktemp("fuzz")
    relay = SmtpServer(tls="starttls", ca=ca, users={"relay-user": TEST_PASSWORD, "fuzz": FUZZ_PASSWORD}).start()
    url = f"sqlite:///{tmp}/store.db"
    store = open_store(url, key=None)
    tokens = seed(store, relay)
    admin = new_token(name="fuzz", role=Role.SYSADMIN, now=datetime.now(UTC))
    store.create_token(admin, actor="fuzz")
    state["token"] = admin.text
    state["mailer"] = tokens["mailer"]  # the messages endpoint is the mailer's alone
    state["tokens"] = "\n".join(tokens.values())
    server = ServerThread(create_app(config_for(url, write_ca_file(ca, tmp), verify_timeout_seconds=1))).start()
    try:
        yield schemathesis.openapi.from_url(server.url + "/openapi.json")
    finally:
        server.stop()
        relay.stop()
        store.close()


# One test per operation. (schemathesis' own pytest plugin does not load on pytest 9, so the
# operations are listed from the service's routers and each is driven with hypothesis.)
LABELS = sorted(
    f"{method} {route.path}".replace(":path}", "}")
    for router in ROUTERS
    for route in router.routes
    for method in getattr(route, "methods", ())
)


def test_every_operation_is_fuzzed(api_schema) -> None:
    assert {op.ok().label for op in api_schema.get_all_operations()} == set(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_openapi_fuzz(api_schema, label: str) -> None:
    operation = api_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(), address=st.sampled_from(KNOWN), precondition=st.sampled_from(PRECONDITIONS))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case, address: str | None, precondition: dict[str, str]) -> None:
        # Random addresses only reach 404: most cases get a scope of the seeded store instead.
        for name in ("address", "org"):
            if address is not None and name in (case.path_parameters or {}):
                case.path_parameters[name] = address
        if precondition and case.method in ("PUT", "DELETE") and "/v1/scopes/" in case.path:
            case.headers = {**(case.headers or {}), **precondition}
        call(case)

    fuzz()


KNOWN = [None, *(str(a) for a in ADDRESSES), str(BLUE), str(HQ)]
PRECONDITIONS = [{}, {"If-None-Match": "*"}, {"If-Match": '"1"'}, {"If-Match": '"2"'}]


def call(case) -> None:
    body = case.body
    if isinstance(body, dict):
        for holder in (body, body.get("verify"), body.get("settings")):
            if isinstance(holder, dict) and "timeout_seconds" in holder:
                holder["timeout_seconds"] = 1
        if isinstance(body.get("password"), str):
            body["password"] = FUZZ_PASSWORD
    token = state["mailer"] if case.path.endswith("/messages") else state["token"]
    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    checks = [response_schema_conformance, status_code_conformance, content_type_conformance]
    if not refused_recipient(case, response):
        checks.append(not_a_server_error)
    case.validate_response(response, checks=checks)
    for secret in (FUZZ_PASSWORD, TEST_PASSWORD, state["token"], *state["tokens"].splitlines()):
        assert secret not in response.text


def refused_recipient(case, response) -> bool:
    """SPEC's one 5xx by design: a message whose recipient the relay refused (the fuzzer's
    ``to`` is any text with an ``@``; the relay answers 553 to a malformed one) is "502 relay
    failed (class)". Its body must still say so; every other 5xx is a failure."""
    if not case.path.endswith("/messages") or response.status_code != 502:
        return False
    body = response.json()
    return body.get("kind") == "relay_failed" and body.get("verify", {}).get("failure") == "recipient_rejected"
