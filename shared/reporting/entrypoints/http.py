"""HTTP edge of the request function: the SPEC §6 API (routes, OIDC, envelope) lives in entrypoints.api."""
from __future__ import annotations

from typing import Any

from reporting.entrypoints.api.app import error_body, error_response, handle as handle_api

__all__ = ["error_body", "error_response", "handle"]


def handle(request: Any, services: Any = None) -> Any:
    if services is None:
        from reporting.bootstrap import services as process_services

        services = process_services()
    return handle_api(request, services)
