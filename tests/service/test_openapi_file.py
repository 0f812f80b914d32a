"""``schemas/service.openapi.json`` is the service's published contract for API clients: it is
exactly what the running service serves at ``/openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path

from service_support import Svc

from smtp_iac.service.app import openapi_document

PUBLISHED = Path(__file__).resolve().parents[2] / "schemas" / "service.openapi.json"


def test_the_published_document_is_the_services_own(svc: Svc) -> None:
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert published == openapi_document(), (
        "schemas/service.openapi.json is out of date: .venv/bin/python -m smtp_iac.service.app > "
        "schemas/service.openapi.json"
    )
    with svc.client() as c:
        assert c.get("/openapi.json").json() == published
    assert published["openapi"].startswith("3.1") and "/v1/scopes/{address}" in published["paths"]
