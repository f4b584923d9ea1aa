"""What a route handler gets: the authenticated principal, the request, the use-case dependencies."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from reporting.domain.errors import NotFound
from reporting.domain.principal import Principal, Role
from reporting.service_layer.dependencies import Dependencies

Response = tuple[Any, int, dict[str, str]]


@dataclass(frozen=True)
class Route:
    """One API route. `auth`: "user" (a tenant user's token: Principal) or "scheduler" (a Google-issued
    service-account token from an allowed Cloud Scheduler identity; no tenant)."""

    path: str  # werkzeug rule, e.g. "/api/v1/reports/runs/<uuid:run_id>:cancel"
    method: str
    endpoint: str
    handler: Callable[..., Response]
    auth: str = "user"
    # For the OpenAPI document (entrypoints/api/openapi.py): what the route takes and answers.
    summary: str = ""
    role: str | None = None  # the least role that may call it
    body: dict | None = None  # JSON Schema of the request body
    body_required: bool = True
    query: tuple[tuple[str, dict], ...] = ()  # (name, schema) of query parameters
    headers: tuple[tuple[str, dict, bool], ...] = ()  # (name, schema, required) of request headers
    responses: tuple[tuple[int, str | None], ...] = ((200, None),)  # (status, component schema name or media)
    errors: tuple[int, ...] = ()  # statuses besides the common 400/401/403/404/429/500


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return (json.dumps(body, default=str, ensure_ascii=False), status,
            {"Content-Type": "application/json", **(headers or {})})


@dataclass
class ApiRequest:
    request: Any  # flask.Request
    principal: Principal  # for scheduler routes: a placeholder with no roles (use `caller`)
    deps: Dependencies
    correlation_id: str
    services: Any = None  # the Services (settings, relay …) for routes that need more than use cases
    caller: str | None = None  # the verified service-account email on scheduler routes

    def require(self, role: Role) -> Principal:
        self.principal.require(role)
        return self.principal

    def property_filter(self, requested: str | None) -> list[str] | None:
        """The properties a listing may show: the one asked for (if the user may see it; else none — an
        empty list, never an error that would confirm it exists), or all the user may see (None = all)."""
        if requested is not None:
            return [requested] if self.principal.may_access_property(requested) else []
        return sorted(self.principal.property_ids) if self.principal.property_ids is not None else None

    def require_property_or_not_found(self, property_id: str) -> None:
        """A user limited to some hotels does not learn that other hotels' runs exist."""
        if not self.principal.may_access_property(property_id):
            raise NotFound("run not found")
