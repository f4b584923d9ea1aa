"""The OpenAPI 3.1 document matches the routes both ways, is a valid document, and a bounded schemathesis
run against the real handlers (real OIDC tokens, real Postgres) finds no 5xx and no undocumented answer."""
from __future__ import annotations

import json

import flask
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from reporting.entrypoints.api.app import ALL_ROUTES
from reporting.entrypoints.api.openapi import DOCUMENT_PATH, _path, rendered
from reporting.entrypoints.http import handle
from reporting.entrypoints.http import wsgi_app as request_function_app
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from tests.conftest import API_AUDIENCE

METHODS = {"get", "post", "put", "patch", "delete"}
EXAMPLES_PER_OPERATION = 20  # bounded: this runs on every `make test`


def documented() -> set[tuple[str, str]]:
    doc = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return {(path, method.upper()) for path, item in doc["paths"].items() for method in item if method in METHODS}


def test_every_route_is_documented_and_every_documented_route_exists():
    routed = {(_path(r.path)[0], r.method) for r in ALL_ROUTES if r.auth != "none"}
    assert routed == documented()


def test_the_committed_document_is_current_and_valid_openapi_3_1():
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == rendered(ALL_ROUTES)
    validate(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")))


def test_the_api_serves_its_document_without_a_token(make_services, oidc_env):
    app = flask.Flask("openapi")
    with app.test_request_context("/api/v1/reports/openapi.json"):
        body, status, headers = handle(flask.request, make_services(env=oidc_env))
    assert status == 200 and json.loads(body)["openapi"] == "3.1.0"


@pytest.fixture
def wsgi_app(make_services, make_hotel, oidc_env, idp):
    """The request function as a WSGI app, with a tenant that has a hotel and a token that may do anything."""
    # Limits high enough that fuzzing reaches every operation's logic, not only 429s.
    services = make_services(env={**oidc_env, "REPORTING_RATE_LIMIT_PER_MINUTE": "100000",
                                  "REPORTING_MAX_RUNS_IN_FLIGHT": "100000"})
    hotel = make_hotel(services)
    token = idp.provider.issue(hotel.tenant_id, ["admin"], audience=API_AUDIENCE)
    # Something to list and read back, so responses with bodies get validated too (not only 404s).
    request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                        requested_by="fuzz", idempotency_key="seed", template_key="daily_occupancy"),
                       services.deps)
    services.relay.sweep()
    app = request_function_app(services, "request-function")
    app.config["TOKEN"] = token
    return app


def test_fuzzed_requests_get_no_5xx_and_only_documented_answers(wsgi_app):
    """Every operation, a bounded number of generated requests each (valid and invalid bodies, params)."""
    api = schemathesis.openapi.from_wsgi("/api/v1/reports/openapi.json", wsgi_app)
    auth = {"Authorization": f"Bearer {wsgi_app.config['TOKEN']}"}
    checks = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
              schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == len(documented())

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.headers = {**(case.headers or {}), **auth}
            case.call_and_validate(checks=checks)

        fuzz()
