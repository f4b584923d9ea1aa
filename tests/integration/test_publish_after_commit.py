"""The unit of work hands committed event ids to the relay after COMMIT: never on rollback, and a
failing publish never fails the committed change."""
from __future__ import annotations

import pytest

from reporting.adapters.postgres.unit_of_work import PostgresUnitOfWork
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from tests.integration.helpers import outbox


def uow_with(services, hotel, hook):
    return lambda tenant_id, **kw: PostgresUnitOfWork(services.pool, tenant_id, services.settings.residency,
                                                      services.clock, after_commit=hook, **kw)


def request(services, hotel, key):
    return request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                               requested_by="op", idempotency_key=key,
                                               template_key="daily_occupancy"), services.deps)


def test_the_hook_gets_exactly_the_committed_event_ids(services, make_hotel, monkeypatch):
    hotel = make_hotel(services)
    calls: list[list[str]] = []
    monkeypatch.setattr(services.deps, "uow", uow_with(services, hotel, calls.append))
    run = request(services, hotel, "a").run
    [row] = outbox(services, hotel.tenant_id, "report_run.requested.v1")
    assert calls == [[row["envelope"]["event_id"]]] and row["envelope"]["data"]["run_id"] == run.run_id
    request(services, hotel, "a")  # idempotent replay: nothing committed, nothing published
    assert len(calls) == 1


def test_a_rolled_back_unit_of_work_publishes_nothing(services, make_hotel):
    hotel = make_hotel(services)
    run = request(services, hotel, "r").run
    calls: list[list[str]] = []
    uow = uow_with(services, hotel, calls.append)(hotel.tenant_id)
    with pytest.raises(RuntimeError):
        with uow:
            tracked = uow.runs.get(run.run_id, for_update=True)
            tracked.cancel(services.clock.now(), "x")  # records report_run.cancelled.v1 on the aggregate
            uow.runs.save(tracked, expected_state=run.state)
            raise RuntimeError("use case failed before commit")
    assert calls == [] and outbox(services, hotel.tenant_id, "report_run.cancelled.v1") == []


def test_a_failing_publish_never_fails_the_committed_change(services, make_hotel, monkeypatch):
    hotel = make_hotel(services)

    def broker_down(ids):
        raise ConnectionError("pubsub unreachable")

    monkeypatch.setattr(services.deps, "uow", uow_with(services, hotel, broker_down))
    outcome = request(services, hotel, "b")  # no exception reaches the caller
    assert outcome.created
    [row] = outbox(services, hotel.tenant_id, "report_run.requested.v1")
    assert row["published_at"] is None  # the sweeper's job now
