"""Schedule routes end to end: OIDC tokens, roles, the tenant gate, RLS isolation and the archived-version rule."""
from __future__ import annotations

import json
import uuid

import flask
import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_one
from reporting.catalog.platform import platform_templates
from reporting.domain.tenant import TenantStatus
from reporting.entrypoints.http import handle
from reporting.service_layer.commands import PublishTemplateVersion
from reporting.service_layer.templates import publish_template_version
from tests.conftest import API_AUDIENCE

pytestmark = pytest.mark.integration

APP = flask.Flask("schedule-api-tests")
SCHEDULES = "/api/v1/reports/schedules"
LAYOUT = "<html><body>{% for r in rows %}<p>{{ r.rooms_sold }}</p>{% endfor %}</body></html>"


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


def call(services, method, path, *, token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    with APP.test_request_context(path, method=method, data=data, headers=headers,
                                  content_type="application/json" if data is not None else None):
        out, status, response_headers = handle(flask.request, services)
    parsed = json.loads(out) if response_headers.get("Content-Type") == "application/json" else out
    return status, parsed, response_headers


def token(idp, hotel, *roles, **kw):
    return idp.provider.issue(hotel.tenant_id, roles or ("admin",), audience=API_AUDIENCE, **kw)


def create(api, idp, hotel, **fields):
    body = {"property_id": hotel.property_id, "template_key": "daily_occupancy", "cron": "0 6 * * *", **fields}
    body = {k: v for k, v in body.items() if v is not None}  # template_key=None: name the version instead
    return call(api, "POST", SCHEDULES, token=token(idp, hotel, "admin"), body=body)


def platform_version_id() -> str:
    return next(t for t in platform_templates() if t.key == "daily_occupancy").template_version_id


def own_version(api, hotel) -> str:
    dataset = next(t for t in platform_templates() if t.key == "daily_occupancy").dataset_sql
    return publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key=f"own_{uuid.uuid4().hex[:8]}", name="Own", layout=LAYOUT,
        dataset_sql=dataset, params_schema={"type": "object"}, published_by="admin@test"),
        api.deps).template_version_id


def archive(migrated_for, version_id: str) -> None:
    """What the template archive route does to the row; done as the owner to keep this test about schedules."""
    conn = connect(migrated_for("AF").owner)
    try:
        execute(conn, """UPDATE reporting.template_versions SET status = 'archived', archived_at = now()
                          WHERE template_version_id = :v::uuid""", {"v": version_id})
        conn.commit()
    finally:
        conn.close()


def test_admin_creates_reads_lists_updates_and_deletes_a_schedule(api, make_hotel, idp, clock):
    hotel = make_hotel(api)
    status, created, headers = create(api, idp, hotel)
    assert status == 201 and headers["Location"].endswith(created["schedule_id"])
    # Defaults: the property's zone (Asia/Kabul) and locale, the pinned version's formats.
    assert created["timezone"] == "Asia/Kabul" and created["locale"] == "en"
    assert created["template_version_id"] == platform_version_id()
    assert created["next_fire_at"] == "2026-11-25T01:30:00+00:00"  # 06:00 Kabul (+04:30) after 24 Nov 06:00Z
    path = f"{SCHEDULES}/{created['schedule_id']}"

    status, got, _ = call(api, "GET", path, token=token(idp, hotel, "viewer"))
    assert status == 200 and got == created
    status, listed, _ = call(api, "GET", f"{SCHEDULES}?property_id={hotel.property_id}",
                             token=token(idp, hotel, "viewer"))
    assert status == 200 and [s["schedule_id"] for s in listed["schedules"]] == [created["schedule_id"]]

    clock.advance(hours=1)
    status, updated, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"),
                              body={"cron": "30 7 * * 1-5", "timezone": "Asia/Riyadh", "formats": ["csv"],
                                    "template_version_id": platform_version_id()})
    assert status == 200 and updated["cron"] == "30 7 * * 1-5" and updated["formats"] == ["csv"]
    assert updated["next_fire_at"] == "2026-11-25T04:30:00+00:00"  # Wed 07:30 Riyadh (+03:00)
    status, off, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"), body={"enabled": False})
    assert status == 200 and off["enabled"] is False and off["next_fire_at"] is None

    status, body, _ = call(api, "DELETE", path, token=token(idp, hotel, "admin"))
    assert status == 204 and body == ""
    for method in ("GET", "DELETE"):
        status, body, _ = call(api, method, path, token=token(idp, hotel, "admin"))
        assert status == 404 and body["error"]["code"] == "MELMASTOON.REPORTING.NOT_FOUND"
    status, listed, _ = call(api, "GET", SCHEDULES, token=token(idp, hotel, "viewer"))
    assert listed["schedules"] == []
    with api.uow(hotel.tenant_id) as uow:  # kept as history
        row = fetch_one(uow.connection, "SELECT deleted_at, enabled FROM reporting.schedules")
        actions = fetch_one(uow.connection, """SELECT array_agg(action ORDER BY audit_id) AS a
                                                 FROM reporting.audit_log WHERE target_type = 'schedule'""")["a"]
    assert row["deleted_at"] is not None and row["enabled"] is False
    assert actions == ["schedule.create", "schedule.update", "schedule.update", "schedule.delete"]


def test_pin_by_version_id_and_list_pagination(api, make_hotel, idp):
    hotel = make_hotel(api)
    ids = [create(api, idp, hotel, template_key=None, template_version_id=platform_version_id(),
                  cron=f"{m} 6 * * *")[1]["schedule_id"] for m in range(3)]
    seen, cursor = [], None
    while True:
        status, page, _ = call(api, "GET", f"{SCHEDULES}?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                               token=token(idp, hotel, "viewer"))
        assert status == 200
        seen += [s["schedule_id"] for s in page["schedules"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 3


def test_viewers_and_operators_read_but_only_admins_write(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    path = f"{SCHEDULES}/{created['schedule_id']}"
    for role in ("viewer", "operator"):
        body = {"property_id": hotel.property_id, "template_key": "daily_occupancy", "cron": "0 6 * * *"}
        for method, where, payload in (("POST", SCHEDULES, body), ("PATCH", path, {"enabled": False}),
                                       ("DELETE", path, None)):
            status, answer, _ = call(api, method, where, token=token(idp, hotel, role), body=payload)
            assert (status, answer["error"]["code"]) == (403, "MELMASTOON.IAM.AUTHZ_DENIED"), (role, method)
        assert call(api, "GET", path, token=token(idp, hotel, role))[0] == 200


def test_another_tenants_schedule_is_not_found(api, make_hotel, idp):
    mine, theirs = make_hotel(api), make_hotel(api)
    _, created, _ = create(api, idp, mine)
    path = f"{SCHEDULES}/{created['schedule_id']}"
    for method, body in (("GET", None), ("PATCH", {"enabled": False}), ("DELETE", None)):
        status, answer, _ = call(api, method, path, token=token(idp, theirs, "admin"), body=body)
        assert (status, answer["error"]["code"]) == (404, "MELMASTOON.REPORTING.NOT_FOUND"), method
    status, listed, _ = call(api, "GET", SCHEDULES, token=token(idp, theirs, "admin"))
    assert status == 200 and listed["schedules"] == []
    # Their hotel and their own template versions are not there for me either.
    status, answer, _ = create(api, idp, mine, property_id=theirs.property_id)
    assert (status, answer["error"]["code"]) == (404, "MELMASTOON.REPORTING.NOT_FOUND")
    status, answer, _ = create(api, idp, mine, template_key=None, template_version_id=own_version(api, theirs))
    assert status == 404
    assert call(api, "GET", path, token=token(idp, mine, "viewer"))[1]["enabled"] is True


def test_a_hotel_limited_user_sees_only_its_hotels(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    elsewhere = [str(uuid.uuid4())]
    path = f"{SCHEDULES}/{created['schedule_id']}"
    assert call(api, "GET", path, token=token(idp, hotel, "admin", property_ids=elsewhere))[0] == 404
    assert call(api, "DELETE", path, token=token(idp, hotel, "admin", property_ids=elsewhere))[0] == 404
    _, listed, _ = call(api, "GET", SCHEDULES, token=token(idp, hotel, "admin", property_ids=elsewhere))
    assert listed["schedules"] == []
    _, listed, _ = call(api, "GET", f"{SCHEDULES}?property_id={hotel.property_id}",
                        token=token(idp, hotel, "admin", property_ids=elsewhere))
    assert listed["schedules"] == []
    status, _, _ = call(api, "POST", SCHEDULES, token=token(idp, hotel, "admin", property_ids=elsewhere),
                        body={"property_id": hotel.property_id, "template_key": "daily_occupancy",
                              "cron": "0 6 * * *"})
    assert status == 403
    assert call(api, "GET", path, token=token(idp, hotel, "admin", property_ids=[hotel.property_id]))[0] == 200


def test_archived_version_is_refused_for_new_schedules_and_updates_but_may_be_switched_off(
        api, make_hotel, idp, migrated_for):
    hotel = make_hotel(api)
    version = own_version(api, hotel)
    _, pinned, _ = create(api, idp, hotel, template_key=None, template_version_id=version)
    archive(migrated_for, version)

    status, body, _ = create(api, idp, hotel, template_key=None, template_version_id=version)
    assert (status, body["error"]["code"]) == (409, "MELMASTOON.REPORTING.CONFLICT")
    path = f"{SCHEDULES}/{pinned['schedule_id']}"
    status, body, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"), body={"cron": "0 7 * * *"})
    assert status == 409  # the operator touches it: now it must be re-pinned
    status, body, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"),
                           body={"template_version_id": version})
    assert status == 409
    status, body, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"), body={"enabled": False})
    assert status == 200 and body["enabled"] is False
    status, body, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"),
                           body={"enabled": True, "template_version_id": platform_version_id()})
    assert status == 200 and body["template_version_id"] == platform_version_id() and body["enabled"]


@pytest.mark.parametrize("setup, status, code", [
    ({"status": TenantStatus.LOCKED_READONLY}, 423, "MELMASTOON.REPORTING.TENANT_LOCKED"),
    ({"reporting_v1": False}, 403, "MELMASTOON.IAM.AUTHZ_DENIED"),
])
def test_tenant_gate_on_writes(api, make_hotel, idp, setup, status, code):
    hotel = make_hotel(api, **setup)
    got, body, _ = create(api, idp, hotel)
    assert (got, body["error"]["code"]) == (status, code)
    for method, payload in (("PATCH", {"enabled": False}), ("DELETE", None)):
        got, body, _ = call(api, method, f"{SCHEDULES}/{uuid.uuid4()}", token=token(idp, hotel, "admin"),
                            body=payload)
        assert (got, body["error"]["code"]) == (status, code)
    with api.uow(hotel.tenant_id) as uow:
        assert fetch_one(uow.connection, "SELECT count(*) AS n FROM reporting.schedules")["n"] == 0


def test_a_locked_tenant_still_reads_its_schedules(api, make_hotel, idp):
    from reporting.domain.tenant import Tenant
    from reporting.service_layer.tenants import sync_tenant

    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    with api.uow(hotel.tenant_id) as uow:
        tenant = uow.tenants.get(hotel.tenant_id)
    sync_tenant(Tenant(**{**tenant.__dict__, "status": TenantStatus.LOCKED_READONLY}), api.deps)
    assert call(api, "GET", f"{SCHEDULES}/{created['schedule_id']}", token=token(idp, hotel, "viewer"))[0] == 200
    status, listed, _ = call(api, "GET", SCHEDULES, token=token(idp, hotel, "viewer"))
    assert status == 200 and len(listed["schedules"]) == 1
    status, body, _ = call(api, "PATCH", f"{SCHEDULES}/{created['schedule_id']}", token=token(idp, hotel, "admin"),
                           body={"enabled": False})
    assert status == 423


@pytest.mark.parametrize("fields, rule", [
    ({"colour": "red"}, "additionalProperties"),
    ({"template_version_id": "0fde14cf-9014-52f8-a595-738497dfb52d"}, "oneOf"),  # with template_key too
    ({"cron": "0 0 6 * * *"}, None),  # a seconds field
    ({"cron": "0 0 30 2 *"}, None),  # never fires
    ({"timezone": "Mars/Olympus"}, None),
    ({"template_key": "ksa_vat_invoices", "locale": "ps"}, None),  # offered in en and ar only
    ({"params": {"x": 1}}, None),  # its params schema allows nothing
    ({"formats": ["docx"]}, "enum"),
])
def test_invalid_bodies_are_422(api, make_hotel, idp, fields, rule):
    hotel = make_hotel(api)
    status, body, _ = create(api, idp, hotel, **fields)
    assert (status, body["error"]["code"]) == (422, "MELMASTOON.REPORTING.VALIDATION_FAILED"), body
    if rule:
        assert rule in [e["rule"] for e in body["error"]["details"]["errors"]]


def test_invalid_updates_are_422_and_change_nothing(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel, template_key="af_police_guest_register")  # en, ps and fa-AF only
    path = f"{SCHEDULES}/{created['schedule_id']}"
    for body in ({}, {"cron": "61 * * * *"}, {"timezone": "Asia/Nowhere"}, {"property_id": hotel.property_id},
                 {"locale": "ar"}):
        status, answer, _ = call(api, "PATCH", path, token=token(idp, hotel, "admin"), body=body)
        assert status == 422, body
    assert call(api, "GET", path, token=token(idp, hotel, "viewer"))[1] == created
