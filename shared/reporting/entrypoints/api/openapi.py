"""The OpenAPI 3.1 document, generated from the one routing table and the same JSON Schemas the handlers
validate with — so the document cannot drift from the code. `reporting api openapi` writes it to
openapi.json beside this module (committed; `--check` in CI), and the API serves it unauthenticated."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from reporting.entrypoints.api.context import Route

DOCUMENT_PATH = Path(__file__).resolve().parent / "openapi.json"
COMMON_ERRORS = (400, 401, 403, 404, 429, 500)
ERROR_TEXT = {400: "Malformed request", 401: "Missing, expired or untrusted token", 403: "Flag off, role, property "
              "or residency not allowed", 404: "Not found (also another tenant's ids)", 405: "Method not allowed",
              409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 422: "Validation failed",
              423: "Tenant locked (residency move)", 429: "Rate limited (see Retry-After)", 500: "Internal error"}
_CONVERTER = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

# Component schemas, registered by the API modules (name -> JSON Schema).
COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "details"], "additionalProperties": False,
            "properties": {"code": {"type": "string", "pattern": "^MELMASTOON\\.[A-Z_]+\\.[A-Z_]+$"},
                           "message": {"type": "string"}, "details": {"type": "object"}}}}},
}


def register(name: str, schema: dict[str, Any]) -> str:
    COMPONENTS[name] = schema
    return name


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params: list[dict[str, Any]] = []

    def replace(match: re.Match) -> str:
        conv, args, name = match["conv"], match["args"], match["name"]
        schema: dict[str, Any] = {"type": "string"}
        if conv == "uuid":
            schema = {"type": "string", "format": "uuid"}
        elif conv == "any":
            schema = {"type": "string", "enum": [a.strip() for a in (args or "").split(",")]}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _CONVERTER.sub(replace, rule), params


def _response(status: int, what: str | None) -> dict[str, Any]:
    if status == 204 or what is None and status == 204:
        return {"description": "No content"}
    if 300 <= status < 400:  # a redirect: no body, the target in Location
        return {"description": what or "Redirect", "headers": {"Location": {
            "description": "Where to fetch it (a short-lived signed URL)", "schema": {"type": "string"}}}}
    if what and "/" in what:  # a media type: a file download
        return {"description": "The artifact", "content": {m.strip(): {"schema": {"type": "string",
                                                                                  "format": "binary"}}
                                                           for m in what.split("|")}}
    schema = {"$ref": f"#/components/schemas/{what}"} if what else {"type": "object"}
    return {"description": "OK" if status < 300 else ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": schema}}}


def _operation(route: Route) -> dict[str, Any]:
    _, path_params = _path(route.path)
    op: dict[str, Any] = {
        "operationId": route.endpoint, "summary": route.summary or route.endpoint.replace("_", " "),
        "security": [{"oidc": []}],
        "parameters": path_params
        + [{"name": n, "in": "query", "required": False, "schema": s} for n, s in route.query]
        + [{"name": n, "in": "header", "required": req, "schema": s} for n, s, req in route.headers],
        "responses": {str(status): _response(status, what) for status, what in route.responses},
    }
    if route.role:
        op["description"] = f"Needs role `{route.role}` (viewer ⊂ operator ⊂ admin)."
    if route.auth == "scheduler":
        op["description"] = "Internal: Cloud Scheduler's Google-issued OIDC token from an allowed service account."
    for status in sorted(set(COMMON_ERRORS) | set(route.errors)):
        op["responses"].setdefault(str(status), {
            "description": ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required,
                             "content": {"application/json": {"schema": route.body}}}
    return op


def document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.auth == "none":
            continue  # the document does not describe itself
        path, _ = _path(route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "reporting-service API", "version": "1.0.0",
                 "description": "Melmastoon reporting: report runs, templates, schedules, submissions (SPEC §6). "
                                "Errors use the MELMASTOON.<AREA>.<REASON> envelope."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(COMPONENTS.items())),
                       "securitySchemes": {"oidc": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                    "description": "OIDC ID token from a trusted issuer"}}},
    }


def rendered(routes: list[Route]) -> str:
    return json.dumps(document(routes), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
