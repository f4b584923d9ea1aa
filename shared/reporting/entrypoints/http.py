"""HTTP edge of the request function: the SPEC §6 error envelope, failing closed until authentication exists.

The routes, OIDC verification, flag gate and rate limits land with the API issue
(#3). Until then every call is refused with 401 AUTHN_REQUIRED: an endpoint that
cannot authenticate its caller must not serve anyone.
"""
from __future__ import annotations

import json
from typing import Any

from reporting.domain.errors import AuthnRequired, DomainError


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(exc: DomainError) -> tuple[str, int, dict[str, str]]:
    """Map a typed domain error to (body, status, headers) in the SPEC §6 envelope."""
    return (json.dumps(error_body(exc.code, exc.message, exc.details), default=str), exc.http_status,
            {"Content-Type": "application/json"})


def handle(request: Any) -> tuple[str, int, dict[str, str]]:
    body, status, headers = error_response(
        AuthnRequired("no trusted token issuer is configured for this deployment"))
    return body, status, {**headers, "WWW-Authenticate": "Bearer"}
