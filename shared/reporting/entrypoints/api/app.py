"""Routing, authentication and the error envelope for the request function.

Order of work per call (plan §1.2: the flag check comes before any other work
on tenant data): route → authenticate (OIDC, fail closed) → role → the use case,
whose first step is the tenant gate (flag → residency → lock). Every failure is a
typed DomainError rendered in the SPEC §6 envelope; anything else is a 500 with
a correlation id and no internals.
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound as NoRoute
from werkzeug.routing import Map, Rule

from reporting.domain.errors import AuthnRequired, DomainError, NotFound, RateLimited, ValidationFailed
from reporting.domain.principal import Principal
from reporting.entrypoints.api import openapi, runs, schedules, slo, submissions, templates
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.logs import get_logger
from reporting.service_layer.fairness import admit_request

log = get_logger(__name__)
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# The one routing table (the OpenAPI test reads it): each API module declares its routes.
def _openapi(api: ApiRequest) -> Response:
    return (openapi.DOCUMENT_PATH.read_text(encoding="utf-8"), 200,
            {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"})


ALL_ROUTES: list[Route] = [*runs.ROUTES, *templates.ROUTES, *schedules.ROUTES, *slo.ROUTES, *submissions.ROUTES,
                           Route("/api/v1/reports/openapi.json", "GET", "openapi", _openapi, auth="none",
                                 summary="This document")]
BY_ENDPOINT: dict[str, Route] = {r.endpoint: r for r in ALL_ROUTES}
ROUTES = Map([Rule(r.path, methods=[r.method], endpoint=r.endpoint) for r in ALL_ROUTES],
             strict_slashes=False, merge_slashes=False)
NO_PRINCIPAL = Principal(subject="-", tenant_id="-", roles=frozenset(), property_ids=frozenset(), issuer="-")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(exc: DomainError, correlation_id: str | None = None) -> Response:
    status = int(exc.details.get("status", exc.http_status)) if isinstance(exc, ValidationFailed) else exc.http_status
    details = {k: v for k, v in exc.details.items() if k != "status"}
    headers = {"X-Correlation-Id": correlation_id} if correlation_id else {}
    if isinstance(exc, AuthnRequired):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return json_response(error_body(exc.code, exc.message, details), status, headers)


def _bearer(request: Any) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthnRequired("a Bearer ID token is required")
    return token.strip()


def _correlation_id(request: Any) -> str:
    given = request.headers.get("X-Correlation-Id", "")
    return given.lower() if UUID_RE.match(given) else str(uuid.uuid4())


def handle(request: Any, services: Any) -> Response:
    started = time.perf_counter()
    correlation_id = _correlation_id(request)
    endpoint, tenant_id = "-", None
    try:
        adapter = ROUTES.bind("localhost", path_info=request.path)
        try:
            endpoint, args = adapter.match(request.path, method=request.method)
        except MethodNotAllowed:
            raise ValidationFailed("method not allowed on this route", status=405) from None
        except NoRoute:
            raise NotFound("no such route") from None
        route = BY_ENDPOINT[endpoint]
        if route.auth == "none":  # the API's own description; nothing tenant-scoped
            body, status, headers = route.handler(None)
            return body, status, {**headers, "X-Correlation-Id": correlation_id}
        verified = services.verifier.verify(_bearer(request))
        if route.auth == "scheduler":
            if verified.kind != "scheduler":  # a user's token on an internal route
                raise AuthnRequired("this route needs the scheduler's service-account token")
            api = ApiRequest(request, NO_PRINCIPAL, services.deps, correlation_id, services, verified.email)
        else:
            if verified.principal is None:  # a scheduler's token on a tenant route
                raise AuthnRequired("this route needs a user token")
            tenant_id = verified.principal.tenant_id
            # The flag's owner is tenant-service: refresh the mirror row if it is older than its TTL.
            services.tenant_freshness.ensure(tenant_id, services.deps)
            # Fairness: writes count against the tenant's request-rate window, reads against a 10x one.
            admit_request(tenant_id, request.method, services.deps, services.fairness)
            api = ApiRequest(request, verified.principal, services.deps, correlation_id, services)
        body, status, headers = route.handler(api, **{k: str(v) for k, v in args.items()})
        headers = {**headers, "X-Correlation-Id": correlation_id}
    except DomainError as exc:
        body, status, headers = error_response(exc, correlation_id)
    except Exception:
        log.exception("request failed", extra={"correlation_id": correlation_id, "route": endpoint})
        body, status, headers = json_response(
            error_body("MELMASTOON.REPORTING.INTERNAL", "internal error; quote the correlation id",
                       {"correlation_id": correlation_id}), 500, {"X-Correlation-Id": correlation_id})
    log.info("http request", extra={"method": request.method, "route": endpoint, "status": status,
                                    "tenant_id": tenant_id, "correlation_id": correlation_id,
                                    "latency_ms": round((time.perf_counter() - started) * 1000, 1)})
    return body, status, headers
