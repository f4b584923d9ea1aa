"""The request function's run routes, end to end through routing, OIDC (real keys, JWKS on localhost),
the tenant gate and Postgres RLS."""
from __future__ import annotations

import json
import time
import uuid

import flask
import pytest

from reporting.adapters.postgres.connection import fetch_one
from reporting.devenv.tokens import DevIdentityProvider
from reporting.domain.tenant import Residency, TenantStatus
from reporting.entrypoints.http import handle
from tests.conftest import API_AUDIENCE

APP = flask.Flask("api-tests")


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


def call(services, method, path, *, token=None, body=None, headers=None, raw=None, content_type=None):
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    with APP.test_request_context(path, method=method, data=data, headers=hdrs,
                                  content_type=content_type or ("application/json" if data is not None else None)):
        out, status, response_headers = handle(flask.request, services)
    parsed = json.loads(out) if response_headers.get("Content-Type") == "application/json" else out
    return status, parsed, response_headers


def token(idp, hotel, *roles, **kw):
    return idp.provider.issue(hotel.tenant_id, roles or ("operator",), audience=API_AUDIENCE, **kw)


def post_run(services, idp, hotel, key="k1", body=None, roles=("operator",), **kw):
    body = body if body is not None else {"property_id": hotel.property_id, "template_key": "daily_occupancy",
                                          "formats": ["pdf"]}
    return call(services, "POST", "/api/v1/reports/runs", token=token(idp, hotel, *roles, **kw), body=body,
                headers={"Idempotency-Key": key})


def test_request_then_get_then_download(api, make_hotel, idp, bus_for):
    hotel = make_hotel(api)
    status, run, headers = post_run(api, idp, hotel)
    assert status == 202 and run["state"] == "requested" and headers["Location"].endswith(run["run_id"])

    bus_for(api).sweep()
    status, got, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}", token=token(idp, hotel, "viewer"))
    assert status == 200 and got["state"] == "succeeded"
    [artifact] = got["artifacts"]
    assert artifact["format"] == "pdf" and len(artifact["sha256"]) == 64
    status, pdf, headers = call(api, "GET", artifact["download_url"], token=token(idp, hotel, "viewer"))
    assert status == 200 and pdf.startswith(b"%PDF-") and headers["Content-Type"] == "application/pdf"


def test_same_key_same_body_is_the_same_run_and_another_body_is_a_conflict(api, make_hotel, idp):
    hotel = make_hotel(api)
    first = post_run(api, idp, hotel, key="same")
    again = post_run(api, idp, hotel, key="same")
    assert (first[0], again[0]) == (202, 200) and first[1]["run_id"] == again[1]["run_id"]
    status, body, _ = post_run(api, idp, hotel, key="same", body={
        "property_id": hotel.property_id, "template_key": "daily_occupancy", "formats": ["csv"]})
    assert status == 409 and body["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"


def test_another_tenants_run_is_not_found(api, make_hotel, idp):
    mine, theirs = make_hotel(api), make_hotel(api)
    _, run, _ = post_run(api, idp, mine)
    status, body, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}", token=token(idp, theirs, "admin"))
    assert status == 404 and body["error"]["code"] == "MELMASTOON.REPORTING.NOT_FOUND"
    status, _, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}/artifacts/pdf",
                        token=token(idp, theirs, "admin"))
    assert status == 404


def test_roles_and_property_restrictions(api, make_hotel, idp):
    hotel = make_hotel(api)
    status, body, _ = post_run(api, idp, hotel, roles=("viewer",))
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"
    other_property = str(uuid.uuid4())
    status, body, _ = post_run(api, idp, hotel, property_ids=[other_property])
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"
    _, run, _ = post_run(api, idp, hotel, key="allowed")
    status, _, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}",
                        token=token(idp, hotel, "viewer", property_ids=[other_property]))
    assert status == 404  # a hotel-limited user does not learn other hotels' runs exist


@pytest.mark.parametrize("setup, method, expect_status, expect_code", [
    ({"reporting_v1": False}, "POST", 403, "MELMASTOON.IAM.AUTHZ_DENIED"),
    ({"reporting_v1": False}, "GET", 403, "MELMASTOON.IAM.AUTHZ_DENIED"),
    ({"status": TenantStatus.LOCKED_READONLY}, "POST", 423, "MELMASTOON.REPORTING.TENANT_LOCKED"),
    ({"residency": Residency.IN}, "POST", 403, "MELMASTOON.REPORTING.RESIDENCY_MISMATCH"),
    ({"residency": Residency.IN}, "GET", 403, "MELMASTOON.REPORTING.RESIDENCY_MISMATCH"),
])
def test_tenant_gate(api, make_hotel, idp, setup, method, expect_status, expect_code):
    hotel = make_hotel(api, **setup)
    if method == "POST":
        status, body, _ = post_run(api, idp, hotel)
    else:
        status, body, _ = call(api, "GET", f"/api/v1/reports/runs/{uuid.uuid4()}", token=token(idp, hotel, "admin"))
    assert (status, body["error"]["code"]) == (expect_status, expect_code)
    with api.uow(hotel.tenant_id) as uow:  # nothing half-written
        assert fetch_one(uow.connection, "SELECT count(*) AS n FROM reporting.report_runs")["n"] == 0


def test_a_locked_tenant_still_reads(api, make_hotel, idp):
    hotel = make_hotel(api, status=TenantStatus.LOCKED_READONLY)
    status, body, _ = call(api, "GET", f"/api/v1/reports/runs/{uuid.uuid4()}", token=token(idp, hotel, "viewer"))
    assert status == 404 and body["error"]["code"] == "MELMASTOON.REPORTING.NOT_FOUND"


def test_tokens_that_must_not_pass(api, make_hotel, idp):
    hotel = make_hotel(api)
    stranger = DevIdentityProvider(issuer=idp.issuer)  # claims our issuer, signs with its own key
    cases = {
        "none": None,
        "expired": token(idp, hotel, now=time.time() - 7200, ttl_seconds=600),
        "wrong key": stranger.issue(hotel.tenant_id, ["admin"], audience=API_AUDIENCE),
        "wrong audience": idp.provider.issue(hotel.tenant_id, ["admin"], audience="another-api"),
    }
    for name, bad in cases.items():
        status, body, headers = call(
            api, "POST", "/api/v1/reports/runs", token=bad, headers={"Idempotency-Key": name},
            body={"property_id": hotel.property_id, "template_key": "daily_occupancy"})
        assert status == 401, name
        assert body["error"]["code"] == "MELMASTOON.IAM.AUTHN_REQUIRED" and "WWW-Authenticate" in headers
        assert (bad or "x") not in json.dumps(body)


@pytest.mark.parametrize("kwargs, status, rule", [
    ({"body": {"property_id": "P", "template_key": "daily_occupancy", "colour": "red"}}, 422, "additionalProperties"),
    ({"body": {"property_id": "P"}}, 422, "oneOf"),
    ({"raw": b"{not json", "content_type": "application/json"}, 400, None),
    ({"raw": b"x" * (65 * 1024), "content_type": "application/json"}, 413, None),
    ({"body": {"property_id": "P", "template_key": "daily_occupancy"}, "headers": {}}, 400, None),
])
def test_bad_input_gets_a_typed_error(api, make_hotel, idp, kwargs, status, rule):
    hotel = make_hotel(api)
    if "body" in kwargs:
        kwargs["body"] = {k: (hotel.property_id if v == "P" else v) for k, v in kwargs["body"].items()}
    headers = kwargs.pop("headers", {"Idempotency-Key": "k"})
    got, body, _ = call(api, "POST", "/api/v1/reports/runs", token=token(idp, hotel), headers=headers, **kwargs)
    assert got == status
    assert body["error"]["code"] in ("MELMASTOON.REPORTING.VALIDATION_FAILED", "MELMASTOON.REPORTING.PAYLOAD_TOO_LARGE")
    if rule:
        assert rule in {e["rule"] for e in body["error"]["details"]["errors"]}
    if rule == "additionalProperties":
        assert body["error"]["details"]["errors"][0]["unknown_fields"] == ["colour"]
        assert "red" not in json.dumps(body)


def test_unknown_routes_and_methods(api, make_hotel, idp):
    hotel = make_hotel(api)
    assert call(api, "GET", "/api/v1/reports/nothing", token=token(idp, hotel))[0] == 404
    assert call(api, "DELETE", "/api/v1/reports/runs", token=token(idp, hotel))[0] == 405


def test_list_runs_pages_newest_first_and_filters(api, make_hotel, idp, clock):
    hotel, other = make_hotel(api), make_hotel(api)
    ids = []
    for i in range(5):
        ids.append(post_run(api, idp, hotel, key=f"list-{i}")[1]["run_id"])
        clock.advance(seconds=1)
    post_run(api, idp, other, key="theirs")
    viewer = token(idp, hotel, "viewer")

    seen, cursor = [], None
    while True:
        path = "/api/v1/reports/runs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = call(api, "GET", path, token=viewer)
        assert status == 200 and len(page["runs"]) <= 2
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, every run once, none of the other tenant's

    status, page, _ = call(api, "GET", "/api/v1/reports/runs?state=succeeded", token=viewer)
    assert status == 200 and page["runs"] == []
    status, page, _ = call(api, "GET", f"/api/v1/reports/runs?property_id={hotel.property_id}&state=requested",
                           token=viewer)
    assert len(page["runs"]) == 5
    for bad in ("state=bogus", "limit=0", "cursor=%%%", "run_date_from=yesterday", "colour=red"):
        status, body, _ = call(api, "GET", f"/api/v1/reports/runs?{bad}", token=viewer)
        assert status == 400 and body["error"]["code"] == "MELMASTOON.REPORTING.VALIDATION_FAILED", bad


def test_cancel_then_cancel_again_is_a_conflict(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, run, _ = post_run(api, idp, hotel)
    status, cancelled, _ = call(api, "POST", f"/api/v1/reports/runs/{run['run_id']}:cancel",
                                token=token(idp, hotel), body={"reason": "wrong date"})
    assert status == 200 and cancelled["state"] == "cancelled"
    status, body, _ = call(api, "POST", f"/api/v1/reports/runs/{run['run_id']}:cancel", token=token(idp, hotel))
    assert status == 409 and body["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"
    status, _, _ = call(api, "POST", f"/api/v1/reports/runs/{run['run_id']}:cancel",
                        token=token(idp, hotel, "viewer"))
    assert status == 403


def test_rerender_supersedes_and_replays_idempotently(api, make_hotel, idp, bus_for):
    hotel = make_hotel(api)
    _, run, _ = post_run(api, idp, hotel)
    bus_for(api).sweep()
    path = f"/api/v1/reports/runs/{run['run_id']}:rerender"
    status, new, headers = call(api, "POST", path, token=token(idp, hotel), headers={"Idempotency-Key": "rr"})
    assert status == 202 and new["supersedes"] == run["run_id"] and new["run_id"] != run["run_id"]
    again = call(api, "POST", path, token=token(idp, hotel), headers={"Idempotency-Key": "rr"})
    assert again[0] == 200 and again[1]["run_id"] == new["run_id"]
    status, old, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}", token=token(idp, hotel, "viewer"))
    assert old["state"] == "superseded" and old["superseded_by"] == new["run_id"] and old["artifacts"]


def test_an_operators_cancel_reason_stays_in_the_audit_log_and_out_of_the_event(api, make_hotel, idp):
    from reporting.adapters.postgres.connection import fetch_all
    from tests.integration.helpers import outbox

    hotel = make_hotel(api)
    _, run, _ = post_run(api, idp, hotel)
    call(api, "POST", f"/api/v1/reports/runs/{run['run_id']}:cancel", token=token(idp, hotel),
         body={"reason": "guest Jane Roe asked us to stop"})
    [event] = outbox(api, hotel.tenant_id, "report_run.cancelled.v1")
    assert "Jane" not in json.dumps(event["envelope"]) and event["envelope"]["data"]["reason"] == "cancelled by operator"
    with api.uow(hotel.tenant_id) as uow:
        [entry] = fetch_all(uow.connection, "SELECT details FROM reporting.audit_log WHERE action = 'report_run.cancel'")
    assert entry["details"]["reason"] == "guest Jane Roe asked us to stop"
