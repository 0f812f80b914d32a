"""The floor the settings service is measured against: a bare FastAPI app, served with the
service's own server settings (``service.server.server_config``: the same protocol, loop,
keep-alive and limits), that answers the two measured routes with a fixed body after the
least a real route must do, a bearer token compared in constant time.

    .venv/bin/python benchmarks/floor_app.py --port 8099 --token TOKEN --body-get FILE --body-put FILE

- ``GET /v1/organizations/{org}/effective``: the body in ``--body-get`` (a real answer of the
  service, so both send the same bytes).
- ``PUT /v1/scopes/{address}``: reads and parses the JSON body, then answers ``--body-put``
  with an ``ETag``.

No store, no access rules, no telemetry: what is left of a request is the framework and the
server, which is what "the framework's floor" means in benchmarks/service_floor.py.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "providers")]

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402

from smtp_iac.service import server  # noqa: E402


def floor_app(token: str, body_get: bytes, body_put: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    @app.get("/v1/organizations/{org:path}/effective")
    async def effective(org: str, request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"title": "unauthorized"}, status_code=401)
        return Response(body_get, media_type="application/json")

    @app.put("/v1/scopes/{address:path}")
    async def put(address: str, request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"title": "unauthorized"}, status_code=401)
        json.loads(await request.body())
        return Response(body_put, media_type="application/json", headers={"ETag": '"1"'})

    @app.get("/v1/scopes/{address:path}")
    async def get_scope(address: str, request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"title": "unauthorized"}, status_code=401)
        return Response(body_put, media_type="application/json", headers={"ETag": '"1"'})

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--body-get", type=Path, required=True)
    ap.add_argument("--body-put", type=Path, required=True)
    args = ap.parse_args()
    app = floor_app(args.token, args.body_get.read_bytes(), args.body_put.read_bytes())
    server.run(server.server_config(app, host="127.0.0.1", port=args.port))


if __name__ == "__main__":
    main()
