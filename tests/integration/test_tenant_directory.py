"""The flag's owner is tenant-service (plan §1.2): the API refreshes the tenant mirror from it with a short
TTL, keeps the mirror through an outage, and never lets it overwrite this service's own lock status."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import flask
import pytest

from reporting.domain.tenant import TenantStatus
from reporting.entrypoints.http import handle
from tests.conftest import API_AUDIENCE


class TenantService:
    """A stand-in for tenant-service's GET /v1/tenants/{id} (a test fake of an external service)."""

    def __init__(self) -> None:
        self.tenants: dict[str, dict] = {}
        self.calls = 0
        self.down = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.calls += 1
                tenant_id = self.path.rsplit("/", 1)[-1]
                if owner.down:
                    self.send_error(503)
                    return
                if tenant_id not in owner.tenants:
                    self.send_error(404)
                    return
                data = json.dumps(owner.tenants[tenant_id]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def tenant_service():
    service = TenantService()
    yield service
    service.server.shutdown()


@pytest.fixture
def api(make_services, oidc_env, tenant_service):
    return make_services(env={**oidc_env, "REPORTING_TENANT_SERVICE_URL": tenant_service.url,
                              "REPORTING_TENANT_TTL_SECONDS": "60"})


def known(tenant_service, hotel, *, flag: bool) -> None:
    tenant_service.tenants[hotel.tenant_id] = {
        "tenant_id": hotel.tenant_id, "name": "Group", "residency": "AF", "stored_region": "local-af",
        "default_locale": "en", "features": {"reporting_v1": flag}, "status": "active"}


def list_runs(api, idp, hotel):
    app = flask.Flask("t")
    token = idp.provider.issue(hotel.tenant_id, ["viewer"], audience=API_AUDIENCE)
    with app.test_request_context("/api/v1/reports/runs", headers={"Authorization": f"Bearer {token}"}):
        body, status, _ = handle(flask.request, api)
    return status, json.loads(body)


def test_a_flag_turned_off_in_tenant_service_closes_the_api_within_the_ttl(api, make_hotel, idp, tenant_service,
                                                                           clock):
    hotel = make_hotel(api)
    known(tenant_service, hotel, flag=True)
    assert list_runs(api, idp, hotel)[0] == 200
    known(tenant_service, hotel, flag=False)
    assert list_runs(api, idp, hotel)[0] == 200  # within the TTL: the mirror as last refreshed
    calls = tenant_service.calls
    clock.advance(seconds=61)
    status, body = list_runs(api, idp, hotel)
    assert (status, body["error"]["code"]) == (403, "MELMASTOON.IAM.AUTHZ_DENIED")
    assert tenant_service.calls == calls + 1


def test_a_tenant_new_to_the_mirror_is_filled_from_tenant_service(api, make_hotel, idp, tenant_service):
    hotel = make_hotel(api, reporting_v1=False)  # the mirror says off…
    known(tenant_service, hotel, flag=True)  # …tenant-service says on: it wins
    assert list_runs(api, idp, hotel)[0] == 200


def test_an_outage_keeps_the_mirror_and_never_opens_the_gate(api, make_hotel, idp, tenant_service, caplog):
    allowed, refused = make_hotel(api), make_hotel(api, reporting_v1=False)
    tenant_service.down = True
    assert list_runs(api, idp, allowed)[0] == 200
    assert list_runs(api, idp, refused)[0] == 403
    assert any("tenant-service unavailable" in r.getMessage() for r in caplog.records)


def test_a_tenant_unknown_to_tenant_service_loses_the_flag(api, make_hotel, idp, tenant_service):
    hotel = make_hotel(api)
    assert list_runs(api, idp, hotel)[0] == 403  # 404 from tenant-service: reporting is off for it


def test_the_refresh_never_overwrites_this_services_lock(api, make_hotel, idp, tenant_service):
    hotel = make_hotel(api, status=TenantStatus.LOCKED_READONLY)  # a residency move in progress
    known(tenant_service, hotel, flag=True)  # tenant-service says "active"
    assert list_runs(api, idp, hotel)[0] == 200
    with api.uow(hotel.tenant_id) as uow:
        assert uow.tenants.get(hotel.tenant_id).status is TenantStatus.LOCKED_READONLY
