"""The request function's template routes, end to end through routing, OIDC, the tenant gate and Postgres RLS:
list, get, create, publish a version, archive (plan §7)."""
from __future__ import annotations

import json
import threading
import uuid

import pytest

from reporting.adapters.postgres.connection import fetch_all
from reporting.domain.tenant import TenantStatus
from reporting.events.catalog import validate_or_throw
from tests.integration.helpers import outbox
from tests.integration.test_api_runs import call, token

T = "/api/v1/reports/templates"
DATASET = ("SELECT property_id, @run_date AS business_date FROM dw.rooms "
           "WHERE tenant_id = @tenant_id AND property_id = @property_id")
LAYOUT = "<html><body><h1>{{ property.name }}</h1>{% for r in rows %}<p>{{ r.business_date }}</p>{% endfor %}</body></html>"


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


def new_template(key="night_audit", **changes):
    body = {"key": key, "name": "Night audit", "layout": LAYOUT, "dataset_sql": DATASET,
            "params_schema": {"type": "object", "additionalProperties": False}, "formats": ["html", "pdf"],
            "locales": ["en", "fa-AF"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def create(api, idp, hotel, body=None, roles=("admin",)):
    return call(api, "POST", T, token=token(idp, hotel, *roles), body=body or new_template())


def publish(api, idp, hotel, template_id, **changes):
    body = {"layout": LAYOUT.replace("<h1>", "<h1 class='v2'>"), "dataset_sql": DATASET,
            "params_schema": {"type": "object"}, "formats": ["html"]}
    body.update(changes)
    return call(api, "POST", f"{T}/{template_id}/versions", token=token(idp, hotel, "admin"), body=body)


def archive(api, idp, hotel, target_id, body=None, roles=("admin",)):
    return call(api, "POST", f"{T}/{target_id}:archive", token=token(idp, hotel, *roles), body=body)


def audit(api, tenant_id, action):
    with api.uow(tenant_id) as uow:
        return fetch_all(uow.connection, """
            SELECT actor, target_type, target_id, details FROM reporting.audit_log WHERE action = :a
             ORDER BY audit_id""", {"a": action})


def platform(api, idp, hotel, key="daily_occupancy"):
    _, listing, _ = call(api, "GET", T, token=token(idp, hotel, "viewer"))
    return next(t for t in listing["templates"] if t["key"] == key)


# --- list and get ------------------------------------------------------------------


def test_a_tenant_lists_platform_templates_and_its_own_never_anothers(api, make_hotel, idp):
    mine, theirs = make_hotel(api), make_hotel(api)
    create(api, idp, mine, new_template("mine_only"))
    create(api, idp, theirs, new_template("theirs_only"))

    status, listing, _ = call(api, "GET", T, token=token(idp, mine, "viewer"))
    assert status == 200
    keys = {t["key"]: t for t in listing["templates"]}
    assert "mine_only" in keys and "theirs_only" not in keys
    shared = keys["daily_occupancy"]
    assert shared["owner"] == "platform" and shared["category"] == "operational"
    assert keys["mine_only"]["owner"] == "tenant"
    [v] = keys["mine_only"]["versions"]
    assert v["status"] == "published" and v["version"] == 1 and v["formats"] == ["html", "pdf"]
    assert v["locales"] == ["en", "fa-AF"] and v["published_at"] and v["archived_at"] is None
    assert "layout" not in v and "dataset_sql" not in v

    status, listing, _ = call(api, "GET", f"{T}?category=regulatory", token=token(idp, mine, "viewer"))
    assert status == 200 and all(t["category"] == "regulatory" for t in listing["templates"])
    for bad in ("category=secret", "include_archived=yes", "colour=red"):
        status, body, _ = call(api, "GET", f"{T}?{bad}", token=token(idp, mine, "viewer"))
        assert status == 400 and body["error"]["code"] == "MELMASTOON.REPORTING.VALIDATION_FAILED", bad


def test_get_one_template_and_one_version_with_its_content(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    status, got, _ = call(api, "GET", f"{T}/{created['template_id']}", token=token(idp, hotel, "viewer"))
    assert status == 200 and got["key"] == "night_audit" and got["versions"][0]["params_schema"]["type"] == "object"
    version_id = got["versions"][0]["template_version_id"]
    status, content, _ = call(api, "GET", f"{T}/{created['template_id']}/versions/{version_id}",
                              token=token(idp, hotel, "viewer"))
    assert status == 200 and content["layout"] == LAYOUT and content["dataset_sql"] == DATASET
    shared = platform(api, idp, hotel)
    status, got, _ = call(api, "GET", f"{T}/{shared['template_id']}", token=token(idp, hotel, "viewer"))
    assert status == 200 and got["owner"] == "platform"
    wrong_parent = f"{T}/{shared['template_id']}/versions/{version_id}"
    assert call(api, "GET", wrong_parent, token=token(idp, hotel, "viewer"))[0] == 404


def test_another_tenants_template_ids_answer_not_found(api, make_hotel, idp):
    mine, theirs = make_hotel(api), make_hotel(api)
    _, created, _ = create(api, idp, theirs)
    template_id = created["template_id"]
    version_id = created["versions"][0]["template_version_id"]
    for method, path, body in [
        ("GET", f"{T}/{template_id}", None),
        ("GET", f"{T}/{template_id}/versions/{version_id}", None),
        ("POST", f"{T}/{template_id}/versions", {"layout": LAYOUT, "dataset_sql": DATASET,
                                                 "params_schema": {"type": "object"}}),
        ("POST", f"{T}/{template_id}:archive", None),
        ("POST", f"{T}/{version_id}:archive", None),
        ("POST", f"{T}/{uuid.uuid4()}:archive", None),
    ]:
        status, got, _ = call(api, method, path, token=token(idp, mine, "admin"), body=body)
        assert (status, got["error"]["code"]) == (404, "MELMASTOON.REPORTING.NOT_FOUND"), path
    status, got, _ = call(api, "GET", f"{T}/{template_id}", token=token(idp, theirs, "viewer"))
    assert status == 200 and got["versions"][0]["status"] == "published"  # nothing of theirs changed


# --- create ------------------------------------------------------------------------


def test_create_answers_201_with_location_an_event_and_an_audit_entry(api, make_hotel, idp):
    hotel = make_hotel(api)
    status, created, headers = create(api, idp, hotel)
    assert status == 201 and headers["Location"] == f"{T}/{created['template_id']}"
    assert created["owner"] == "tenant" and created["latest_version_id"] == created["versions"][0]["template_version_id"]
    [event] = outbox(api, hotel.tenant_id, "template.published.v1")
    envelope = validate_or_throw(event["envelope"])
    assert envelope.data["template_id"] == created["template_id"] and envelope.data["version"] == 1
    [entry] = audit(api, hotel.tenant_id, "template.create")
    assert entry["actor"] == "dev-user" and entry["target_id"] == created["template_id"]


def test_a_duplicate_key_is_a_conflict_for_the_tenant_and_for_platform_keys(api, make_hotel, idp):
    hotel, other = make_hotel(api), make_hotel(api)
    assert create(api, idp, hotel)[0] == 201
    status, body, _ = create(api, idp, hotel)
    assert status == 409 and body["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"
    status, body, _ = create(api, idp, hotel, new_template("daily_occupancy"))
    assert status == 409 and body["error"]["details"]["platform_shared"] is True
    assert create(api, idp, other)[0] == 201  # keys are per tenant


def test_concurrent_creates_of_one_key_make_one_template(api, make_hotel, idp):
    hotel = make_hotel(api)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(create(api, idp, hotel, new_template("raced"))[0]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409]


@pytest.mark.parametrize("changes, status, field", [
    ({"category": "regulatory"}, 422, "category"),
    ({"retention_class": "regulatory-af-police"}, 422, "retention_class"),
    ({"layout": "{% for r in rows %}<p>{{ r.x }}</p>"}, 422, "layout"),
    ({"layout": "{{ rows | exec }}"}, 422, "layout"),
    ({"dataset_sql": "SELEC * FRM"}, 422, "dataset_sql"),
    ({"dataset_sql": "DROP TABLE dw.rooms"}, 422, "dataset_sql"),
    ({"dataset_sql": "SELECT 1 AS x FROM dw.rooms WHERE tenant_id = @tenant_id"}, 422, "dataset_sql"),
    ({"dataset_sql": DATASET + " AND room_type = @room_type"}, 422, "dataset_sql"),
    ({"params_schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"}}}}, 422,
     "params_schema"),
    ({"params_schema": {"type": "array"}}, 422, "params_schema"),
    ({"layout": "x" * (256 * 1024 + 1)}, 413, "layout"),
    ({"dataset_sql": DATASET + " " * (64 * 1024)}, 413, "dataset_sql"),
])
def test_create_refuses_unusable_content(api, make_hotel, idp, changes, status, field):
    hotel = make_hotel(api)
    got, body, _ = create(api, idp, hotel, new_template(**changes))
    assert got == status and body["error"]["details"]["field"] == field, body
    assert body["error"]["code"] == ("MELMASTOON.REPORTING.PAYLOAD_TOO_LARGE" if status == 413
                                     else "MELMASTOON.REPORTING.VALIDATION_FAILED")
    _, listing, _ = call(api, "GET", T, token=token(idp, hotel, "viewer"))
    assert all(t["owner"] == "platform" for t in listing["templates"])  # nothing half-written
    assert outbox(api, hotel.tenant_id, "template.published.v1") == []


def test_a_dataset_parameter_required_by_the_params_schema_is_allowed(api, make_hotel, idp, bus_for):
    hotel = make_hotel(api)
    status, created, _ = create(api, idp, hotel, new_template(
        dataset_sql=DATASET + " AND room_type = @room_type",
        params_schema={"type": "object", "required": ["room_type"],
                       "properties": {"room_type": {"type": "string", "maxLength": 20}}}))
    assert status == 201, created
    # ...and a run of it renders end to end with the parameter bound (never string-built).
    room_type = "ZZ"  # the synthetic hotels have no such room type: an empty, well-formed report
    status, run, _ = post_run(api, idp, hotel, "param", template_id=created["template_id"],
                              params={"room_type": room_type})
    assert status == 202, run
    bus_for(api).sweep()
    status, got, _ = call(api, "GET", f"/api/v1/reports/runs/{run['run_id']}", token=token(idp, hotel, "viewer"))
    assert got["state"] == "succeeded" and got["artifacts"][0]["format"] == "html"
    status, missing, _ = post_run(api, idp, hotel, "no-param", template_id=created["template_id"])
    assert status == 422  # the params schema requires what the dataset needs


@pytest.mark.parametrize("kwargs, status", [
    ({"body": new_template(colour="red")}, 422),
    ({"body": {"key": "Bad Key", "name": "x", "layout": "x", "dataset_sql": "x", "params_schema": {}}}, 422),
    ({"raw": b"{not json", "content_type": "application/json"}, 400),
    ({"raw": json.dumps(new_template(layout="x" * (1024 * 1024))).encode(), "content_type": "application/json"}, 413),
])
def test_malformed_bodies_get_typed_errors(api, make_hotel, idp, kwargs, status):
    hotel = make_hotel(api)
    got, body, _ = call(api, "POST", T, token=token(idp, hotel, "admin"), **kwargs)
    assert got == status and body["error"]["code"].startswith("MELMASTOON.REPORTING.")
    assert "red" not in json.dumps(body)


def test_only_admins_write_templates(api, make_hotel, idp):
    hotel = make_hotel(api)
    for role in ("viewer", "operator"):
        status, body, _ = create(api, idp, hotel, roles=(role,))
        assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"
    _, created, _ = create(api, idp, hotel)
    assert archive(api, idp, hotel, created["template_id"], roles=("operator",))[0] == 403


# --- publish a version ---------------------------------------------------------------


def test_publishing_a_new_version_increments_and_keeps_the_old_one(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    status, v2, headers = publish(api, idp, hotel, created["template_id"])
    assert status == 201 and v2["version"] == 2 and v2["status"] == "published"
    assert headers["Location"] == f"{T}/{created['template_id']}/versions/{v2['template_version_id']}"
    assert v2["snapshot_hash"] != created["versions"][0]["snapshot_hash"]
    status, v3, _ = publish(api, idp, hotel, created["template_id"])
    assert status == 201 and v3["version"] == 3 and v3["snapshot_hash"] == v2["snapshot_hash"]
    _, got, _ = call(api, "GET", f"{T}/{created['template_id']}", token=token(idp, hotel, "viewer"))
    assert [v["version"] for v in got["versions"]] == [1, 2, 3] and got["latest_version_id"] == v3["template_version_id"]
    assert len(outbox(api, hotel.tenant_id, "template.published.v1")) == 3
    assert [e["details"]["version"] for e in audit(api, hotel.tenant_id, "template.publish")] == [2, 3]
    status, body, _ = publish(api, idp, hotel, created["template_id"], layout="{% if %}")
    assert status == 422 and body["error"]["details"]["field"] == "layout"


def test_a_tenant_cannot_publish_or_archive_platform_templates(api, make_hotel, idp):
    hotel = make_hotel(api)
    shared = platform(api, idp, hotel)
    status, body, _ = publish(api, idp, hotel, shared["template_id"])
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"
    for target in (shared["template_id"], shared["versions"][0]["template_version_id"]):
        status, body, _ = archive(api, idp, hotel, target)
        assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"
    assert platform(api, idp, hotel)["versions"] == shared["versions"]
    assert outbox(api, hotel.tenant_id, "template.archived.v1") == []


# --- archive (plan §7) ---------------------------------------------------------------


def post_run(api, idp, hotel, key, **naming):
    return call(api, "POST", "/api/v1/reports/runs", token=token(idp, hotel, "operator"),
                headers={"Idempotency-Key": key},
                body={"property_id": hotel.property_id, "formats": ["html"], **naming})


def test_archiving_a_version_refuses_it_for_new_runs_keeps_it_as_history_and_is_idempotent(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    template_id = created["template_id"]
    v1 = created["versions"][0]["template_version_id"]
    status, earlier, _ = post_run(api, idp, hotel, "before", template_version_id=v1)
    assert status == 202

    status, body, _ = archive(api, idp, hotel, v1, {"reason": "guest Jane Roe's name was in the header"})
    assert status == 200 and body["archived_version_ids"] == [v1]
    [version] = body["template"]["versions"]
    assert version["status"] == "archived" and version["archived_at"]

    [event] = outbox(api, hotel.tenant_id, "template.archived.v1")
    envelope = validate_or_throw(event["envelope"])
    assert envelope.aggregate_id == template_id and envelope.data["template_version_ids"] == [v1]
    assert envelope.data["archived_by"] == "user:dev-user" and "reason" not in envelope.data
    assert "Jane" not in json.dumps(event["envelope"])
    [entry] = audit(api, hotel.tenant_id, "template.archive")
    assert entry["target_type"] == "template_version" and entry["target_id"] == v1
    assert entry["details"]["reason"] == "guest Jane Roe's name was in the header"

    status, again, _ = archive(api, idp, hotel, v1)
    assert status == 200 and again["archived_version_ids"] == []
    assert len(outbox(api, hotel.tenant_id, "template.archived.v1")) == 1
    assert len(audit(api, hotel.tenant_id, "template.archive")) == 1

    status, refused, _ = post_run(api, idp, hotel, "after", template_version_id=v1)
    assert status == 409 and refused["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"
    assert refused["error"]["details"]["template_version_id"] == v1
    replay = post_run(api, idp, hotel, "before", template_version_id=v1)  # the old run still answers
    assert replay[0] == 200 and replay[1]["run_id"] == earlier["run_id"]
    status, got, _ = call(api, "GET", f"/api/v1/reports/runs/{earlier['run_id']}", token=token(idp, hotel, "viewer"))
    assert status == 200 and got["template_version_id"] == v1

    # History: GET one shows it; the listing hides it unless asked.
    _, got, _ = call(api, "GET", f"{T}/{template_id}", token=token(idp, hotel, "viewer"))
    assert got["versions"][0]["status"] == "archived" and got["latest_version_id"] is None
    _, listing, _ = call(api, "GET", T, token=token(idp, hotel, "viewer"))
    assert template_id not in {t["template_id"] for t in listing["templates"]}
    _, listing, _ = call(api, "GET", f"{T}?include_archived=true", token=token(idp, hotel, "viewer"))
    [mine] = [t for t in listing["templates"] if t["template_id"] == template_id]
    assert mine["versions"][0]["status"] == "archived"

    # A new version makes the template usable again; the archived one stays archived.
    _, v2, _ = publish(api, idp, hotel, template_id)
    assert post_run(api, idp, hotel, "v2", template_id=template_id)[0] == 202


def test_archiving_a_template_archives_all_its_published_versions_with_one_event(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    template_id = created["template_id"]
    v1 = created["versions"][0]["template_version_id"]
    v2 = publish(api, idp, hotel, template_id)[1]["template_version_id"]
    v3 = publish(api, idp, hotel, template_id)[1]["template_version_id"]
    archive(api, idp, hotel, v2)

    status, body, _ = archive(api, idp, hotel, template_id)
    assert status == 200 and body["archived_version_ids"] == [v1, v3]
    assert {v["status"] for v in body["template"]["versions"]} == {"archived"}
    events = [validate_or_throw(e["envelope"]) for e in outbox(api, hotel.tenant_id, "template.archived.v1")]
    assert [e.data["template_version_ids"] for e in events] == [[v2], [v1, v3]]
    [_, entry] = audit(api, hotel.tenant_id, "template.archive")
    assert entry["target_type"] == "template" and entry["details"]["template_version_ids"] == [v1, v3]

    assert archive(api, idp, hotel, template_id)[1]["archived_version_ids"] == []
    assert len(outbox(api, hotel.tenant_id, "template.archived.v1")) == 2
    for key, naming in (("by-version", {"template_version_id": v3}),):
        status, refused, _ = post_run(api, idp, hotel, key, **naming)
        assert status == 409 and refused["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"


def test_concurrent_archives_of_one_version_emit_one_event(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    v1 = created["versions"][0]["template_version_id"]
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(archive(api, idp, hotel, v1)[1]["archived_version_ids"]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [[], [], [], [v1]]
    assert len(outbox(api, hotel.tenant_id, "template.archived.v1")) == 1


def test_archive_body_is_optional_and_bounded(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    v1 = created["versions"][0]["template_version_id"]
    status, body, _ = archive(api, idp, hotel, v1, {"reason": "x" * 201})
    assert status == 422 and body["error"]["code"] == "MELMASTOON.REPORTING.VALIDATION_FAILED"
    status, body, _ = archive(api, idp, hotel, v1, {"why": "no"})
    assert status == 422
    assert archive(api, idp, hotel, v1)[0] == 200


# --- the tenant gate ------------------------------------------------------------------


def test_a_locked_tenant_reads_templates_but_cannot_write_them(api, make_hotel, idp):
    hotel = make_hotel(api)
    _, created, _ = create(api, idp, hotel)
    from reporting.service_layer.tenants import sync_tenant

    with api.uow(hotel.tenant_id) as uow:
        tenant = uow.tenants.get(hotel.tenant_id)
    tenant.status = TenantStatus.LOCKED_READONLY
    sync_tenant(tenant, api.deps)

    assert call(api, "GET", T, token=token(idp, hotel, "viewer"))[0] == 200
    assert call(api, "GET", f"{T}/{created['template_id']}", token=token(idp, hotel, "viewer"))[0] == 200
    for status, body, _ in (create(api, idp, hotel, new_template("locked_out")),
                            publish(api, idp, hotel, created["template_id"]),
                            archive(api, idp, hotel, created["template_id"])):
        assert (status, body["error"]["code"]) == (423, "MELMASTOON.REPORTING.TENANT_LOCKED")
    _, got, _ = call(api, "GET", f"{T}/{created['template_id']}", token=token(idp, hotel, "viewer"))
    assert [v["status"] for v in got["versions"]] == ["published"]  # nothing was written


def test_the_flag_off_tenant_gets_403_on_every_template_route(api, make_hotel, idp):
    hotel = make_hotel(api, reporting_v1=False)
    some = uuid.uuid4()
    for method, path, body in [("GET", T, None), ("GET", f"{T}/{some}", None), ("POST", T, new_template()),
                               ("POST", f"{T}/{some}/versions", {"layout": LAYOUT, "dataset_sql": DATASET,
                                                                 "params_schema": {"type": "object"}}),
                               ("POST", f"{T}/{some}:archive", None)]:
        status, got, _ = call(api, method, path, token=token(idp, hotel, "admin"), body=body)
        assert (status, got["error"]["code"]) == (403, "MELMASTOON.IAM.AUTHZ_DENIED"), path
