"""The scheduler tick on real Postgres: keys, business dates and due times of scheduled runs, no duplicate on
a repeated or replayed tick, catch-up after a missed day or a lock, the scheduler-only route, and 10 000
due schedules in one tick."""
from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta, timezone

import flask
import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_all, fetch_one
from reporting.catalog.platform import platform_templates
from reporting.domain.tenant import Residency, Tenant, TenantStatus
from reporting.entrypoints.http import handle
from reporting.service_layer.schedules import CreateSchedule, create_schedule, tick
from reporting.service_layer.tenants import sync_tenant
from tests.conftest import API_AUDIENCE, SCHEDULER_EMAIL

pytestmark = pytest.mark.integration

APP = flask.Flask("scheduler-tick-tests")
TICK = "/api/v1/reports/internal/schedules:tick"
UTC = timezone.utc
VERSION = next(t for t in platform_templates() if t.key == "daily_occupancy").template_version_id


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


class Owner:
    """The schema owner, for what a test must see or set across tenants."""

    def __init__(self, migrated_for) -> None:
        self._migrated_for = migrated_for
        self._conns: dict[str, object] = {}
        self.tenants: list[tuple[str, str]] = []

    def __call__(self, residency: str = "AF"):
        if residency not in self._conns:
            self._conns[residency] = connect(self._migrated_for(residency).owner)
        return self._conns[residency]

    def track(self, residency: str, tenant_id: str) -> None:
        self.tenants.append((residency, tenant_id))

    def close(self) -> None:
        # Later tests share these databases: their ticks must not fire our schedules, nor their
        # relays render our runs.
        for residency, tenant_id in self.tenants:
            conn = self(residency)
            execute(conn, """UPDATE reporting.schedules SET enabled = false, deleted_at = now()
                              WHERE tenant_id = :t::uuid AND deleted_at IS NULL""", {"t": tenant_id})
            execute(conn, """UPDATE reporting.outbox SET published_at = now()
                              WHERE tenant_id = :t::uuid AND published_at IS NULL""", {"t": tenant_id})
            conn.commit()
        for conn in self._conns.values():
            conn.close()


@pytest.fixture
def owner(migrated_for):
    got = Owner(migrated_for)
    yield got
    got.close()


def call_tick(services, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    with APP.test_request_context(TICK, method="POST", data=data, headers={"Authorization": f"Bearer {token}"},
                                  content_type="application/json" if data is not None else None):
        out, status, headers = handle(flask.request, services)
    return status, json.loads(out)


def scheduler_token(scheduler_idp, email=SCHEDULER_EMAIL):
    return scheduler_idp.provider.issue_scheduler(email, API_AUDIENCE)


def new_schedule(services, hotel, cron="0 6 * * *", zone=None, **kw):
    return create_schedule(CreateSchedule(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                          created_by="admin", cron=cron, timezone=zone,
                                          template_version_id=kw.pop("version", VERSION), **kw), services.deps)


def scheduled_runs(owner, tenant_id, residency="AF"):
    return fetch_all(owner(residency), """
        SELECT idempotency_key, run_date, due_by, requested_at, origin, template_version_id, formats, state
          FROM reporting.report_runs WHERE tenant_id = :t::uuid AND origin = 'schedule'
         ORDER BY idempotency_key""", {"t": tenant_id})


def test_a_tick_requests_each_due_run_with_its_key_business_date_and_due_time(
        api, make_hotel, scheduler_idp, owner, clock):
    hotel = make_hotel(api)  # Asia/Kabul, +04:30
    owner.track("AF", hotel.tenant_id)
    kabul = new_schedule(api, hotel)  # 06:00 Kabul = 01:30Z
    riyadh = new_schedule(api, hotel, cron="30 2 * * *", zone="Asia/Riyadh", formats=("csv",))  # 23:30Z
    assert kabul.next_fire_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC)

    clock.set(datetime(2026, 11, 25, 1, 31, tzinfo=UTC))
    status, report = call_tick(api, scheduler_token(scheduler_idp))
    assert status == 200 and report["requested"] >= 2 and report["errors"] == 0
    runs = scheduled_runs(owner, hotel.tenant_id)
    assert [(r["idempotency_key"], r["run_date"], r["due_by"]) for r in runs] == sorted([
        (f"schedule:{kabul.schedule_id}:2026-11-25T01:30:00+00:00", date(2026, 11, 24),
         datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),
        (f"schedule:{riyadh.schedule_id}:2026-11-24T23:30:00+00:00", date(2026, 11, 24),
         datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
    ])
    assert {r["requested_at"] for r in runs} == {clock.now()}
    assert [r["formats"] for r in runs if r["idempotency_key"].startswith(f"schedule:{riyadh.schedule_id}")] == \
        [["csv"]]
    with api.uow(hotel.tenant_id) as uow:
        assert uow.schedules.get(kabul.schedule_id).next_fire_at == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
        events = fetch_one(uow.connection, """SELECT count(*) AS n FROM reporting.outbox
                                               WHERE subject = 'report_run.requested.v1'""")["n"]
    assert events == 2

    status, again = call_tick(api, scheduler_token(scheduler_idp))  # the same minute, once more
    assert status == 200 and again["requested"] == 0 and again["due"] == 0
    assert len(scheduled_runs(owner, hotel.tenant_id)) == 2


def test_a_missed_day_is_caught_up_with_one_run_per_missed_occurrence(api, make_hotel, owner, clock):
    hotel = make_hotel(api)
    owner.track("AF", hotel.tenant_id)
    schedule = new_schedule(api, hotel)
    clock.set(datetime(2026, 11, 25, 1, 35, tzinfo=UTC))
    tick(clock.now(), api.deps)
    # No tick ran on the 26th or the 27th; the 28th's tick owes both, and its own.
    clock.set(datetime(2026, 11, 28, 1, 32, tzinfo=UTC))
    report = tick(clock.now(), api.deps)
    assert report.requested >= 3
    runs = scheduled_runs(owner, hotel.tenant_id)
    assert [r["run_date"] for r in runs] == [date(2026, 11, d) for d in (24, 25, 26, 27)]
    assert [r["due_by"] for r in runs] == [datetime(2026, 11, d, 2, 0, tzinfo=UTC) for d in (25, 26, 27, 28)]
    assert [r["idempotency_key"] for r in runs] == [
        f"schedule:{schedule.schedule_id}:2026-11-{d}T01:30:00+00:00" for d in (25, 26, 27, 28)]
    with api.uow(hotel.tenant_id) as uow:
        assert uow.schedules.get(schedule.schedule_id).next_fire_at == datetime(2026, 11, 29, 1, 30, tzinfo=UTC)


def test_hourly_per_subject_regulatory_runs_report_on_the_day_so_far(api, make_hotel, owner, clock):
    """ZATCA invoices and Form C arrivals each have 24 hours: their hourly runs cover today so far, so an
    invoice is filed within the hour; an operational schedule at the same minute still reports yesterday."""
    hotel = make_hotel(api)  # Asia/Kabul, +04:30
    owner.track("AF", hotel.tenant_id)
    zatca = next(t for t in platform_templates() if t.regulatory_adapter == "ksa_zatca").template_version_id
    hourly = new_schedule(api, hotel, cron="0 * * * *", version=zatca)
    daily = new_schedule(api, hotel, cron="0 * * * *")
    clock.set(datetime(2026, 11, 25, 5, 31, tzinfo=UTC))  # 10:01 in Kabul on the 25th; due since 05:30Z
    tick(clock.now(), api.deps)
    runs = {r["idempotency_key"].split(":")[1]: r["run_date"] for r in scheduled_runs(owner, hotel.tenant_id)}
    assert runs == {hourly.schedule_id: date(2026, 11, 25), daily.schedule_id: date(2026, 11, 24)}


def test_a_replayed_tick_finds_the_runs_already_there(api, make_hotel, owner, clock):
    """A tick that requested runs but whose advance was lost (or two overlapping ticks): duplicates, no new run."""
    hotel = make_hotel(api)
    owner.track("AF", hotel.tenant_id)
    schedule = new_schedule(api, hotel)
    clock.set(datetime(2026, 11, 26, 1, 31, tzinfo=UTC))
    first = tick(clock.now(), api.deps)
    assert first.requested >= 2
    execute(owner("AF"), "UPDATE reporting.schedules SET next_fire_at = :at WHERE schedule_id = :s::uuid",
            {"at": schedule.next_fire_at, "s": schedule.schedule_id})
    owner("AF").commit()
    replay = tick(clock.now(), api.deps)
    assert replay.requested == 0 and replay.duplicates == 2 and replay.advanced == 1
    assert len(scheduled_runs(owner, hotel.tenant_id)) == 2


def test_a_locked_tenant_is_paused_and_caught_up_when_unlocked(api, make_hotel, owner, clock):
    hotel = make_hotel(api)
    owner.track("AF", hotel.tenant_id)
    schedule = new_schedule(api, hotel)
    with api.uow(hotel.tenant_id) as uow:
        tenant = uow.tenants.get(hotel.tenant_id)
    sync_tenant(Tenant(**{**tenant.__dict__, "status": TenantStatus.LOCKED_READONLY}), api.deps)
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    tick(clock.now(), api.deps)
    assert scheduled_runs(owner, hotel.tenant_id) == []
    with api.uow(hotel.tenant_id) as uow:  # not advanced: nothing is lost
        assert uow.schedules.get(schedule.schedule_id).next_fire_at == schedule.next_fire_at
    sync_tenant(tenant, api.deps)  # unlocked
    tick(clock.now(), api.deps)
    assert [r["run_date"] for r in scheduled_runs(owner, hotel.tenant_id)] == [date(2026, 11, 24),
                                                                                date(2026, 11, 25)]


def test_a_schedule_pinned_to_an_archived_version_keeps_firing(api, make_hotel, owner, clock):
    from reporting.service_layer.commands import PublishTemplateVersion
    from reporting.service_layer.templates import publish_template_version

    hotel = make_hotel(api)
    owner.track("AF", hotel.tenant_id)
    dataset = next(t for t in platform_templates() if t.key == "daily_occupancy").dataset_sql
    version = publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key="archived_soon", name="Own", layout="<p>{{ rows|length }}</p>",
        dataset_sql=dataset, params_schema={"type": "object"}, published_by="admin"), api.deps)
    new_schedule(api, hotel, version=version.template_version_id)
    execute(owner("AF"), """UPDATE reporting.template_versions SET status = 'archived', archived_at = now()
                             WHERE template_version_id = :v::uuid""", {"v": version.template_version_id})
    owner("AF").commit()
    clock.set(datetime(2026, 11, 25, 1, 31, tzinfo=UTC))
    tick(clock.now(), api.deps)
    [run] = scheduled_runs(owner, hotel.tenant_id)
    assert str(run["template_version_id"]) == version.template_version_id


def test_the_tick_route_takes_only_the_allowed_scheduler_identity(api, make_hotel, idp, scheduler_idp):
    hotel = make_hotel(api)
    user = idp.provider.issue(hotel.tenant_id, ["admin"], audience=API_AUDIENCE)
    for bad in (user, scheduler_token(scheduler_idp, "someone-else@melmastoon-af.iam.gserviceaccount.com"),
                scheduler_idp.provider.issue_scheduler(SCHEDULER_EMAIL, "another-api")):
        status, body = call_tick(api, bad)
        assert (status, body["error"]["code"]) == (401, "MELMASTOON.IAM.AUTHN_REQUIRED")
    status, body = call_tick(api, scheduler_token(scheduler_idp), body={"limit": 0})
    assert status == 422
    status, body = call_tick(api, scheduler_token(scheduler_idp), body={"limit": 10})
    assert status == 200 and set(body) >= {"due", "requested", "duplicates", "skipped", "errors"}


def test_the_due_read_is_the_owners_audited_function_and_discloses_the_minimum(api, make_hotel, owner, clock):
    hotel = make_hotel(api)
    owner.track("AF", hotel.tenant_id)
    schedule = new_schedule(api, hotel)
    with api.uow(None) as uow:  # no tenant in scope: RLS hides every schedule from a plain SELECT
        assert fetch_one(uow.connection, "SELECT count(*) AS n FROM reporting.schedules")["n"] == 0
        due = fetch_all(uow.connection, "SELECT * FROM reporting.due_schedules(:now, 100000)",
                        {"now": schedule.next_fire_at})
        uow.commit()
    assert set(due[0]) == {"schedule_id", "tenant_id", "next_fire_at"}
    assert schedule.schedule_id in {str(d["schedule_id"]) for d in due}
    audited = fetch_one(owner("AF"), """SELECT row_count FROM reporting.cross_tenant_access_log
                                         WHERE function = 'due_schedules' ORDER BY access_id DESC LIMIT 1""")
    assert audited["row_count"] == len(due)
    with pytest.raises(Exception, match="permission denied"):
        with api.uow(hotel.tenant_id) as uow:
            execute(uow.connection, "DELETE FROM reporting.schedules")


def test_the_tick_logs_its_report_as_one_info_line(api, caplog):
    with caplog.at_level(logging.INFO, logger="reporting.service_layer.schedules"):
        report = tick(api.clock.now(), api.deps)
    [record] = [r for r in caplog.records if r.getMessage() == "scheduler tick"]
    assert record.levelno == logging.INFO and record.tick == report.as_dict()


def test_ten_thousand_due_schedules_in_one_tick(make_services, make_hotel, owner, clock):
    """Loose by design: no timing assertion, the elapsed time is printed (and logged by the tick)."""
    services = make_services(Residency.KSA)
    hotels = [make_hotel(services) for _ in range(10)]
    conn = owner("KSA")
    due_at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 06:00 Riyadh
    for hotel in hotels:
        owner.track("KSA", hotel.tenant_id)
        execute(conn, """
            INSERT INTO reporting.schedules (schedule_id, tenant_id, property_id, template_version_id, cron, timezone,
                                             params, formats, locale, enabled, next_fire_at, created_by)
            SELECT gen_random_uuid(), :t::uuid, :p::uuid, :v::uuid, '0 6 * * *', 'Asia/Riyadh', '{}', '{pdf}',
                   'en', true, :at, 'load-test'
              FROM generate_series(1, 1000)""", {"t": hotel.tenant_id, "p": hotel.property_id, "v": VERSION,
                                                 "at": due_at})
    conn.commit()
    clock.set(due_at + timedelta(minutes=1))

    started = time.perf_counter()
    report = tick(clock.now(), services.deps)
    elapsed = time.perf_counter() - started
    print(f"\n10k tick: {elapsed:.2f} s, {report.as_dict()}")

    ids = [h.tenant_id for h in hotels]
    assert report.due >= 10_000 and report.requested >= 10_000 and report.errors == 0
    counts = fetch_one(conn, """
        SELECT (SELECT count(*) FROM reporting.report_runs
                 WHERE tenant_id = ANY (CAST(:ids AS uuid[])) AND origin = 'schedule') AS runs,
               (SELECT count(DISTINCT idempotency_key) FROM reporting.report_runs
                 WHERE tenant_id = ANY (CAST(:ids AS uuid[]))) AS keys,
               (SELECT count(*) FROM reporting.outbox WHERE tenant_id = ANY (CAST(:ids AS uuid[]))) AS events,
               (SELECT count(*) FROM reporting.schedules
                 WHERE tenant_id = ANY (CAST(:ids AS uuid[])) AND next_fire_at = :next) AS advanced""",
        {"ids": ids, "next": due_at + timedelta(days=1)})
    assert counts == {"runs": 10_000, "keys": 10_000, "events": 10_000, "advanced": 10_000}
