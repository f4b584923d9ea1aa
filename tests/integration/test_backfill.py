"""The report backfill on real Postgres: exactly the expected runs, none twice, shards without overlap or gap,
the 90-day cap, the same keys / fingerprints / events as a single request, and rendering through the bus."""
from __future__ import annotations

from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator

from reporting.adapters.postgres.connection import connect, execute, fetch_all
from reporting.catalog.platform import platform_templates
from reporting.domain.errors import BackfillTooOld, ValidationFailed
from reporting.domain.report_run import ReportRun, RunOrigin, idempotency_key, request_hash
from reporting.domain.tenant import TenantStatus
from reporting.events.catalog import validate_or_throw
from reporting.service_layer.backfill import BackfillRequest, Shard, plan_backfill, run_backfill
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run

pytestmark = pytest.mark.integration

BACKFILLABLE = sorted(t.key for t in platform_templates() if Draft202012Validator(t.params_schema).is_valid({}))


def runs_of(migrated, tenant_id: str) -> list[dict]:
    conn = connect(migrated.owner)
    try:
        return fetch_all(conn, """
            SELECT r.*, t.key AS template_key FROM reporting.report_runs r
              JOIN reporting.template_versions v USING (template_version_id)
              JOIN reporting.templates t ON t.template_id = v.template_id
             WHERE r.tenant_id = :t::uuid AND r.origin = 'backfill'""", {"t": tenant_id})
    finally:
        conn.close()


def outbox_of(migrated, tenant_id: str) -> list[dict]:
    conn = connect(migrated.owner)
    try:
        return fetch_all(conn, """
            SELECT * FROM reporting.outbox WHERE tenant_id = :t::uuid AND subject = 'report_run.requested.v1'
               AND envelope -> 'data' ->> 'origin' = 'backfill'""", {"t": tenant_id})
    finally:
        conn.close()


def settle_requested_events(migrated, tenant_ids: list[str]) -> None:
    """Mark a test's request events delivered: thousands of them (90 days x every template) are not
    for a later test's bus sweep in this shared database to render."""
    conn = connect(migrated.admin)
    try:
        execute(conn, "UPDATE reporting.outbox SET published_at = now() "
                      "WHERE tenant_id = ANY(CAST(:t AS uuid[])) AND published_at IS NULL", {"t": tenant_ids})
        conn.commit()
    finally:
        conn.close()


def test_ninety_days_of_every_template_for_three_tenants_requests_each_run_once(services, make_hotel, migrated):
    hotels = [make_hotel(services) for _ in range(3)]
    request = BackfillRequest(tenant_ids=tuple(h.tenant_id for h in hotels), days=90)
    report = run_backfill(plan_backfill(request, services.deps), services.deps)
    expected = 3 * len(BACKFILLABLE) * 90
    assert (report.total, report.requested, report.errors) == (expected, expected, [])
    for hotel in hotels:
        runs = runs_of(migrated, hotel.tenant_id)
        assert len(runs) == len(BACKFILLABLE) * 90
        dates = {r["run_date"] for r in runs}
        assert dates == {hotel.yesterday - timedelta(days=n) for n in range(90)}
        assert sorted({r["template_key"] for r in runs}) == BACKFILLABLE
        assert len(outbox_of(migrated, hotel.tenant_id)) == len(runs)  # one event per run, none without a run

    again = run_backfill(plan_backfill(request, services.deps), services.deps)
    assert (again.total, again.requested, again.already_present) == (expected, 0, expected)
    assert sum(len(runs_of(migrated, h.tenant_id)) for h in hotels) == expected
    settle_requested_events(migrated, [h.tenant_id for h in hotels])


def test_four_shards_cover_the_plan_with_no_overlap_and_no_gap(services, make_hotel, migrated):
    hotels = [make_hotel(services) for _ in range(3)]
    tenants = tuple(h.tenant_id for h in hotels)
    whole = plan_backfill(BackfillRequest(tenant_ids=tenants, days=5), services.deps)
    shards = [plan_backfill(BackfillRequest(tenant_ids=tenants, days=5, shard=Shard(i, 4)), services.deps)
              for i in range(4)]
    key = lambda p: (p.tenant_id, p.item.property_id, p.template_key)  # noqa: E731
    owned = [{key(p) for p in plan.items} for plan in shards]
    assert sum(len(o) for o in owned) == len(whole.items)  # no overlap
    assert set().union(*owned) == {key(p) for p in whole.items}  # no gap
    for plan in shards:
        run_backfill(plan, services.deps)
    assert sum(len(runs_of(migrated, t)) for t in tenants) == whole.total
    settle_requested_events(migrated, list(tenants))


def test_a_date_older_than_ninety_days_is_refused_before_anything_is_written(services, make_hotel, migrated):
    hotel = make_hotel(services)
    too_old = hotel.yesterday - timedelta(days=90)  # 91 days before the property's today
    with pytest.raises(BackfillTooOld) as refused:
        plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), start=too_old), services.deps)
    assert "at most 90 days" in refused.value.message
    assert refused.value.details["earliest_allowed"] == (hotel.yesterday - timedelta(days=89)).isoformat()
    with pytest.raises(BackfillTooOld):
        plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), days=91), services.deps)
    with pytest.raises(ValidationFailed):  # today has not ended yet
        plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), start=hotel.yesterday,
                                      end=hotel.yesterday + timedelta(days=1)), services.deps)
    assert runs_of(migrated, hotel.tenant_id) == []
    oldest = plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), start=hotel.yesterday - timedelta(days=89),
                                           end=hotel.yesterday - timedelta(days=89)), services.deps)
    assert oldest.total == len(BACKFILLABLE)


def test_set_based_rows_match_what_a_single_request_would_write(services, make_hotel, migrated):
    hotel = make_hotel(services)
    run_backfill(plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), template_keys=("daily_occupancy",),
                                               days=2), services.deps), services.deps)
    runs = runs_of(migrated, hotel.tenant_id)
    events = {o["aggregate_id"]: o for o in outbox_of(migrated, hotel.tenant_id)}
    assert len(runs) == 2 and len(events) == 2
    for run in runs:
        run_id, version = str(run["run_id"]), str(run["template_version_id"])
        assert run["idempotency_key"] == idempotency_key(RunOrigin.BACKFILL, property_id=hotel.property_id,
                                                          template_version_id=version, run_date=run["run_date"])
        assert run["request_hash"] == request_hash(property_id=hotel.property_id, template_ref=f"version:{version}",
                                                   run_date=run["run_date"], params={}, locale=run["locale"],
                                                   formats=list(run["formats"]))
        outbox = events[run_id]
        envelope = validate_or_throw(outbox["envelope"])  # the catalog's own schema, as every consumer checks it
        assert envelope.event_id == str(outbox["event_id"]) and envelope.aggregate_id == run_id
        assert envelope.tenant_id == hotel.tenant_id and envelope.residency == "AF"
        expected = ReportRun.request(
            run_id=run_id, tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_version_id=version,
            snapshot_hash=run["snapshot_hash"], params={}, locale=run["locale"], formats=list(run["formats"]),
            run_date=run["run_date"], origin=RunOrigin.BACKFILL, idempotency_key=run["idempotency_key"],
            request_hash=run["request_hash"], requested_by="backfill", correlation_id=str(run["correlation_id"]),
            now=run["requested_at"]).events[0]
        assert envelope.data == expected.data and envelope.correlation_id == str(run["correlation_id"])


def test_dates_with_a_run_in_flight_or_succeeded_are_skipped_whatever_its_origin(services, make_hotel, migrated):
    hotel = make_hotel(services)
    request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_key="daily_occupancy",
        run_date=hotel.yesterday, idempotency_key="operator-asked", requested_by="op"), services.deps)
    report = run_backfill(plan_backfill(BackfillRequest(
        tenant_ids=(hotel.tenant_id,), template_keys=("daily_occupancy",), days=3), services.deps), services.deps)
    assert (report.total, report.requested, report.already_present) == (3, 2, 1)
    assert hotel.yesterday not in {r["run_date"] for r in runs_of(migrated, hotel.tenant_id)}


def test_every_tenant_means_active_flag_on_tenants_and_a_locked_one_is_left_alone(services, make_hotel, migrated):
    active = make_hotel(services)
    locked = make_hotel(services, status=TenantStatus.LOCKED_READONLY)
    flag_off = make_hotel(services, reporting_v1=False)
    plan = plan_backfill(BackfillRequest(template_keys=("daily_occupancy",), days=1), services.deps)
    planned = {p.tenant_id for p in plan.items}
    assert active.tenant_id in planned and not planned & {locked.tenant_id, flag_off.tenant_id}
    named = plan_backfill(BackfillRequest(tenant_ids=(locked.tenant_id,), days=1), services.deps)
    assert named.items == [] and named.skipped == [{"tenant_id": locked.tenant_id,
                                                    "reason": "MELMASTOON.REPORTING.TENANT_LOCKED"}]


def test_backfilled_runs_render_through_the_bus(services, make_hotel, bus_for, migrated):
    hotel = make_hotel(services)
    run_backfill(plan_backfill(BackfillRequest(tenant_ids=(hotel.tenant_id,), template_keys=("daily_occupancy",),
                                               days=2), services.deps), services.deps)
    bus_for(services).sweep()
    assert sorted(r["state"] for r in runs_of(migrated, hotel.tenant_id)) == ["succeeded", "succeeded"]
