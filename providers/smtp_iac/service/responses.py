"""The error answers a route may give, for its OpenAPI description: problem+json of each status."""

from __future__ import annotations

from typing import Any

from .bodies import ProblemOut
from .problems import PROBLEM, TITLES

Responses = dict[int | str, dict[str, Any]]


def errors(*statuses: int, also: Responses | None = None) -> Responses:
    """problem+json answers of ``statuses`` (and the other answers in ``also``)."""
    out: Responses = dict(also or {})
    for s in statuses:
        out[s] = {"model": ProblemOut, "description": TITLES.get(s, "error"), "content": {PROBLEM: {}}}
    return out
