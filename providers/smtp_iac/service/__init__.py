"""The settings service (``smtp-iac serve``): the store behind an HTTP API with the platform's
roles, for the consoles, the platform's mail sender and pipelines that must not hold the
database or the store key (SPEC "Service").

Layout, outside in: ``app`` (the ASGI application, put together once per process), ``limits``
(request body cap, per-token rate limits), ``telemetry`` (one JSON log line per request,
Prometheus metrics), ``auth`` (bearer token -> ``TokenInfo``), ``permits`` (whether a request
may go on: one dependency, ``Allow``, asks ``access.decide``), the routes (``scopes``,
``organizations``, ``tiermap``, ``health``, ``clients``, ``ops``; none imports from another;
``health`` also runs the relay checks in the background), ``records``
(records out, settings in, ETag preconditions), ``bodies`` (request and response models: the
OpenAPI schema), ``responses`` (the error answers each route documents), ``problems`` (every
error as ``application/problem+json``), ``relaypolicy`` (``--deny-relay``), ``context`` (what
routes work with), ``config`` (what ``serve`` was started with). Decisions are not made here: who may do what is
``access.decide``; every record write goes through ``write.ScopeWriter``; checks are
``verify.run_check``. Stateless: any number of instances may serve one PostgreSQL store.
"""
