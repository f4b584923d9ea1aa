"""Regulatory submissions end to end on real Postgres with the fake adapter and a simulated clock: one submission
per subject however often the run's event arrives, accepted through an outage that leaves a retry window, one
cutoff_missed event and one ERROR line when it does not, permanent rejections not retried, lost attempts taken
back, corrections linked, backfills never submitting."""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_all, fetch_one
from reporting.adapters.regulatory.fake import FakeScript, Window
from reporting.catalog.platform import platform_templates
from reporting.domain.cutoffs import business_date_cutoff
from reporting.domain.submission import Adapter, SubmissionState
from reporting.domain.tenant import Property
from reporting.entrypoints.consumers import consume
from reporting.service_layer.commands import RequestReportRun, RerenderReportRun
from reporting.service_layer.report_runs import request_report_run, rerender_report_run
from reporting.service_layer.submit import ATTEMPT_TIMEOUT, watch_submissions
from reporting.service_layer.tenants import sync_property
from tests.integration.helpers import completed_envelope, json_event

pytestmark = pytest.mark.integration

REGULATORY_KEY = "test_af_police_register"


@pytest.fixture(scope="module")
def regulatory_version(migrated_for) -> str:
    """A platform regulatory template (AF police) with daily occupancy's content, made by the schema owner."""
    base = next(t for t in platform_templates() if t.key == "daily_occupancy")
    migrated = migrated_for("AF")
    template_id, version_id = str(uuid.uuid4()), str(uuid.uuid4())
    conn = connect(migrated.owner)
    try:
        execute(conn, """INSERT INTO reporting.templates (template_id, tenant_id, key, category, name, description)
                         VALUES (:t::uuid, NULL, :k, 'regulatory', 'Test police register', 'test')
                         ON CONFLICT DO NOTHING""", {"t": template_id, "k": REGULATORY_KEY})
        row = fetch_one(conn, "SELECT template_id FROM reporting.templates WHERE key = :k AND tenant_id IS NULL",
                        {"k": REGULATORY_KEY})
        execute(conn, """
            INSERT INTO reporting.template_versions (template_version_id, template_id, tenant_id, version, status,
              layout, dataset_sql, params_schema, formats, locales, retention_class, regulatory_adapter,
              catalog_hash, snapshot_hash, published_at)
            SELECT :v::uuid, :t::uuid, NULL, 1, 'published', layout, dataset_sql, params_schema,
                   ARRAY['pdf', 'csv']::text[], locales, 'regulatory-af-police', 'af_police', catalog_hash,
                   snapshot_hash, now()
              FROM reporting.template_versions WHERE template_version_id = :base::uuid
            ON CONFLICT DO NOTHING""", {"v": version_id, "t": str(row["template_id"]), "base": base.template_version_id})
        conn.commit()
    finally:
        conn.close()
    return version_id


@pytest.fixture
def police_hotel(services, make_hotel, regulatory_version, clock):
    hotel = make_hotel(services)
    # The register of `yesterday` is due at 10:00 Kabul time today: start the day six hours before that.
    clock.set(business_date_cutoff(Adapter.AF_POLICE, hotel.yesterday) - timedelta(hours=6))
    spec = hotel.spec
    sync_property(Property(property_id=spec.property_id, tenant_id=spec.tenant_id, name=spec.name,
                           timezone=spec.timezone, currency=spec.currency, country=spec.country, locale="en",
                           room_count=spec.room_count, settings={"deduct_out_of_order": spec.deduct_out_of_order},
                           adapters=["af_police"]), services.deps)
    return hotel


def regulatory_run(services, hotel, key: str = "r1", days_back: int = 0, origin=None):
    cmd = RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_key=REGULATORY_KEY,
                           run_date=hotel.yesterday - timedelta(days=days_back), idempotency_key=key,
                           requested_by="op")
    if origin is not None:
        cmd = dataclasses.replace(cmd, origin=origin, idempotency_key=None)
    run = request_report_run(cmd, services.deps).run
    services.relay.sweep()  # renders it, and delivers report_run.completed.v1 to submit
    return run


def submissions(migrated, tenant_id: str) -> list[dict]:
    conn = connect(migrated.owner)
    try:
        return fetch_all(conn, "SELECT * FROM reporting.submissions WHERE tenant_id = :t::uuid ORDER BY created_at",
                         {"t": tenant_id})
    finally:
        conn.close()


def events(migrated, tenant_id: str, subject: str) -> list[dict]:
    conn = connect(migrated.owner)
    try:
        return fetch_all(conn, "SELECT envelope FROM reporting.outbox WHERE tenant_id = :t::uuid AND subject = :s",
                         {"t": tenant_id, "s": subject})
    finally:
        conn.close()


def run_watchdog_until(services, clock, until: datetime, step=timedelta(minutes=5)):
    while clock.now() < until:
        clock.advance(seconds=step.total_seconds())
        watch_submissions(clock.now(), services.deps, services.deps.regulatory)


def test_a_regulatory_run_opens_one_submission_per_subject_however_often_its_event_arrives(
        services, police_hotel, migrated):
    run = regulatory_run(services, police_hotel)
    rows = submissions(migrated, police_hotel.tenant_id)
    assert len(rows) == 1
    submission = rows[0]
    assert (submission["adapter"], submission["subject_kind"], submission["subject_ref"]) == (
        "af_police", "business_date", police_hotel.yesterday.isoformat())
    assert submission["state"] == "accepted" and submission["authority_reference"].startswith("FAKE-AF_POLICE-")
    assert submission["cutoff_at"] == business_date_cutoff(Adapter.AF_POLICE, police_hotel.yesterday)
    envelope = completed_envelope(migrated, run.run_id)
    for _ in range(3):  # redelivered
        assert consume("submit", json_event(envelope), services).status == "processed"
    assert len(submissions(migrated, police_hotel.tenant_id)) == 1
    assert len(events(migrated, police_hotel.tenant_id, "regulatory_submission.accepted.v1")) == 1


def test_operational_runs_backfills_and_properties_without_the_adapter_open_nothing(
        services, make_hotel, police_hotel, migrated, regulatory_version):
    from reporting.domain.report_run import RunOrigin

    regulatory_run(services, police_hotel, origin=RunOrigin.BACKFILL, days_back=3)
    plain = make_hotel(services)  # adapters not switched on
    regulatory_run(services, plain)
    request_report_run(RequestReportRun(tenant_id=police_hotel.tenant_id, property_id=police_hotel.property_id,
                                        template_key="daily_occupancy", idempotency_key="op", requested_by="op"),
                       services.deps)
    services.relay.sweep()
    assert submissions(migrated, police_hotel.tenant_id) == [] and submissions(migrated, plain.tenant_id) == []


def test_an_outage_that_ends_an_hour_before_the_cutoff_still_gets_accepted(services, police_hotel, migrated, clock):
    cutoff = business_date_cutoff(Adapter.AF_POLICE, police_hotel.yesterday)
    clock.set(cutoff - timedelta(hours=3))
    services.fake_regulatory.script = FakeScript(outages=[Window(cutoff - timedelta(hours=3),
                                                                 cutoff - timedelta(hours=1))])
    regulatory_run(services, police_hotel)
    assert submissions(migrated, police_hotel.tenant_id)[0]["state"] == "retrying"
    run_watchdog_until(services, clock, cutoff + timedelta(minutes=30))
    row = submissions(migrated, police_hotel.tenant_id)[0]
    assert row["state"] == "accepted" and row["accepted_at"] < cutoff and row["attempts"] >= 3
    assert events(migrated, police_hotel.tenant_id, "regulatory_submission.cutoff_missed.v1") == []


def test_an_outage_through_the_cutoff_is_one_miss_one_event_one_error_line(services, police_hotel, migrated, clock,
                                                                           caplog):
    cutoff = business_date_cutoff(Adapter.AF_POLICE, police_hotel.yesterday)
    clock.set(cutoff - timedelta(hours=3))
    services.fake_regulatory.script = FakeScript(outages=[Window(cutoff - timedelta(hours=4),
                                                                 cutoff + timedelta(hours=4))])
    regulatory_run(services, police_hotel)
    with caplog.at_level(logging.ERROR, logger="reporting.service_layer.submit"):
        run_watchdog_until(services, clock, cutoff + timedelta(hours=2))
    row = submissions(migrated, police_hotel.tenant_id)[0]
    assert row["state"] == "missed_cutoff"
    missed = events(migrated, police_hotel.tenant_id, "regulatory_submission.cutoff_missed.v1")
    assert len(missed) == 1 and missed[0]["envelope"]["data"]["last_state"] == "retrying"
    # The watchdog sees every tenant of the deployment (other tests' too): count this tenant's lines.
    lines = [r for r in caplog.records if getattr(r, "alert", None) == "submission_cutoff_missed"
             and r.tenant_id == police_hotel.tenant_id]
    assert len(lines) == 1 and lines[0].adapter == "af_police"
    assert police_hotel.spec.name not in caplog.text  # no guest or hotel data in the alert line


def test_a_permanent_rejection_is_not_retried_and_alerts(services, police_hotel, migrated, clock, caplog):
    services.fake_regulatory.script = FakeScript(reject_subjects={"*"})
    with caplog.at_level(logging.ERROR, logger="reporting.service_layer.submit"):
        regulatory_run(services, police_hotel)
    row = submissions(migrated, police_hotel.tenant_id)[0]
    assert row["state"] == "rejected" and row["last_error_code"] == "FAKE_REJECTED" and row["attempts"] == 1
    assert [r.alert for r in caplog.records
            if getattr(r, "alert", None) and r.tenant_id == police_hotel.tenant_id] == ["submission_rejected"]
    clock.advance(hours=1)
    watch_submissions(clock.now(), services.deps, services.deps.regulatory)
    assert submissions(migrated, police_hotel.tenant_id)[0]["attempts"] == 1


def test_an_attempt_lost_in_a_crash_is_taken_back_by_the_watchdog(services, police_hotel, migrated, clock):
    services.fake_regulatory.script = FakeScript(fail_first=1)
    regulatory_run(services, police_hotel)  # first attempt: transient
    conn = connect(migrated.owner)
    try:  # as if the process died after recording `submitting` for the retry
        execute(conn, "UPDATE reporting.submissions SET state = 'submitting', attempts = attempts + 1, "
                      "last_attempt_at = :at, next_attempt_at = NULL WHERE tenant_id = :t::uuid",
                {"at": clock.now(), "t": police_hotel.tenant_id})
        conn.commit()
    finally:
        conn.close()
    clock.advance(seconds=ATTEMPT_TIMEOUT.total_seconds() - 60)
    watch_submissions(clock.now(), services.deps, services.deps.regulatory)
    assert submissions(migrated, police_hotel.tenant_id)[0]["state"] == "submitting"  # still its own attempt
    clock.advance(minutes=2)
    watch_submissions(clock.now(), services.deps, services.deps.regulatory)
    assert submissions(migrated, police_hotel.tenant_id)[0]["state"] == "accepted"


def test_a_re_render_files_a_correction_linked_to_the_original(services, police_hotel, migrated):
    run = regulatory_run(services, police_hotel)
    rerender_report_run(RerenderReportRun(tenant_id=police_hotel.tenant_id, run_id=run.run_id,
                                          idempotency_key="fix", requested_by="op"), services.deps)
    services.relay.sweep()
    original, correction = sorted(submissions(migrated, police_hotel.tenant_id), key=lambda r: r["corrects"] is not None)
    assert correction["corrects"] == original["submission_id"] and correction["state"] == "accepted"
    assert correction["subject_ref"] == original["subject_ref"] and correction["run_id"] != original["run_id"]


def test_a_property_switched_to_a_live_adapter_that_is_not_configured_is_refused_loudly(
        services, police_hotel, migrated):
    spec = police_hotel.spec
    sync_property(Property(property_id=spec.property_id, tenant_id=spec.tenant_id, name=spec.name,
                           timezone=spec.timezone, currency=spec.currency, country=spec.country, locale="en",
                           room_count=spec.room_count, settings={"deduct_out_of_order": spec.deduct_out_of_order,
                                                                 "regulatory_live": ["af_police"]},
                           adapters=["af_police"]), services.deps)
    regulatory_run(services, police_hotel)
    row = submissions(migrated, police_hotel.tenant_id)[0]
    assert (row["state"], row["last_error_code"]) == ("rejected", "LIVE_ADAPTER_NOT_CONFIGURED")


def test_subjects_of_invoices_and_arrivals_carry_their_own_cutoffs():
    from datetime import date

    from reporting.service_layer.submit import subjects_of

    invoices = subjects_of(Adapter.KSA_ZATCA, date(2026, 11, 23), [
        {"invoice_number": "INV-1", "issued_at": "2026-11-23T10:15:00"},
        {"invoice_number": "INV-1", "issued_at": "2026-11-23T10:15:00"},  # two lines of one invoice
        {"invoice_number": "INV-2", "issued_at": "2026-11-23T23:50:00"}])
    assert [s.ref for s in invoices] == ["INV-1", "INV-2"]
    assert invoices[0].cutoff_at == datetime(2026, 11, 24, 7, 15, tzinfo=timezone.utc)  # 10:15 Riyadh + 24 h
    arrivals = subjects_of(Adapter.IN_FORM_C, date(2026, 11, 23), [
        {"reservation_id": "r-9", "arrived_at_hotel": "2026-11-23T14:00:00"}])
    assert arrivals[0].cutoff_at == datetime(2026, 11, 24, 8, 30, tzinfo=timezone.utc)  # 14:00 Kolkata + 24 h
    assert json.dumps([s.ref for s in arrivals]) == '["r-9"]'
    assert SubmissionState.ACCEPTED.value == "accepted"


def test_the_watchdog_job_command_records_a_missed_cutoff_in_its_deployment(services, police_hotel, migrated, clock,
                                                                           monkeypatch):
    from reporting.cli import main

    services.fake_regulatory.script = FakeScript(fail_first=99)  # never accepted
    regulatory_run(services, police_hotel)  # the job runs on the real clock: this cutoff is long past by then
    for name, value in {"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated.app.url(),
                        "REPORTING_ARTIFACT_DIR": str(services.settings.artifact_dir),
                        "REPORTING_DEAD_LETTER_DIR": str(services.settings.dead_letter_dir)}.items():
        monkeypatch.setenv(name, value)
    assert main(["watchdog", "submissions"]) == 0
    assert submissions(migrated, police_hotel.tenant_id)[0]["state"] == "missed_cutoff"
