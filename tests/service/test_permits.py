"""Whether a request may go on is decided one way (``service.permits``): every route that asks
who is calling asks the one dependency (``Allow``) what it may do, no route module decides by
itself nor borrows from a sibling route module; and the ``Permit`` keeps the order of the
checks (reach before any lookup, the SMTP switch after) and audits refused writes where
``access.recorded_at`` says."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from smtp_iac.access import Act, Denied, audit_scope, listing, lists_partners
from smtp_iac.addresses import CONTROLLER, Address
from smtp_iac.errors import FeatureDisabled
from smtp_iac.service import permits
from smtp_iac.service.app import ROUTERS
from smtp_iac.service.auth import authenticate
from smtp_iac.service.context import Ctx
from smtp_iac.service.permits import Attempt, Permit
from smtp_iac.service.problems import Problem
from smtp_iac.store import AuditAction, AuditOutcome
from smtp_iac.tokens import Role, TokenInfo

SERVICE = Path(permits.__file__).parent
ROUTE_MODULES = ("scopes", "organizations", "tiermap", "clients", "ops")
NO_PERMISSION = {"/v1/whoami"}  # asks who is calling, and answers only that

ACME, BLUE, RED = Address("acme"), Address("acme", "blue"), Address("acme", "red")
SYSADMIN = TokenInfo("t1", "root", Role.SYSADMIN)
VIEWER = TokenInfo("t2", "eyes", Role.VIEWER)
MAILER = TokenInfo("t3", "mail", Role.MAILER)
PARTNER = TokenInfo("t4", "pa", Role.PARTNER_ADMIN, partner="acme")
ORG = TokenInfo("t5", "oa", Role.ORG_ADMIN, org=BLUE)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for d in dependant.dependencies:
        yield d.call
        yield from _calls(d)


def _routes() -> list[APIRoute]:
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_that_asks_who_is_calling_asks_the_one_dependency_what_it_may_do() -> None:
    checked = []
    for route in _routes():
        calls = list(_calls(route.dependant))
        assert authenticate not in calls, f"{route.path}: authenticates outside permits.Allow"
        asks = [c for c in calls if isinstance(c, SecurityBase) or c is permits.caller]
        if not asks or route.path in NO_PERMISSION:
            continue
        assert permits.permit in asks, f"{route.path} {route.methods}: no permits.Allow"
        assert all(c is permits.permit or c is permits.caller for c in asks), f"{route.path}: {asks}"
        checked.append(route.path)
    assert len(checked) >= 18


def _imports(module: str) -> list[tuple[str, str]]:
    """(module, name) of each ``from ... import``: ``.scopes`` for the service's own modules,
    ``access`` for the package's."""
    tree = ast.parse((SERVICE / f"{module}.py").read_text())
    return [
        ("." * (node.level == 1) + (node.module or ""), alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]


@pytest.mark.parametrize("module", ROUTE_MODULES)
def test_no_route_module_decides_by_itself_nor_borrows_from_a_sibling(module: str) -> None:
    imported = _imports(module)
    siblings = [(m, n) for m, n in imported if m.startswith(".") and m[1:] in ROUTE_MODULES]
    assert siblings == [], f"{module} imports from a sibling route module: {siblings}"
    deciding = [
        (m, n)
        for m, n in imported
        if (m == "access" and n in ("decide", "Denied", "turns_on_switch", "recorded_at"))
        or (m == "tokens" and n == "Role")
        or (m == ".auth" and n != "Caller")
    ]
    assert deciding == [], f"{module} decides outside permits: {deciding}"


class FakeCtx:
    """The part of ``Ctx`` a ``Permit`` uses: the SMTP switches, and the audited store."""

    def __init__(self, switches: dict[Address, bool]) -> None:
        self.switches = switches
        self.looked_up: list[Address] = []
        self.attempts: list[dict[str, Any]] = []

    def smtp_enabled(self, address: Address) -> bool:
        self.looked_up.append(address)
        if address not in self.switches:
            raise Problem(404, f"{address} is not known", address=address)
        return self.switches[address]

    def audited(self, token: TokenInfo) -> FakeCtx:
        return self

    def record_attempt(self, address: Address, **kw: Any) -> None:
        self.attempts.append({"address": address, **kw})


def permit(token: TokenInfo, **switches: bool) -> tuple[Permit, FakeCtx]:
    ctx = FakeCtx({Address("acme", o): on for o, on in switches.items()})
    return Permit(token, cast(Ctx, ctx)), ctx


def test_reach_is_judged_before_anything_is_looked_up_and_a_refused_write_is_audited_at_the_tokens_scope() -> None:
    allow, ctx = permit(ORG, blue=True)  # red: not known to the store, and beyond the token's reach
    with pytest.raises(Problem) as e:
        allow(Act.WRITE, RED, audit=Attempt(AuditAction.UPDATE, "s1"))
    assert (e.value.status, e.value.address) == (403, str(RED))
    assert e.value.detail == f"a {ORG.scope_text} token manages {BLUE} only, not {RED}"
    assert ctx.looked_up == []
    assert ctx.attempts == [
        {
            "address": BLUE,  # recorded at the token's own scope, naming the address tried
            "stack": "s1",
            "action": AuditAction.UPDATE,
            "outcome": AuditOutcome.REFUSED,
            "detail": f"forbidden: {e.value.detail}",
            "actor": ORG.actor,
        }
    ]


def test_the_smtp_switch_comes_after_reach_with_the_platforms_advice() -> None:
    allow, ctx = permit(ORG, blue=False)
    with pytest.raises(Problem) as e:
        allow(Act.TEST, BLUE)
    assert (e.value.status, e.value.hint) == (403, FeatureDisabled.ADVICE)
    assert ctx.looked_up == [BLUE] and ctx.attempts == []  # Send Test Email is not audited
    allow, ctx = permit(ORG, blue=True)
    allow(Act.WRITE, BLUE, audit=Attempt(AuditAction.DELETE))
    assert ctx.attempts == []


def test_a_write_at_an_unknown_organization_is_404_for_every_role_before_any_audit() -> None:
    for token in (SYSADMIN, PARTNER):
        allow, ctx = permit(token)
        with pytest.raises(Problem) as e:
            allow(Act.WRITE, RED, audit=Attempt(AuditAction.CREATE))
        assert e.value.status == 404 and ctx.attempts == []
        allow(Act.READ, RED)  # reads do not look the switch up
        assert ctx.looked_up == [RED]


def test_may_looks_the_switch_up_only_where_the_answer_turns_on_it() -> None:
    allow, ctx = permit(SYSADMIN)
    assert allow.may(Act.WRITE, RED) and ctx.looked_up == []  # no 404 for a question
    allow, ctx = permit(ORG, blue=False)
    assert not allow.may(Act.WRITE, BLUE) and not allow.may(Act.WRITE, RED) and not allow.may(Act.WRITE, ACME)
    assert ctx.looked_up == [BLUE]
    allow, _ = permit(ORG, blue=True)
    assert allow.may(Act.WRITE, BLUE) and allow.may(Act.READ, BLUE)
    allow, _ = permit(MAILER)
    assert not allow.may(Act.READ, BLUE) and allow.may(Act.EFFECTIVE, BLUE)


def test_a_refusal_without_an_address_names_none_and_one_with_the_default_names_the_controller() -> None:
    allow, _ = permit(MAILER)
    with pytest.raises(Problem) as e:
        allow.granted(audit_scope(MAILER))
    assert (e.value.status, e.value.address) == (403, None)
    assert e.value.detail == "a mailer token does not read the audit log"
    with pytest.raises(Problem) as e:
        allow(Act.METRICS)
    assert e.value.address == str(CONTROLLER)
    allow, _ = permit(SYSADMIN)
    assert allow.granted(audit_scope(SYSADMIN)) == ("all", None)


def test_listings_are_limited_to_the_tokens_reach() -> None:
    assert listing(ORG, "initech", None) == ("acme", "blue")
    assert listing(PARTNER, None, "blue") == ("acme", "blue")
    assert listing(PARTNER, "initech", None) == ("initech", None)  # judged, then refused
    assert listing(VIEWER, None, None) == (None, None)
    assert lists_partners(PARTNER, None) == "acme"
    assert isinstance(lists_partners(PARTNER, "initech"), Denied)
    assert lists_partners(SYSADMIN, None) is None and lists_partners(VIEWER, "initech") == "initech"
    for token in (ORG, MAILER):
        denied = lists_partners(token, None)
        assert isinstance(denied, Denied) and "does not read the partners" in denied.reason
