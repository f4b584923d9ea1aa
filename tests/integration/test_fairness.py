"""Per-tenant fairness (issue 3 item 6): request rate across instances and ad-hoc runs in flight, with 429
MELMASTOON.REPORTING.RATE_LIMITED and Retry-After; scheduled and backfill runs are never refused."""
from __future__ import annotations

import threading
import types
import uuid
from datetime import timedelta

import pytest

from reporting.adapters.postgres.connection import fetch_all, fetch_one
from reporting.domain.errors import RateLimited
from reporting.domain.report_run import RunOrigin
from reporting.service_layer.commands import CancelReportRun, RequestReportRun
from reporting.service_layer.fairness import admit_request
from reporting.service_layer.report_runs import cancel_report_run, request_report_run
from tests.integration.test_api_runs import call, post_run, token

pytestmark = pytest.mark.integration
RUNS = "/api/v1/reports/runs"


def runs_of(services, tenant_id: str) -> int:
    with services.uow(tenant_id) as uow:
        return fetch_one(uow.connection, "SELECT count(*) AS n FROM reporting.report_runs")["n"]


def windows_of(services, tenant_id: str) -> list[dict]:
    with services.uow(tenant_id) as uow:
        return fetch_all(uow.connection, "SELECT bucket, window_start, hits FROM reporting.rate_limits "
                                         "ORDER BY bucket, window_start")


def user_run(hotel, key: str, **kw) -> RequestReportRun:
    return RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op@test",
                            template_key="daily_occupancy", idempotency_key=key, **kw)


# --- request rate ---------------------------------------------------------------------------------------------


@pytest.fixture
def limited_api(make_services, oidc_env):
    return make_services(env={**oidc_env, "REPORTING_RATE_LIMIT_PER_MINUTE": "3"})


def test_writes_beyond_the_rate_get_429_with_retry_after_and_nothing_written(limited_api, make_hotel, idp, clock):
    hotel = make_hotel(limited_api)
    clock.advance(seconds=15)  # 15 s into the minute: the window frees in 45 s
    for i in range(3):
        status, _, _ = post_run(limited_api, idp, hotel, key=f"k{i}")
        assert status == 202
    status, body, headers = post_run(limited_api, idp, hotel, key="k-over")
    assert status == 429
    assert body["error"]["code"] == "MELMASTOON.REPORTING.RATE_LIMITED"
    assert set(body["error"]) == {"code", "message", "details"}
    assert headers["Retry-After"] == "45" and body["error"]["details"]["retry_after_seconds"] == 45
    assert headers["Content-Type"] == "application/json" and "X-Correlation-Id" in headers
    assert runs_of(limited_api, hotel.tenant_id) == 3  # the refused request wrote no run


def test_another_tenant_is_unaffected_by_a_neighbours_burst(limited_api, make_hotel, idp):
    noisy, quiet = make_hotel(limited_api), make_hotel(limited_api)
    for i in range(4):
        post_run(limited_api, idp, noisy, key=f"k{i}")
    assert post_run(limited_api, idp, noisy, key="again")[0] == 429
    assert post_run(limited_api, idp, quiet, key="k0")[0] == 202


def test_the_limit_holds_across_instances(make_services, oidc_env, make_hotel, idp):
    """Two Services = two function instances with their own pools: they share the tenant's window."""
    env = {**oidc_env, "REPORTING_RATE_LIMIT_PER_MINUTE": "3"}
    one, two = make_services(env=env), make_services(env=env)
    hotel = make_hotel(one)
    assert [post_run(svc, idp, hotel, key=f"k{i}")[0] for i, svc in enumerate((one, two, one))] == [202] * 3
    assert post_run(two, idp, hotel, key="k3")[0] == 429


def test_the_next_window_admits_again_and_old_windows_are_dropped(limited_api, make_hotel, idp, clock):
    hotel = make_hotel(limited_api)
    for i in range(4):
        post_run(limited_api, idp, hotel, key=f"k{i}")
    assert post_run(limited_api, idp, hotel, key="k4")[0] == 429
    clock.advance(minutes=1)
    assert post_run(limited_api, idp, hotel, key="k4")[0] == 202
    [window] = windows_of(limited_api, hotel.tenant_id)  # the previous minute's row is gone
    assert (window["bucket"], window["hits"], window["window_start"]) == ("write", 1, clock.now())


def test_reads_have_their_own_larger_bucket(limited_api, make_hotel, idp):
    hotel = make_hotel(limited_api)
    _, run, _ = post_run(limited_api, idp, hotel, key="k0")
    for i in range(1, 4):
        post_run(limited_api, idp, hotel, key=f"k{i}")
    assert post_run(limited_api, idp, hotel, key="k9")[0] == 429
    viewer = token(idp, hotel, "viewer")
    # Writes exhausted, reads still served: 10x the write limit.
    statuses = [call(limited_api, "GET", f"{RUNS}/{run['run_id']}", token=viewer)[0] for _ in range(30)]
    assert statuses == [200] * 30
    status, body, headers = call(limited_api, "GET", f"{RUNS}/{run['run_id']}", token=viewer)
    assert status == 429 and body["error"]["details"]["scope"] == "read_requests" and "Retry-After" in headers


def test_flag_off_tenant_gets_403_not_429_and_leaves_no_window(limited_api, make_hotel, idp):
    hotel = make_hotel(limited_api, reporting_v1=False)
    statuses = {post_run(limited_api, idp, hotel, key=f"k{i}")[1]["error"]["code"] for i in range(5)}
    assert statuses == {"MELMASTOON.IAM.AUTHZ_DENIED"}
    assert windows_of(limited_api, hotel.tenant_id) == []


def test_unknown_tenant_is_refused_by_the_gate_without_a_window(limited_api, idp):
    stranger = types.SimpleNamespace(tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
    status, body, _ = post_run(limited_api, idp, stranger)
    assert status == 403 and body["error"]["code"] == "MELMASTOON.IAM.AUTHZ_DENIED"


def test_admit_request_counts_writes_and_reads_apart(limited_api, make_hotel):
    hotel = make_hotel(limited_api)
    for _ in range(3):
        admit_request(hotel.tenant_id, "DELETE", limited_api.deps)
    with pytest.raises(RateLimited):
        admit_request(hotel.tenant_id, "PATCH", limited_api.deps)
    admit_request(hotel.tenant_id, "GET", limited_api.deps)
    assert {(w["bucket"], w["hits"]) for w in windows_of(limited_api, hotel.tenant_id)} == {("write", 3),
                                                                                             ("read", 1)}


# --- runs in flight -------------------------------------------------------------------------------------------


@pytest.fixture
def capped(make_services, oidc_env):
    return make_services(env={**oidc_env, "REPORTING_MAX_RUNS_IN_FLIGHT": "2"})


def test_a_user_run_beyond_the_in_flight_cap_is_refused_with_retry_after(capped, make_hotel):
    hotel = make_hotel(capped)
    request_report_run(user_run(hotel, "a"), capped.deps)
    request_report_run(user_run(hotel, "b"), capped.deps)
    with pytest.raises(RateLimited) as refused:
        request_report_run(user_run(hotel, "c"), capped.deps)
    assert refused.value.http_status == 429 and refused.value.retry_after_seconds == 30
    assert refused.value.details["scope"] == "runs_in_flight"
    assert runs_of(capped, hotel.tenant_id) == 2


def test_an_idempotent_replay_at_the_cap_is_not_refused(capped, make_hotel):
    hotel = make_hotel(capped)
    first = request_report_run(user_run(hotel, "a"), capped.deps)
    request_report_run(user_run(hotel, "b"), capped.deps)
    again = request_report_run(user_run(hotel, "a"), capped.deps)
    assert not again.created and again.run.run_id == first.run.run_id


def test_scheduled_and_backfill_runs_are_never_refused_nor_counted(capped, make_hotel, clock):
    hotel = make_hotel(capped)
    request_report_run(user_run(hotel, "a"), capped.deps)
    request_report_run(user_run(hotel, "b"), capped.deps)
    for i in range(3):
        scheduled = request_report_run(RequestReportRun(
            tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="scheduler",
            template_key="daily_occupancy", origin=RunOrigin.SCHEDULE, schedule_id=str(uuid.uuid4()),
            scheduled_at=clock.now()), capped.deps)
        assert scheduled.created
    backfill = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="backfill",
        template_key="daily_occupancy", origin=RunOrigin.BACKFILL, run_date=hotel.yesterday - timedelta(days=3)),
        capped.deps)
    assert backfill.created and runs_of(capped, hotel.tenant_id) == 6
    with pytest.raises(RateLimited):
        request_report_run(user_run(hotel, "c"), capped.deps)


def test_concurrent_requests_cannot_overshoot_the_cap(capped, make_hotel):
    hotel = make_hotel(capped)
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def request(key: str) -> None:
        start.wait()
        try:
            request_report_run(user_run(hotel, key), capped.deps)
            outcomes.append("created")
        except RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=request, args=(f"k{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 4
    assert runs_of(capped, hotel.tenant_id) == 2


def test_a_finished_run_frees_a_slot(capped, make_hotel):
    hotel = make_hotel(capped)
    first = request_report_run(user_run(hotel, "a"), capped.deps).run
    request_report_run(user_run(hotel, "b"), capped.deps)
    cancel_report_run(CancelReportRun(tenant_id=hotel.tenant_id, run_id=first.run_id, cancelled_by="op"),
                      capped.deps)
    assert request_report_run(user_run(hotel, "c"), capped.deps).created


def test_the_cap_is_per_tenant(capped, make_hotel):
    busy, other = make_hotel(capped), make_hotel(capped)
    for key in ("a", "b"):
        request_report_run(user_run(busy, key), capped.deps)
    assert request_report_run(user_run(other, "a"), capped.deps).created


def test_over_http_the_cap_answers_429_with_retry_after(capped, make_hotel, idp):
    hotel = make_hotel(capped)
    assert [post_run(capped, idp, hotel, key=k)[0] for k in ("a", "b")] == [202, 202]
    status, body, headers = post_run(capped, idp, hotel, key="c")
    assert (status, headers["Retry-After"]) == (429, "30")
    assert body["error"]["code"] == "MELMASTOON.REPORTING.RATE_LIMITED"
    assert post_run(capped, idp, hotel, key="a")[0] == 200  # the replay answers with its run
