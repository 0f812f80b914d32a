"""The error answers a route may give, for its OpenAPI description: problem+json of each status.

Statuses every route of the API may give besides its own: 401 (no usable token) and 503 (the
store does not answer; ``Retry-After``) wherever a token is read; 400 (not a JSON document),
413 (over the body cap) and 422 (per-field errors) wherever a body is; 422 wherever a path,
query or header parameter is validated; 429 wherever a rate limit applies (SMTP checks, refused
writes, fingerprints)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

from .bodies import ProblemOut
from .problems import PROBLEM, TITLES

Responses = dict[int | str, dict[str, Any]]

ETAG = {
    "ETag": {
        "description": 'the record\'s version, quoted ("3"): the If-Match of a write',
        "schema": {"type": "string"},
    }
}

_SCOPE = "#/paths/~1v1~1scopes~1{address}"
RECORD_LINKS = {
    "replace": {
        "operationRef": f"{_SCOPE}/put",
        "parameters": {"path.address": "$request.path.address", "header.if-match": "$response.header.ETag"},
        "description": "replace this version of the record (compare-and-swap)",
    },
    "remove": {
        "operationRef": f"{_SCOPE}/delete",
        "parameters": {"path.address": "$request.path.address", "header.if-match": "$response.header.ETag"},
        "description": "remove this version of the record",
    },
    "read": {"operationRef": f"{_SCOPE}/get", "parameters": {"path.address": "$request.path.address"}},
}
"""What a record's answer (GET, PUT) leads to: its ETag is the If-Match of the next write."""

REQUIRED = "x-smtp-iac-required"
"""In a parameter's JSON schema: the parameter is required although the route reads it as
optional, to answer its absence itself (428 for a missing If-Match) rather than with FastAPI's
422. ``document`` moves it to the parameter's ``required``."""


def errors(*statuses: int, also: Responses | None = None) -> Responses:
    """problem+json answers of ``statuses`` (and the other answers in ``also``)."""
    out: Responses = dict(also or {})
    for s in statuses:
        out[s] = {"model": ProblemOut, "description": TITLES.get(s, "error"), "content": {PROBLEM: {}}}
        if s == 503:
            out[s]["headers"] = RETRY_AFTER
    return out


RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds after which the store is worth asking again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def json_response(body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as the route's answer, serialized once by pydantic (by alias, as FastAPI's
    ``response_model`` would, which then neither validates nor serializes it again)."""
    return Response(body.model_dump_json(by_alias=True), status_code, headers, media_type="application/json")
