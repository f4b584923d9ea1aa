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


def wsgi_app(services: Any, name: str = "reporting-request") -> Any:
    """The request function as a plain WSGI app over given Services: every path and method to `handle`,
    as functions-framework hands them to the function (for `make serve` and the OpenAPI fuzz test)."""
    import flask

    app = flask.Flask(name)
    methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]

    @app.route("/", defaults={"path": ""}, methods=methods)
    @app.route("/<path:path>", methods=methods)
    def entry(path: str) -> Any:  # noqa: ARG001 - the one function sees every path
        body, status, headers = handle(flask.request, services)
        return flask.Response(body, status=status, headers=headers)

    return app
