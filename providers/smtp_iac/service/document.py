"""The OpenAPI document as the service serves it (``/openapi.json``) and publishes it
(``schemas/service.openapi.json``): FastAPI's, with what FastAPI says that the service does not
do taken out. Clients are generated from it, so it must say exactly what the server does.

- A query or header parameter is sent or left out; it is never ``null`` (FastAPI writes an
  optional one as ``anyOf: [..., {"type": "null"}]``, which a client sends as the text
  ``null``, a valid stack name or a tag that matches no version).
- A parameter marked ``responses.REQUIRED`` is required (the route answers its absence).
- Errors are problem+json (``problems``) and nothing else: not also ``application/json``
  (FastAPI lists a response's model under it), and a validation error is not FastAPI's default
  ``HTTPValidationError``, which it lists for any route with parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .problems import PROBLEM, TITLES
from .responses import REQUIRED

_PROBLEM_REF = "#/components/schemas/ProblemOut"
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")


class ServiceApp(FastAPI):
    """FastAPI whose ``openapi()`` (``/openapi.json``) is the exact document."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = exact(super().openapi())
        return self.openapi_schema


def exact(doc: dict[str, Any]) -> dict[str, Any]:
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _parameter(parameter)
            responses = operation.get("responses", {})
            answer = responses.get("422")
            if answer is not None and PROBLEM not in answer.get("content", {}):
                responses["422"] = {"description": TITLES[422], "content": {PROBLEM: {}}}
            for answer in responses.values():
                content = answer.get("content", {})
                if PROBLEM in content:  # an error is problem+json only, never application/json
                    content.pop("application/json", None)
                    content[PROBLEM] = {"schema": {"$ref": _PROBLEM_REF}}
    schemas = doc.get("components", {}).get("schemas", {})
    for name in _FASTAPI_ONLY:
        schemas.pop(name, None)
    return doc


def _parameter(parameter: dict[str, Any]) -> None:
    schema = dict(parameter.get("schema", {}))  # a copy: it may be a type's own (WithJsonSchema)
    if schema.pop(REQUIRED, False):
        parameter["required"] = True
    branches = schema.pop("anyOf", None)
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        schema = {**kept[0], **schema} if len(kept) == 1 else {"anyOf": branches, **schema}
    parameter["schema"] = schema
