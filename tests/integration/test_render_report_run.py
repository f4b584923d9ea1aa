"""Rendering a run: idempotent delivery, snapshot-on-run, crash convergence, permanent failures."""
from __future__ import annotations

import pytest

from reporting.adapters.postgres.connection import ConnInfo
from reporting.catalog.platform import platform_templates
from reporting.domain.artifact import artifact_name
from reporting.domain.report_run import RunState
from reporting.entrypoints.consumers import consume
from reporting.events.catalog import validate_or_throw
from reporting.service_layer import render_report_run as render_uc
from reporting.service_layer.commands import CancelReportRun, PublishTemplateVersion, RequestReportRun
from reporting.service_layer.report_runs import cancel_report_run, request_report_run
from reporting.service_layer.templates import publish_template_version
from tests.integration.helpers import outbox, requested_cloud_event

pytestmark = pytest.mark.integration

DATASET = next(t for t in platform_templates() if t.key == "daily_occupancy").dataset_sql


def request(services, hotel, key="k", **kw):
    cmd = RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op@test",
                           idempotency_key=key, **({"template_key": "daily_occupancy"} | kw))
    return request_report_run(cmd, services.deps).run


def state_of(services, hotel, run_id):
    with services.uow(hotel.tenant_id) as uow:
        run = uow.runs.get(run_id)
        return run, uow.artifacts.for_run(run_id)


def stored_files(services, hotel, run_id):
    root = services.settings.artifact_dir / "tenants" / hotel.tenant_id / "runs" / run_id
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".meta.json")) if root.exists() else []


def test_delivering_the_same_requested_event_twice_yields_one_artifact_and_one_state_change(services, make_hotel):
    hotel = make_hotel(services)
    run = request(services, hotel, formats=("pdf",))
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)

    first = consume("render", event, services)
    second = consume("render", event, services)

    assert first.status == second.status == "processed"
    assert first.result.state == "succeeded" and second.result.duplicate
    done, artifacts = state_of(services, hotel, run.run_id)
    assert done.state is RunState.SUCCEEDED and done.attempts == 1
    assert [a.format for a in artifacts] == ["pdf"]
    assert stored_files(services, hotel, run.run_id) == ["report.pdf"]
    assert len(outbox(services, hotel.tenant_id, "report_run.completed.v1")) == 1


def test_completed_event_is_valid_and_names_the_stored_artifacts(services, make_hotel):
    hotel = make_hotel(services)
    run = request(services, hotel, formats=("pdf", "csv"))
    consume("render", requested_cloud_event(services, hotel.tenant_id, run.run_id), services)
    [row] = outbox(services, hotel.tenant_id, "report_run.completed.v1")
    envelope = validate_or_throw(row["envelope"])
    _, artifacts = state_of(services, hotel, run.run_id)
    assert {a["sha256"] for a in envelope.data["artifacts"]} == {a.sha256 for a in artifacts}
    assert envelope.causation_id == requested_cloud_event(services, hotel.tenant_id, run.run_id).data["message"]["messageId"]
    assert envelope.correlation_id == run.correlation_id


def test_a_new_version_published_after_the_request_does_not_change_the_run(services, make_hotel):
    hotel = make_hotel(services)
    v1 = publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key="night_audit", name="Night audit",
        layout="<html><body><p>LAYOUT-ONE {{ property.name }}</p></body></html>", dataset_sql=DATASET,
        params_schema={"type": "object"}, published_by="admin@test", formats=("html",)), services.deps)
    run = request(services, hotel, template_key="night_audit")
    v2 = publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key="night_audit", name="Night audit",
        layout="<html><body><p>LAYOUT-TWO</p></body></html>", dataset_sql=DATASET,
        params_schema={"type": "object"}, published_by="admin@test", formats=("html",)), services.deps)
    assert (v1.version, v2.version) == (1, 2) and v1.snapshot_hash != v2.snapshot_hash

    consume("render", requested_cloud_event(services, hotel.tenant_id, run.run_id), services)

    done, [artifact] = state_of(services, hotel, run.run_id)
    assert done.template_version_id == v1.template_version_id and done.snapshot_hash == v1.snapshot_hash
    html = services.artifact_store.read(artifact_name(hotel.tenant_id, run.run_id, "html")).decode()
    assert "LAYOUT-ONE" in html and hotel.spec.name in html and "LAYOUT-TWO" not in html
    # ...while a new request pins the new version.
    assert request(services, hotel, key="k2", template_key="night_audit").template_version_id == v2.template_version_id


def test_a_crash_after_storing_converges_on_redelivery_with_one_artifact(services, make_hotel):
    hotel = make_hotel(services)
    run = request(services, hotel, formats=("pdf",))
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    envelope = validate_or_throw(__import__("json").loads(
        __import__("base64").b64decode(event.data["message"]["data"])))
    # First attempt: claims the run and stores the PDF, then "crashes" before completing.
    claimed = render_uc._claim(envelope, services.deps)
    first_objects = render_uc._produce(*claimed, services.deps)
    assert state_of(services, hotel, run.run_id)[0].state is RunState.RENDERING

    result = consume("render", event, services)

    assert result.result.state == "succeeded"
    done, [artifact] = state_of(services, hotel, run.run_id)
    assert done.attempts == 2
    assert artifact.sha256 == first_objects[0][1].sha256  # the object the first attempt stored
    assert stored_files(services, hotel, run.run_id) == ["report.pdf"]


def test_a_run_cancelled_before_rendering_is_not_rendered(services, make_hotel):
    hotel = make_hotel(services)
    run = request(services, hotel)
    cancel_report_run(CancelReportRun(tenant_id=hotel.tenant_id, run_id=run.run_id, cancelled_by="op@test"),
                      services.deps)
    result = consume("render", requested_cloud_event(services, hotel.tenant_id, run.run_id), services)
    done, artifacts = state_of(services, hotel, run.run_id)
    assert result.status == "processed" and done.state is RunState.CANCELLED and artifacts == []
    assert stored_files(services, hotel, run.run_id) == []
    assert len(outbox(services, hotel.tenant_id, "report_run.cancelled.v1")) == 1


def test_a_template_that_cannot_render_fails_the_run_once_without_retry(services, make_hotel):
    hotel = make_hotel(services)
    publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key="broken", name="Broken",
        layout="<p>{{ no_such_variable.attr }}</p>", dataset_sql=DATASET, params_schema={"type": "object"},
        published_by="admin@test", formats=("html",)), services.deps)
    run = request(services, hotel, template_key="broken")
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)

    assert consume("render", event, services).status == "processed"  # acked: no redelivery loop
    done, artifacts = state_of(services, hotel, run.run_id)
    assert done.state is RunState.FAILED and done.error_code == "MELMASTOON.REPORTING.RENDER_FAILED"
    assert artifacts == []
    [failed] = outbox(services, hotel.tenant_id, "report_run.failed.v1")
    assert validate_or_throw(failed["envelope"]).data["error_code"] == "MELMASTOON.REPORTING.RENDER_FAILED"


def test_a_transient_warehouse_error_is_raised_for_redelivery_and_then_succeeds(services, make_hotel, monkeypatch):
    hotel = make_hotel(services)
    run = request(services, hotel, formats=("csv",))
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    warehouse = services.deps.warehouse()
    real_query = warehouse.query
    monkeypatch.setattr(warehouse, "query", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("warehouse down")))
    with pytest.raises(ConnectionError):
        consume("render", event, services)
    assert state_of(services, hotel, run.run_id)[0].state is RunState.RENDERING
    monkeypatch.setattr(warehouse, "query", real_query)
    assert consume("render", event, services).result.state == "succeeded"


def test_the_local_bus_drains_requested_and_completed_events(services, make_hotel, bus_for):
    hotel = make_hotel(services)
    run = request(services, hotel)
    report = bus_for(services).sweep()
    # The session's database holds other tests' tenants too: count only this tenant's events.
    assert report.by_subject["report_run.requested.v1"] >= 1 and report.by_subject["report_run.completed.v1"] >= 1
    assert state_of(services, hotel, run.run_id)[0].state is RunState.SUCCEEDED
    rows = outbox(services, hotel.tenant_id)
    assert [r["subject"] for r in rows] == ["report_run.requested.v1", "report_run.completed.v1"]
    assert all(r["published_at"] is not None for r in rows)


def test_a_duplicate_delivered_while_the_first_is_rendering_is_told_to_retry_and_changes_nothing(
        services, make_hotel, monkeypatch):
    import threading

    from reporting.domain.errors import RenderInProgress

    hotel = make_hotel(services)
    run = request(services, hotel)
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    warehouse = services.deps.warehouse()
    entered, release = threading.Event(), threading.Event()
    real_query = warehouse.query

    def slow_query(*args, **kwargs):
        entered.set()
        assert release.wait(10)
        return real_query(*args, **kwargs)

    monkeypatch.setattr(warehouse, "query", slow_query)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(consume("render", event, services)))
    worker.start()
    assert entered.wait(10)
    with pytest.raises(RenderInProgress):  # transient: Pub/Sub redelivers it later
        consume("render", event, services)
    during, _ = state_of(services, hotel, run.run_id)
    assert during.state is RunState.RENDERING and during.attempts == 1
    release.set()
    worker.join(10)
    assert first[0].result.state == "succeeded"
    assert consume("render", event, services).result.duplicate  # the redelivery, later
    done, artifacts = state_of(services, hotel, run.run_id)
    assert done.attempts == 1 and len(artifacts) == len(run.formats)


def test_a_render_lock_left_by_a_dead_instance_is_released_with_its_connection(services, make_hotel):
    from reporting.adapters.postgres.connection import fetch_one, local_connection_factory
    from reporting.adapters.postgres.run_lock import NAMESPACE, _key

    hotel = make_hotel(services)
    run = request(services, hotel)
    dead = local_connection_factory(ConnInfo.from_url(services.settings.database_url))()
    assert fetch_one(dead, "SELECT pg_try_advisory_lock(:ns, :k) AS got", {"ns": NAMESPACE, "k": _key(run.run_id)})["got"]
    dead.commit()
    dead.close()  # the instance died mid-render: its session, and the lock, are gone
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    assert consume("render", event, services).result.state == "succeeded"
