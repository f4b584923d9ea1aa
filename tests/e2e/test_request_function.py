"""The request function fails closed: no trusted issuer configured → 401 in the SPEC §6 envelope."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import flask
import pytest

from reporting.domain.errors import TenantLocked
from reporting.entrypoints.http import error_response

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_request_function_refuses_every_call_until_authentication_exists():
    spec = importlib.util.spec_from_file_location("fn_request", REPO / "functions" / "request" / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = flask.Flask("t")
    with app.test_request_context("/api/v1/reports/runs", method="POST", json={"template_key": "x"}):
        body, status, headers = module.request(flask.request)
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert flask.json.loads(body)["error"]["code"] == "MELMASTOON.IAM.AUTHN_REQUIRED"


def test_domain_errors_map_to_the_error_envelope():
    body, status, _ = error_response(TenantLocked("tenant is read-only", tenant_status="locked_readonly"))
    assert status == 423
    assert flask.json.loads(body) == {"error": {"code": "MELMASTOON.REPORTING.TENANT_LOCKED",
                                                "message": "tenant is read-only",
                                                "details": {"tenant_status": "locked_readonly"}}}
