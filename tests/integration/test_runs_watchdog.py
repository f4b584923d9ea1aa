"""The runs watchdog on real Postgres: a run stuck in `rendering` is failed with a reason and an event, once;
runs still within their time, or finished, are left alone; a late render keeps the failure; SLO lines."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_all, fetch_one
from reporting.domain.report_run import RunState
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from reporting.service_layer.watchdogs import (DEFAULT_RENDER_TIMEOUT, RENDER_TIMEOUT_CODE, fail_stuck_runs,
                                               log_tenant_slos)

pytestmark = pytest.mark.integration


def new_run(services, hotel, days_back: int, key: str) -> str:
    outcome = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_key="daily_occupancy",
        run_date=hotel.yesterday - timedelta(days=days_back), idempotency_key=key, requested_by="op"), services.deps)
    return outcome.run.run_id


def set_rendering(migrated, run_id: str, started_at) -> None:
    """What a render that died after claiming leaves behind (its event delivered, so not in the outbox queue)."""
    conn = connect(migrated.owner)
    try:
        execute(conn, "UPDATE reporting.report_runs SET state = 'rendering', started_at = :s, attempts = 1 "
                      "WHERE run_id = :r::uuid", {"s": started_at, "r": run_id})
        execute(conn, "UPDATE reporting.outbox SET published_at = now() WHERE aggregate_id = :r", {"r": run_id})
        conn.commit()
    finally:
        conn.close()


def row(migrated, sql: str, **params):
    conn = connect(migrated.owner)
    try:
        return fetch_all(conn, sql, params)
    finally:
        conn.close()


def state_of(migrated, run_id: str) -> dict:
    return row(migrated, "SELECT state, error_code, error_message FROM reporting.report_runs WHERE run_id = :r::uuid",
               r=run_id)[0]


def test_a_run_stuck_in_rendering_is_failed_once_with_a_reason_and_an_event(services, make_hotel, migrated, clock,
                                                                            caplog):
    hotel = make_hotel(services)
    stuck, recent, done = (new_run(services, hotel, n, f"k{n}") for n in range(3))
    now = clock.now()
    set_rendering(migrated, stuck, now - DEFAULT_RENDER_TIMEOUT - timedelta(minutes=1))
    set_rendering(migrated, recent, now - DEFAULT_RENDER_TIMEOUT + timedelta(minutes=5))
    services.relay.sweep()  # renders `done` (the other two are not `requested` any more)
    assert state_of(migrated, done)["state"] == "succeeded"

    with caplog.at_level(logging.WARNING, logger="reporting.service_layer.watchdogs"):
        report = fail_stuck_runs(now, services.deps)
    assert stuck in report.failed_run_ids and recent not in report.failed_run_ids and done not in report.failed_run_ids
    failed = state_of(migrated, stuck)
    assert failed["state"] == "failed" and failed["error_code"] == RENDER_TIMEOUT_CODE
    assert "30 minutes" in failed["error_message"]
    assert state_of(migrated, recent)["state"] == "rendering" and state_of(migrated, done)["state"] == "succeeded"
    events = row(migrated, "SELECT envelope FROM reporting.outbox WHERE aggregate_id = :r AND "
                           "subject = 'report_run.failed.v1'", r=stuck)
    assert len(events) == 1 and events[0]["envelope"]["data"]["error_code"] == RENDER_TIMEOUT_CODE
    audit = row(migrated, "SELECT actor FROM reporting.audit_log WHERE target_id = :r AND "
                          "action = 'report_run.fail_stuck'", r=stuck)
    assert [a["actor"] for a in audit] == ["watchdog"]
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == "report_run_late"]
    assert [a.run_id for a in alerts if a.run_id == stuck] == [stuck] and alerts[0].tenant_id == hotel.tenant_id

    again = fail_stuck_runs(now + timedelta(minutes=5), services.deps)
    assert stuck not in again.failed_run_ids
    assert len(row(migrated, "SELECT 1 FROM reporting.outbox WHERE aggregate_id = :r AND "
                             "subject = 'report_run.failed.v1'", r=stuck)) == 1


def test_a_render_that_finishes_after_the_watchdog_keeps_the_failure(services, make_hotel, migrated, clock):
    hotel = make_hotel(services)
    run_id = new_run(services, hotel, 0, "late")
    conn = connect(migrated.owner)
    try:
        envelope = fetch_one(conn, "SELECT envelope FROM reporting.outbox WHERE aggregate_id = :r", {"r": run_id})
    finally:
        conn.close()
    set_rendering(migrated, run_id, clock.now() - timedelta(hours=1))
    fail_stuck_runs(clock.now(), services.deps)
    from reporting.events.envelope import Envelope
    from reporting.service_layer.render_report_run import render_report_run

    outcome = render_report_run(Envelope.from_dict(envelope["envelope"]), services.deps)  # the late redelivery
    assert outcome.state == str(RunState.FAILED) and state_of(migrated, run_id)["state"] == "failed"


def test_every_active_tenant_gets_an_slo_metric_line(services, make_hotel, clock, caplog):
    hotel = make_hotel(services)
    new_run(services, hotel, 0, "slo")
    services.relay.sweep()
    clock.advance(minutes=20)  # past the run's due time (15 minutes after the request)
    with caplog.at_level(logging.INFO, logger="reporting.service_layer.slo"):
        report = log_tenant_slos(clock.now(), services.deps, services.service_level)
    lines = [r for r in caplog.records if getattr(r, "metric", None) and r.tenant_id == hotel.tenant_id]
    assert report.slo_tenants >= 1 and len(lines) == 1
    assert lines[0].ratio == 1.0 and json.loads(json.dumps(lines[0].runs_due)) == 1
