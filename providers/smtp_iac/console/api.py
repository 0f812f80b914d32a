"""The console's only way to the settings: the service's own HTTP API, called in process (an
ASGI transport, no socket) with the signed-in token as its bearer.

So a console action is an API call, with the API's roles, limits, checks, audit and log line:
nothing the API would refuse can be done from a page. ``Answer`` is the status and JSON of
one call; a problem's ``detail``, ``hint`` and per-field ``errors`` are what a page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def detail(self) -> str:
        return str(self.body.get("detail", "")) if isinstance(self.body, dict) else ""

    @property
    def hint(self) -> str | None:
        return self.body.get("hint") if isinstance(self.body, dict) else None

    @property
    def kind(self) -> str | None:
        return self.body.get("kind") if isinstance(self.body, dict) else None

    def field_errors(self) -> dict[str, str]:
        """Per-field errors of a 422, by field name without its prefix (``settings.host`` -> ``host``)."""
        out: dict[str, str] = {}
        listed = self.body.get("errors") if isinstance(self.body, dict) else None
        for e in listed or []:
            name = str(e.get("field", "")).removeprefix("settings.")
            out.setdefault(name, str(e.get("message", "")))
        return out


class Api:
    """Calls the service's API in process, as the bearer of a token."""

    def __init__(self, app: ASGIApp):
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 0)),
            base_url="http://console.invalid",
            headers={"User-Agent": "smtp-iac console"},
            timeout=None,  # in process: the API's own limits (SMTP check timeouts) bound each call
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        token: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        r = await self._client.request(
            method,
            path,
            json=json,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )
        try:
            body = r.json() if r.content else None
        except ValueError:
            body = None
        return Answer(r.status_code, body, {k.lower(): v for k, v in r.headers.items()})


def scope_path(address: str, suffix: str = "") -> str:
    """The API path of a scope, its address percent-encoded as the API takes it."""
    return f"/v1/scopes/{quote(address, safe='/')}{suffix}"


def org_path(org: str, suffix: str = "") -> str:
    return f"/v1/organizations/{quote(org, safe='/')}{suffix}"
