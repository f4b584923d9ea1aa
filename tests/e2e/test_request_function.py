"""The request Cloud Function's own entry point, configured from the environment as in the cloud."""
from __future__ import annotations


import flask
import pytest

from reporting import bootstrap
from reporting.domain.errors import TenantLocked
from reporting.entrypoints.http import error_response
from tests.conftest import API_AUDIENCE
from tests.e2e.helpers import load_function

pytestmark = pytest.mark.e2e


def load_request_function():
    return load_function("request").request


def call(fn, token=None, key="e2e", body=None):
    app = flask.Flask("t")
    headers = {"Idempotency-Key": key, **({"Authorization": f"Bearer {token}"} if token else {})}
    with app.test_request_context("/api/v1/reports/runs", method="POST", headers=headers, json=body or {}):
        body, status, headers = fn(flask.request)
    return status, flask.json.loads(body), headers


@pytest.fixture
def cold_instance(monkeypatch, tmp_path, migrated):
    def configure(env):
        for key, value in {"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated.app.url(),
                           "REPORTING_ARTIFACT_DIR": str(tmp_path / "a"), **env}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(bootstrap, "_services", None)
        return load_request_function()

    yield configure
    if bootstrap._services is not None:
        bootstrap._services.close()
        bootstrap._services = None


def test_with_no_trusted_issuer_configured_every_call_is_refused(cold_instance, monkeypatch):
    monkeypatch.delenv("REPORTING_OIDC_ISSUERS", raising=False)
    status, body, headers = call(cold_instance({}), token="anything")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "MELMASTOON.IAM.AUTHN_REQUIRED"


def test_a_configured_instance_accepts_a_valid_token_and_refuses_a_missing_one(cold_instance, oidc_env, idp,
                                                                               make_services, make_hotel):
    hotel = make_hotel(make_services())
    fn = cold_instance(oidc_env)
    assert call(fn)[0] == 401
    status, run, headers = call(fn, idp.provider.issue(hotel.tenant_id, ["operator"], audience=API_AUDIENCE),
                                body={"property_id": hotel.property_id, "template_key": "daily_occupancy"})
    assert status == 202 and run["state"] == "requested" and headers["Location"].endswith(run["run_id"])


def test_domain_errors_map_to_the_error_envelope():
    body, status, _ = error_response(TenantLocked("tenant is read-only", tenant_status="locked_readonly"))
    assert status == 423
    assert flask.json.loads(body) == {"error": {"code": "MELMASTOON.REPORTING.TENANT_LOCKED",
                                                "message": "tenant is read-only",
                                                "details": {"tenant_status": "locked_readonly"}}}
