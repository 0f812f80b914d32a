"""405 Method Not Allowed with the ``Allow`` of the resource a path names (RFC 9110 15.5.6).

Starlette routes each method of a path on its own and, for a method no route takes, answers
with the methods of the first route whose path matched: ``OPTIONS /v1/scopes/controller`` said
``Allow: GET`` though PUT and DELETE are served there. And ``{address:path}`` takes slashes, so
``PUT /v1/scopes/controller/release`` reached the scope's PUT (a 422 for its body) instead of
being refused as a method the release resource does not serve.

So ``MethodGate`` first decides which resource of the API a path names, by the whole path,
and answers 405 (problem+json, ``Allow`` listing every method served there, as the OpenAPI
document does) for any other method, before routing. A path whose address parameter is a valid
address names that resource: ``/v1/scopes/partners/release`` is partner ``release``'s record,
``/v1/scopes/partners/acme/release`` the release of ``partners/acme`` (an address never ends in
``/release`` or ``/test-email``). Where no reading gives a valid address, the most specific
template wins (the route answers 404 for the address). Paths outside the API pass through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi.routing import APIRoute
from starlette._utils import get_route_path  # how Starlette and FastAPI route a request
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from ..addresses import Address
from .problems import Problem

ADDRESS_PARAMS = frozenset({"address", "org"})
"""Path parameters that hold an address (``{address:path}``, ``{org:path}``)."""

_ORDER = ("GET", "PUT", "POST", "DELETE", "PATCH")


@dataclass(frozen=True)
class Resource:
    template: str
    regex: re.Pattern[str]
    methods: frozenset[str]
    route: APIRoute
    """One of its routes (what the request log and metrics name it by)."""

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m)))

    @property
    def own_text(self) -> int:
        """The length of the template's own text (its parameters left out)."""
        return len(re.sub(r"\{[^}]*\}", "", self.template))

    def reading(self, path: str) -> tuple[bool, int] | None:
        """How well ``path`` reads as this resource: (its addresses are valid, length of the
        template's own text), or None when it does not match at all."""
        m = self.regex.match(path)
        if m is None:
            return None
        valid = all(_is_address(value) for name, value in m.groupdict().items() if name in ADDRESS_PARAMS)
        return valid, self.own_text


def _is_address(text: str) -> bool:
    try:
        Address.parse(text)
    except ValueError:
        return False
    return True


def resources(routes: Iterable[BaseRoute]) -> list[Resource]:
    """The API's resources: its documented routes grouped by path template."""
    grouped: dict[str, tuple[set[str], APIRoute]] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            methods, _ = grouped.setdefault(route.path, (set(), route))
            methods.update(route.methods or ())
    out = []
    for template, (methods, route) in grouped.items():
        regex, _, _ = compile_path(template)
        out.append(Resource(template, regex, frozenset(methods), route))
    return out


class MethodGate:
    """ASGI middleware: 405 with the resource's ``Allow`` for a method it does not serve."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]):
        self.app = app
        self.resources = resources(routes)
        self._by_head: dict[str, list[Resource]] = {}
        self._anywhere: list[Resource] = []  # templates with a parameter in their head
        for r in self.resources:
            head = _head(r.template)
            (self._anywhere if "{" in head else self._by_head.setdefault(head, [])).append(r)

    def resource(self, path: str) -> Resource | None:
        """The resource ``path`` reads best as (``Resource.reading``), among the templates with
        the same first two segments; where one template alone matches, it is that one, and no
        address is parsed."""
        candidates = self._by_head.get(_head(path), [])
        matching = [r for r in (*candidates, *self._anywhere) if r.regex.match(path)]
        if len(matching) <= 1:
            return matching[0] if matching else None
        best: tuple[tuple[bool, int], Resource] | None = None
        for resource in matching:
            score = resource.reading(path)
            if score is not None and (best is None or score > best[0]):
                best = (score, resource)
        return best[1] if best is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            resource = self.resource(get_route_path(scope))
            if resource is not None and scope["method"] not in resource.methods:
                scope["route"] = resource.route
                problem = _not_allowed(str(scope["method"]), resource)
                await problem.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _head(path: str) -> str:
    """The first two segments of a path (``/v1/scopes`` of ``/v1/scopes/controller``)."""
    return "/".join(path.split("/", 3)[:3])


def _not_allowed(method: str, resource: Resource) -> Problem:
    shown = method if method.isascii() and method.isalpha() and len(method) <= 16 else "this method"
    where = re.sub(r":\w+\}", "}", resource.template)
    return Problem(405, f"{shown} is not served at {where}, only {resource.allow}", headers={"Allow": resource.allow})
