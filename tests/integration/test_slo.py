"""Per-tenant SLO (SPEC §3, issue 3 item 9): share of runs succeeded by their due time over a window, the late
ones, the met flag, tenant isolation, the admin role, and the metric log line."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from reporting.domain.report_run import RunOrigin
from reporting.service_layer.commands import RequestReportRun, RerenderReportRun
from reporting.service_layer.report_runs import request_report_run, rerender_report_run
from reporting.service_layer.slo import SloWindow, tenant_slo
from tests.integration.test_api_runs import call, token

pytestmark = pytest.mark.integration
SLO = "/api/v1/reports/slo"
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


def request(services, hotel, clock, key: str, *, minute: int = 0, **kw) -> str:
    clock.set(at(minute))
    cmd = RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op@test",
                           template_key="daily_occupancy", idempotency_key=key, **kw)
    return request_report_run(cmd, services.deps).run.run_id


def move(services, hotel, run_id: str, to: str, minute: int) -> None:
    """Drive a run through its domain transitions at a given time (what render and cancel do)."""
    with services.uow(hotel.tenant_id) as uow:
        run = uow.runs.get(run_id, for_update=True)
        before = run.state
        if to == "rendering" or (to in ("succeeded", "failed") and before == "requested"):
            run.start_rendering(at(minute))
        if to == "succeeded":
            run.succeed(at(minute), [])
        elif to == "failed":
            run.fail(at(minute), "MELMASTOON.REPORTING.RENDER_FAILED", "boom")
        elif to == "cancelled":
            run.cancel(at(minute), "cancelled by operator")
        uow.runs.save(run, expected_state=before)
        uow.commit()


@pytest.fixture
def history(api, make_hotel, clock):
    """One tenant's morning, looked at from 07:00 (ad-hoc runs are due 15 min after request, scheduled 30)."""
    hotel = make_hotel(api)
    runs = {name: request(api, hotel, clock, name) for name in ("on_time", "late_success", "failed", "stuck",
                                                                  "cancelled_early", "cancelled_late", "redone")}
    move(api, hotel, runs["on_time"], "succeeded", 5)
    move(api, hotel, runs["late_success"], "succeeded", 20)
    move(api, hotel, runs["failed"], "failed", 10)
    move(api, hotel, runs["stuck"], "rendering", 1)  # still rendering at 07:00, due 06:15
    move(api, hotel, runs["cancelled_early"], "cancelled", 3)  # the operator withdrew it before it was due
    move(api, hotel, runs["cancelled_late"], "cancelled", 30)  # already late when cancelled
    move(api, hotel, runs["redone"], "succeeded", 4)
    clock.set(at(40))  # re-render: the old run is superseded (it was on time), the new one is due 06:55
    runs["rerender"] = rerender_report_run(RerenderReportRun(tenant_id=hotel.tenant_id, run_id=runs["redone"],
                                                             requested_by="op@test", idempotency_key="re"),
                                           api.deps).run.run_id
    move(api, hotel, runs["rerender"], "succeeded", 50)
    clock.set(T0)
    runs["scheduled"] = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="scheduler",
        template_key="daily_occupancy", origin=RunOrigin.SCHEDULE, schedule_id=str(uuid.uuid4()),
        scheduled_at=T0), api.deps).run.run_id
    move(api, hotel, runs["scheduled"], "succeeded", 25)  # due 06:30
    runs["backfill"] = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="backfill",
        template_key="daily_occupancy", origin=RunOrigin.BACKFILL, run_date=hotel.yesterday - timedelta(days=5)),
        api.deps).run.run_id  # never rendered, but backfills are not on the SLO
    runs["not_yet_due"] = request(api, hotel, clock, "not_yet_due", minute=50)  # due 07:05
    clock.set(at(60))
    return hotel, runs


LATE = {"late_success", "failed", "stuck", "cancelled_late"}


def test_ratio_late_list_and_met(api, history, idp):
    hotel, runs = history
    status, body, _ = call(api, "GET", SLO, token=token(idp, hotel, "admin"))
    assert status == 200
    assert body["tenant_id"] == hotel.tenant_id
    assert body["window"] == {"from": "2026-11-11", "to": "2026-11-24", "timezone": "UTC",
                              "as_of": at(60).isoformat()}
    # due and past: on_time, redone (superseded, was on time), rerender, scheduled + the four late ones
    assert (body["runs_due"], body["succeeded_on_time"]) == (8, 4)
    assert body["ratio"] == 0.5 and body["target"] == 0.99 and body["met"] is False
    late = {item["run_id"]: item for item in body["late"]}
    assert set(late) == {runs[name] for name in LATE}
    stuck, late_success = late[runs["stuck"]], late[runs["late_success"]]
    assert (stuck["state"], stuck["finished_at"], stuck["origin"]) == ("rendering", None, "user")
    assert stuck["due_by"] == at(15).isoformat()
    assert (late_success["state"], late_success["finished_at"]) == ("succeeded", at(20).isoformat())
    assert late[runs["failed"]]["state"] == "failed" and late[runs["cancelled_late"]]["state"] == "cancelled"
    assert all(item["template_version_id"] and item["property_id"] == hotel.property_id for item in body["late"])


def test_met_follows_the_configured_target(make_services, oidc_env, history, idp):
    hotel, _ = history
    lenient = make_services(env={**oidc_env, "REPORTING_SLO_TARGET": "0.5"})
    _, body, _ = call(lenient, "GET", SLO, token=token(idp, hotel, "admin"))
    assert (body["ratio"], body["target"], body["met"]) == (0.5, 0.5, True)


def test_a_window_with_nothing_due_is_met_with_no_ratio(api, history, idp):
    hotel, _ = history
    status, body, _ = call(api, "GET", f"{SLO}?from=2026-11-20&to=2026-11-23", token=token(idp, hotel, "admin"))
    assert status == 200 and (body["runs_due"], body["ratio"], body["met"], body["late"]) == (0, None, True, [])
    assert body["window"]["from"] == "2026-11-20" and body["window"]["to"] == "2026-11-23"


def test_tenants_see_only_their_own_runs(api, history, make_hotel, clock, idp):
    hotel, _ = history
    other = make_hotel(api)
    failed = request(api, other, clock, "x")
    move(api, other, failed, "failed", 2)
    clock.set(at(60))
    _, mine, _ = call(api, "GET", SLO, token=token(idp, hotel, "admin"))
    _, theirs, _ = call(api, "GET", SLO, token=token(idp, other, "admin"))
    assert (mine["runs_due"], mine["succeeded_on_time"]) == (8, 4)
    assert (theirs["runs_due"], theirs["succeeded_on_time"], theirs["ratio"]) == (1, 0, 0.0)
    assert [item["run_id"] for item in theirs["late"]] == [failed]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_may_read_the_slo(api, make_hotel, idp, role):
    hotel = make_hotel(api)
    status, body, _ = call(api, "GET", SLO, token=token(idp, hotel, role))
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"


def test_a_flag_off_tenant_is_refused(api, make_hotel, idp):
    hotel = make_hotel(api, reporting_v1=False)
    status, body, _ = call(api, "GET", SLO, token=token(idp, hotel, "admin"))
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"


@pytest.mark.parametrize("query", ["from=2026-11-24&to=2026-11-01", "from=2026-08-01&to=2026-11-24",
                                   "from=yesterday", "window=7"])
def test_bad_windows_are_400(api, make_hotel, idp, query):
    hotel = make_hotel(api)
    status, body, _ = call(api, "GET", f"{SLO}?{query}", token=token(idp, hotel, "admin"))
    assert status == 400 and body["error"]["code"] == "MELMASTOON.REPORTING.VALIDATION_FAILED"


def test_ninety_days_is_the_longest_window(api, make_hotel, idp):
    hotel = make_hotel(api)
    status, body, _ = call(api, "GET", f"{SLO}?from=2026-08-27&to=2026-11-24", token=token(idp, hotel, "admin"))
    assert status == 200 and body["window"]["from"] == "2026-08-27"


def test_a_hotel_limited_admin_sees_only_their_hotels(api, history, idp):
    hotel, _ = history
    _, body, _ = call(api, "GET", SLO, token=token(idp, hotel, "admin", property_ids=[str(uuid.uuid4())]))
    assert body["runs_due"] == 0 and body["late"] == [] and len(body["property_ids"]) == 1
    _, body, _ = call(api, "GET", SLO, token=token(idp, hotel, "admin", property_ids=[hotel.property_id]))
    assert (body["runs_due"], body["succeeded_on_time"]) == (8, 4)


def test_the_late_list_is_bounded_newest_first(api, history):
    hotel, runs = history
    report = tenant_slo(hotel.tenant_id, SloWindow.choose(None, None, at(60).date()), api.deps,
                        api.service_level, late_limit=2)
    assert report.runs_due == 8 and len(report.late) == 2
    assert [r.due_by for r in report.late] == sorted((r.due_by for r in report.late), reverse=True)
    assert {r.run_id for r in report.late} <= {runs[name] for name in LATE}


def test_the_figure_is_logged_as_one_metric_line(api, history, idp, caplog):
    hotel, _ = history
    with caplog.at_level(logging.INFO, logger="reporting.service_layer.slo"):
        call(api, "GET", SLO, token=token(idp, hotel, "admin"))
    [line] = [r for r in caplog.records if getattr(r, "metric", None) == "reporting_slo"]
    assert line.levelno == logging.INFO
    assert (line.tenant_id, line.ratio, line.window) == (hotel.tenant_id, 0.5, "2026-11-11/2026-11-24")
    assert (line.runs_due, line.succeeded_on_time, line.met) == (8, 4, False)


def test_default_window_is_the_last_fourteen_days():
    window = SloWindow.choose(None, None, datetime(2026, 11, 24).date())
    assert (window.first.isoformat(), window.last.isoformat()) == ("2026-11-11", "2026-11-24")
    assert window.end - window.start == timedelta(days=14)
